import { ApplicationFailure } from '@temporalio/activity';
import { setMaxListeners } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { MirrorComponent } from '../../config/stacks/mirror.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { compareMirrorRestore, MIRROR_DRILL_PREFIX, type MirrorEntry } from '../../core/mirror.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { HashingMeter } from '../store/hashing.js';
import { artifactView, withStore } from '../store/open.js';
import { StoreObjectMissing, type ArtifactStore } from '../store/types.js';
import { readEntryList } from './entries.js';
import { forEachLimited } from '../runtime/pool.js';
import { withMirrorSource, type MirrorSource } from './source.js';

// Putting a mirror backup's objects back into a bucket and prefix, then reading them back:
// one code path for the restore drill (a scratch prefix) and the restore (the mirror's own
// prefix, or a new one).

export interface PutBack {
  restored: number;
  bytes: number;
  /** Keys whose bytes are gone from the store: nothing put for them. */
  goneFromStore: string[];
  /** Keys whose stored bytes differ from the entry's size or SHA-256: nothing put for them (the upload is cut before it completes). */
  differsInStore: string[];
}

export interface ReadBack {
  comparison: ReturnType<typeof compareMirrorRestore>;
  /** Objects under the prefix (ragops' drill scratch prefixes left out). */
  found: number;
}

interface Progress {
  signal: AbortSignal;
  beat(): void;
}

/** Hashes what passes and, at its end, errors if the bytes are not the entry's: the upload never completes. */
class EntryMeter extends HashingMeter {
  sha256 = '';
  differs = false;

  constructor(private readonly entry: MirrorEntry) {
    super();
  }

  override _flush(callback: (error?: Error | null) => void): void {
    this.sha256 = this.hash.digest('hex');
    this.differs = this.bytes !== this.entry.size || this.sha256 !== this.entry.sha256;
    callback(this.differs ? new Error(`stored bytes of ${this.entry.key} differ from its entry (${this.bytes} bytes, sha256 ${this.sha256}; expected ${this.entry.size}, ${this.entry.sha256})`) : null);
  }
}

/** Every entry from the store to `bucket`/`prefix` + its key, `concurrency` at a time; only the backup's exact bytes are written. */
export async function putEntriesBack(source: MirrorSource, objects: ArtifactStore, entries: MirrorEntry[], bucket: string, prefix: string, concurrency: number, progress: Progress): Promise<PutBack> {
  const { signal } = progress;
  const result: PutBack = { restored: 0, bytes: 0, goneFromStore: [], differsInStore: [] };
  await forEachLimited(entries, concurrency, async (entry) => {
    let body;
    try {
      body = await objects.get(entry.storedAt, { signal });
    } catch (error) {
      if (!(error instanceof StoreObjectMissing)) throw error;
      result.goneFromStore.push(entry.key);
      return;
    }
    const meter = new EntryMeter(entry);
    body.on('error', (error) => meter.destroy(error));
    try {
      await source.put(bucket, prefix + entry.key, body.pipe(meter), signal);
    } catch (error) {
      if (!meter.differs) throw error;
      result.differsInStore.push(entry.key);
      return;
    }
    result.restored += 1;
    result.bytes += meter.bytes;
    progress.beat();
  }, signal);
  return result;
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream) {
    // hashed on the way
  }
}

/**
 * What `bucket`/`prefix` holds now against the entry list: each entry's object read back
 * through SHA-256; objects the backup does not hold are listed, not read (`unexpected`).
 */
export async function readBackAndCompare(source: MirrorSource, entries: MirrorEntry[], bucket: string, prefix: string, concurrency: number, progress: Progress & { onVerified?: () => void }): Promise<ReadBack> {
  const { signal } = progress;
  const wanted = new Set(entries.map((entry) => entry.key));
  const found: Array<{ key: string; size: number; sha256?: string }> = [];
  for await (const object of source.listOwned(bucket, prefix, signal)) {
    const key = object.key.slice(prefix.length);
    if (key.startsWith(MIRROR_DRILL_PREFIX)) continue;
    found.push({ key, size: object.size });
  }
  const restored: Array<{ key: string; size: number; sha256?: string }> = [];
  await forEachLimited(found, concurrency, async (object) => {
    if (!wanted.has(object.key)) {
      restored.push(object);
      return;
    }
    const got = await source.get(bucket, prefix + object.key, undefined, signal);
    if (typeof got === 'string') return; // gone since the listing: counted missing
    const meter = new HashingMeter();
    await pipeline(got.body, meter, drain, { signal });
    restored.push({ key: object.key, size: meter.bytes, sha256: meter.hash.digest('hex') });
    progress.onVerified?.();
    progress.beat();
  }, signal);
  return { comparison: compareMirrorRestore(entries, restored), found: found.length };
}

