import { setMaxListeners } from 'node:events';
import type { VerificationCheck } from '../../config/manifest.js';
import type { MirrorComponent } from '../../config/stacks/mirror.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { mirrorDrillPrefix, type MirrorEntry } from '../../core/mirror.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { artifactView, withStore } from '../store/open.js';
import { readEntryList } from './entries.js';
import { forEachLimited } from '../runtime/pool.js';
import { withMirrorSource, type MirrorSource } from './source.js';
import { putEntriesBack, readBackAndCompare } from './restore.js';

export interface MirrorDrillRequest {
  component: MirrorComponent;
  store: StoreConfig;
  /** The backup's entry list (its manifest's mirror artifact `key`). */
  key: string;
  /** This drill's run tag: the scratch prefix is `ragops_drill_<runTag>/`. */
  runTag: string;
  /** Where to restore, on the component's endpoint with its credentials; default its own bucket. */
  scratchBucket?: string;
  concurrency?: number;
}

/** A VerificationCheck of the mirror component (the manifest's check enum needs 'mirror'). */
export type MirrorCheck = Omit<VerificationCheck, 'component'> & { component: 'mirror' };

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
const some = (keys: string[]) => keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, … (${keys.length} in all)` : '');

/** Deletes every object under ragops' own scratch prefix; returns how many. */
async function cleanScratch(source: MirrorSource, bucket: string, prefix: string, concurrency: number, signal: AbortSignal): Promise<number> {
  const keys: string[] = [];
  for await (const object of source.listOwned(bucket, prefix, signal)) keys.push(object.key);
  await forEachLimited(keys, concurrency * 2, (key) => source.delete(bucket, key, signal), signal);
  return keys.length;
}

export function createMirrorDrillActivities() {
  return {
    /**
     * Restore drill of one mirror backup: every object of its entry list from the store into a
     * scratch prefix (`ragops_drill_<runTag>/`), then the scratch prefix is listed and each
     * object read back through SHA-256 and compared with its entry; the prefix is emptied
     * whatever happens. Bytes gone from the store or a differing list or checksum fail the
     * drill; an unreachable bucket or store throws (the workflow records it as inconclusive).
     */
    async drillMirror(request: MirrorDrillRequest): Promise<MirrorCheck[]> {
      const { component } = request;
      const progress = new ProgressHeartbeat(`restore drill mirror ${component.name}`);
      const signal = progress.signal;
      setMaxListeners(64, signal); // every concurrent request listens to it
      const concurrency = request.concurrency ?? 4;
      const bucket = request.scratchBucket ?? component.bucket;
      const prefix = mirrorDrillPrefix(request.runTag);
      const check = (name: string, passed: boolean, detail: string, figures: Record<string, unknown>, started: number, outcome?: MirrorCheck['outcome']): MirrorCheck => ({
        name, component: 'mirror', artifact: component.name, passed, outcome: outcome ?? (passed ? 'passed' : 'failed'), detail, figures, durationMs: Date.now() - started,
      });

      return progress.during(withStore(request.store, async (store) => {
        const objects = await artifactView(store, request.store);
        return withMirrorSource(component, async (source) => {
          const started = Date.now();
          const list = await readEntryList(store, request.key, signal);
          if (list.entries.length === 0) {
            return [check('restore (mirror)', false, 'the backup holds no objects: nothing to restore or compare', { objects: 0 }, started, 'inconclusive')];
          }
          const entries: MirrorEntry[] = list.entries;
          const state = { restored: 0, bytes: 0, verified: 0, of: entries.length };
          const beat = () => progress.beat({ ...state });
          progress.phase('cleaning the scratch prefix');
          await cleanScratch(source, bucket, prefix, concurrency, signal);
          try {
            // 1. From the store into the scratch prefix, hashing what the store gives back.
            progress.phase('restoring objects');
            const { goneFromStore, differsInStore, ...put } = await putEntriesBack(source, objects, entries, bucket, prefix, concurrency, { signal, beat: () => {
              state.restored += 1;
              beat();
            } });
            state.bytes = put.bytes;
            const restoreFigures = { objects: entries.length, restored: state.restored, bytes: state.bytes, goneFromStore: goneFromStore.length, differsInStore: differsInStore.length, scratch: `s3://${bucket}/${prefix}` };
            const restoreProblems = [
              goneFromStore.length > 0 ? `${plural(goneFromStore.length, 'object')} whose bytes are gone from the store (${some(goneFromStore)})` : '',
              differsInStore.length > 0 ? `${plural(differsInStore.length, 'object')} whose stored bytes differ from the entry's size or SHA-256 (${some(differsInStore)})` : '',
            ].filter(Boolean);
            const checks = [
              check('restore (mirror)', restoreProblems.length === 0,
                restoreProblems.length === 0 ? `restored ${plural(state.restored, 'object')} (${state.bytes} bytes) into s3://${bucket}/${prefix}` : restoreProblems.join('; '),
                restoreFigures, started),
            ];

            // 2. What the scratch prefix now holds, read back and hashed, against the entry list.
            const compareStarted = Date.now();
            progress.phase('comparing objects and checksums');
            const { comparison, found } = await readBackAndCompare(source, entries, bucket, prefix, concurrency, { signal, beat, onVerified: () => void (state.verified += 1) });
            const compareProblems = [
              comparison.missing.length > 0 ? `${plural(comparison.missing.length, 'object')} missing (${some(comparison.missing)})` : '',
              comparison.unexpected.length > 0 ? `${plural(comparison.unexpected.length, 'object')} not in the backup (${some(comparison.unexpected)})` : '',
              comparison.mismatched.length > 0 ? `${plural(comparison.mismatched.length, 'object')} with another size or SHA-256 (${some(comparison.mismatched)})` : '',
            ].filter(Boolean);
            checks.push(check('objects and checksums (mirror)', compareProblems.length === 0,
              compareProblems.length === 0 ? `all ${plural(comparison.matched, 'object')} restored with the manifest's keys, sizes and SHA-256` : compareProblems.join('; '),
              { expected: entries.length, found, matched: comparison.matched, missing: comparison.missing.length, unexpected: comparison.unexpected.length, mismatched: comparison.mismatched.length },
              compareStarted));
            return checks;
          } finally {
            progress.phase('cleaning the scratch prefix');
            // Also after a cancellation: its own deadline, not the activity's signal.
            const cleanup = AbortSignal.timeout(120_000);
            setMaxListeners(64, cleanup);
            await cleanScratch(source, bucket, prefix, concurrency, cleanup).catch(() => undefined);
          }
        });
      }));
    },
  };
}