export interface MirrorRestoreRequest {
  /** The target: its bucket and prefix, on its endpoint with its credentials. */
  component: MirrorComponent;
  store: StoreConfig;
  /** The backup's entry list (its manifest's mirror artifact `key`). */
  key: string;
  concurrency?: number;
}

export interface MirrorRestoreResult {
  label: string;
  bucket: string;
  prefix: string;
  /** Objects in the backup, all put back and read back with their keys, sizes and SHA-256. */
  objects: number;
  bytes: number;
  /** Objects under the prefix the backup does not hold: left in place, not deleted. */
  notInBackup: number;
  detail: string;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
const some = (keys: string[]) => keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, … (${keys.length} in all)` : '');

export function createMirrorRestoreActivities() {
  return {
    /**
     * Restores one mirror backup: every object of its entry list from the store to the target
     * bucket and prefix, under its own key (the backup's exact bytes only: stored bytes that
     * differ are never written), then each read back through SHA-256 against its entry. Objects
     * the backup does not hold stay; they are counted. Idempotent: a retry puts them again.
     */
    async restoreMirror(request: MirrorRestoreRequest): Promise<MirrorRestoreResult> {
      const { component } = request;
      const where = `s3://${component.bucket}/${component.prefix}`;
      const progress = new ProgressHeartbeat(`restore mirror ${component.name} into ${where}`);
      const signal = progress.signal;
      setMaxListeners(64, signal);
      const concurrency = request.concurrency ?? 4;
      const state = { restored: 0, bytes: 0, verified: 0, of: 0 };
      const beat = () => progress.beat({ ...state });
      return progress.during(withStore(request.store, async (store) => {
        const objects = await artifactView(store, request.store);
        return withMirrorSource(component, async (source) => {
          const { entries } = await readEntryList(store, request.key, signal);
          state.of = entries.length;
          progress.phase('restoring objects');
          const put = await putEntriesBack(source, objects, entries, component.bucket, component.prefix, concurrency, { signal, beat: () => {
            state.restored += 1;
            beat();
          } });
          state.bytes = put.bytes;
          progress.phase('reading objects back');
          const { comparison } = await readBackAndCompare(source, entries, component.bucket, component.prefix, concurrency, { signal, beat, onVerified: () => void (state.verified += 1) });
          const problems = [
            put.goneFromStore.length > 0 ? `${plural(put.goneFromStore.length, 'object')} whose bytes are gone from the store (${some(put.goneFromStore)})` : '',
            put.differsInStore.length > 0 ? `${plural(put.differsInStore.length, 'object')} whose stored bytes differ from the backup's SHA-256, not written (${some(put.differsInStore)})` : '',
            comparison.missing.length > 0 ? `${plural(comparison.missing.length, 'object')} missing after the restore (${some(comparison.missing)})` : '',
            comparison.mismatched.length > 0 ? `${plural(comparison.mismatched.length, 'object')} read back with another size or SHA-256 (${some(comparison.mismatched)})` : '',
          ].filter(Boolean);
          if (problems.length > 0) {
            throw ApplicationFailure.nonRetryable(`mirror ${component.name} into ${where}: ${put.restored} of ${entries.length} objects put back; ${problems.join('; ')}`, 'MirrorRestoreIncomplete');
          }
          const left = comparison.unexpected.length;
          return {
            label: component.name,
            bucket: component.bucket,
            prefix: component.prefix,
            objects: entries.length,
            bytes: put.bytes,
            notInBackup: left,
            detail: `${plural(entries.length, 'object')} (${put.bytes} bytes) put back into ${where}, read back with the backup's keys, sizes and SHA-256${left > 0 ? `; ${plural(left, 'object')} the backup does not hold left in place, not deleted` : ''}`,
          };
        });
      }));
    },
  };
}
