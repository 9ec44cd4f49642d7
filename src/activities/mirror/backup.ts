import { ApplicationFailure } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { MirrorComponent } from '../../config/stacks/mirror.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { mergeEntries, mirrorFigures, planMirror, storePrefixOf, type MirrorCopy, type MirrorEntry, type MirrorSourceObject } from '../../core/mirror.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { hashStored, putHashed } from '../store/hashing.js';
import { artifactView, withStore } from '../store/open.js';
import { StoreObjectMissing, type ArtifactStore } from '../store/types.js';
import { checkpointKeyOf, entryListBody, MirrorEntryListUnreadable, readCheckpoint, readEntryList, writeCheckpoint } from './entries.js';
import { forEachLimited } from '../runtime/pool.js';
import { withMirrorSource, type MirrorSource } from './source.js';

export interface MirrorBucketRequest {
  component: MirrorComponent;
  store: StoreConfig;
  /** Where the entry list goes, e.g. mirrorKeys.entries(stack, backupId, name). */
  key: string;
  /** Where this backup's copies go, ending in "/", e.g. mirrorKeys.objectsPrefix(stack, backupId, name). */
  objectsPrefix: string;
  /** The previous backup's entry list (its manifest's mirror artifact `key`); absent: copy everything. */
  previousKey?: string;
  /** Objects copied at once (each streams with bounded memory); default 4. */
  concurrency?: number;
}

/** What the manifest records of a mirror: `key`, `size` and `sha256` are the entry list's. */
export interface MirrorArtifact {
  component: 'mirror';
  name: string;
  key: string;
  size: number;
  sha256: string;
  bucket: string;
  prefix: string;
  objects: number;
  copied: number;
  referenced: number;
  bytesCopied: number;
  bytesReferenced: number;
  /** The previous backup's entry list this one was planned against, if any. */
  previousKey?: string;
  /** Why the previous list could not be used (then every object was copied). */
  previousUnusable?: string;
  /** Objects a retried attempt found already copied by an earlier one. */
  resumed: number;
  durationMs: number;
}

/** Heartbeat details: how far the copy is; a retry resumes from the store's checkpoint and objects. */
export interface MirrorProgress {
  listed: number;
  objects: number;
  toCopy: number;
  copied: number;
  bytesCopied: number;
  checkpointed: number;
  resumed: number;
}

/** Where this backup stores a version of an object: fixed by key, ETag and size, so a retry finds it. */
export function storedAtFor(objectsPrefix: string) {
  return (object: MirrorSourceObject) =>
    `${objectsPrefix}${createHash('sha256').update(`${object.key}\0${object.etag}\0${object.size}`).digest('hex')}`;
}

const CHECKPOINT_EVERY_MS = 10_000;

async function listAll<T>(items: AsyncIterable<T>, onItem?: (count: number) => void): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) {
    all.push(item);
    onItem?.(all.length);
  }
  return all;
}

/** Store keys that exist under each prefix the previous entries point into: a list per prefix, no HEAD per object. */
async function storedKeysUnder(store: ArtifactStore, prefixes: Iterable<string>): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const prefix of new Set(prefixes)) {
    for await (const object of store.list(prefix)) sizes.set(object.key, object.size);
  }
  return sizes;
}

async function previousEntries(store: ArtifactStore, component: MirrorComponent, previousKey: string | undefined, signal: AbortSignal): Promise<{ entries: MirrorEntry[]; unusable?: string }> {
  if (!previousKey) return { entries: [] };
  try {
    const list = await readEntryList(store, previousKey, signal);
    // Same key and ETag in another bucket is not the same object.
    if (list.bucket !== component.bucket || list.prefix !== component.prefix) {
      return { entries: [], unusable: `${previousKey} mirrors s3://${list.bucket}/${list.prefix}, not s3://${component.bucket}/${component.prefix}` };
    }
    return { entries: list.entries };
  } catch (error) {
    // Copying everything again is always safe; only slower.
    if (error instanceof StoreObjectMissing || error instanceof MirrorEntryListUnreadable) return { entries: [], unusable: error.message };
    throw error;
  }
}

/** One object from the source into the store, as listed or — changed since — as it is now; undefined if gone. */
async function copyOne(source: MirrorSource, store: ArtifactStore, planned: MirrorCopy, storedAtOf: (object: MirrorSourceObject) => string, signal: AbortSignal): Promise<MirrorEntry | undefined> {
  const { bucket, prefix } = source.component;
  let current: MirrorCopy = planned;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const got = await source.get(bucket, prefix + current.key, current.etag || undefined, signal);
    if (got === 'gone') return undefined;
    if (got === 'changed') {
      const now = await source.head(bucket, prefix + current.key, signal);
      if (!now) return undefined;
      const version = { key: current.key, size: now.size, etag: now.etag };
      current = { ...version, storedAt: storedAtOf(version) };
      continue;
    }
    const stored = await putHashed(store, current.storedAt, got.body, { signal, contentType: 'application/octet-stream' });
    if (stored.size !== current.size) {
      await store.delete(current.storedAt).catch(() => undefined);
      throw new Error(`mirror ${source.component.name}: s3://${bucket}/${prefix}${current.key} gave ${stored.size} bytes, listed as ${current.size}; the object changed while it was read, retry`);
    }
    return { key: current.key, size: current.size, etag: current.etag, sha256: stored.sha256, storedAt: current.storedAt };
  }
  throw new Error(`mirror ${source.component.name}: s3://${bucket}/${prefix}${current.key} kept changing while it was read; retry later`);
}

export function createMirrorBackupActivities() {
  return {
    /**
     * One mirror backup: list the source, plan against the previous backup's entries (an object
     * with the same ETag and size is referenced where its bytes already are), stream each
     * object to copy through SHA-256 into the store (4 at a time), then write the entry list.
     * A retry keeps what an earlier attempt copied: a checkpoint of copied entries, written
     * every 10 s, and the objects under `objectsPrefix` (re-hashed from the store if they
     * were copied after the last checkpoint).
     */
    async mirrorBucket(request: MirrorBucketRequest): Promise<MirrorArtifact> {
      const { component, key, objectsPrefix, previousKey } = request;
      if (!objectsPrefix.endsWith('/') || key.startsWith(objectsPrefix) || (previousKey !== undefined && previousKey === key)) {
        throw ApplicationFailure.nonRetryable(
          `mirrorBucket ${component.name}: objectsPrefix must end in "/" and hold neither the entry list nor the previous one (key ${key}, objectsPrefix ${objectsPrefix})`,
          'InvalidInput',
        );
      }
      const progress = new ProgressHeartbeat(`mirror ${component.name}`);
      const signal = progress.signal;
      setMaxListeners(64, signal); // every concurrent request listens to it
      const storedAtOf = storedAtFor(objectsPrefix);
      const state: MirrorProgress = { listed: 0, objects: 0, toCopy: 0, copied: 0, bytesCopied: 0, checkpointed: 0, resumed: 0 };
      const beat = () => progress.beat({ ...state, bytes: state.bytesCopied });

      // The entry list and checkpoints are an index, plaintext like the manifest; the objects are content, encrypted when the store asks.
      return progress.during(withStore(request.store, async (store) => {
        const objects = await artifactView(store, request.store);
        return withMirrorSource(component, async (source) => {
          progress.phase('listing source');
          const listed = await listAll(source.list(component.bucket, component.prefix, signal), (count) => {
            state.listed = count;
            beat();
          });
          const previous = await previousEntries(store, component, previousKey, signal);
          const available = await storedKeysUnder(store, previous.entries.map((entry) => storePrefixOf(entry.storedAt)));
          const plan = planMirror(listed, previous.entries, storedAtOf, (storedAt) => available.has(storedAt));

          // What an earlier attempt of this backup already copied.
          const recorded = new Map((await readCheckpoint(store, key, signal)).map((entry) => [entry.storedAt, entry]));
          const own = await storedKeysUnder(store, [objectsPrefix]);
          const copied: MirrorEntry[] = [];
          const toCopy: MirrorCopy[] = [];
          progress.phase('checking earlier attempts');
          for (const planned of plan.copy) {
            if (own.get(planned.storedAt) !== planned.size) {
              toCopy.push(planned);
              continue;
            }
            const earlier = recorded.get(planned.storedAt);
            const sha256 = earlier && earlier.key === planned.key && earlier.etag === planned.etag ? earlier.sha256 : (await hashStored(objects, planned.storedAt, { signal })).sha256;
            copied.push({ key: planned.key, size: planned.size, etag: planned.etag, sha256, storedAt: planned.storedAt });
            state.resumed += 1;
            beat();
          }
          state.toCopy = toCopy.length;
          state.copied = copied.length;
          state.objects = copied.length + plan.reference.length;
          progress.phase('copying objects');
          // What an interrupted attempt left half-written (large objects' multipart uploads): one sweep, not one call per object.
          for (const upload of await store.listUnfinishedUploads(objectsPrefix)) await store.abortUpload(upload).catch(() => undefined);

          let checkpointing: Promise<void> | undefined;
          let lastCheckpointAt = Date.now();
          const checkpoint = () => {
            if (checkpointing || copied.length === state.checkpointed || Date.now() - lastCheckpointAt < CHECKPOINT_EVERY_MS) return;
            const snapshot = copied.slice();
            checkpointing = writeCheckpoint(store, key, snapshot, signal)
              .then(() => void (state.checkpointed = snapshot.length))
              .catch(() => undefined) // best effort: a retry re-hashes what the checkpoint misses
              .finally(() => {
                lastCheckpointAt = Date.now();
                checkpointing = undefined;
              });
          };
          const copyAll = (list: MirrorCopy[]) => forEachLimited(list, request.concurrency ?? 4, async (planned) => {
            const entry = await copyOne(source, objects, planned, storedAtOf, signal);
            if (entry) {
              copied.push(entry);
              state.copied += 1;
              state.objects += 1;
              state.bytesCopied += entry.size;
            }
            beat();
            checkpoint();
          }, signal);
          await copyAll(toCopy);

          // Bytes referenced from earlier backups must still be there when the list says so: one
          // pruned meanwhile (retention racing this run) has its objects copied after all.
          progress.phase('checking referenced bytes');
          const stillThere = await storedKeysUnder(store, plan.reference.map((entry) => storePrefixOf(entry.storedAt)));
          const vanished = plan.reference.filter((entry) => !stillThere.has(entry.storedAt));
          const referenced = vanished.length === 0 ? plan.reference : plan.reference.filter((entry) => stillThere.has(entry.storedAt));
          if (vanished.length > 0) {
            state.objects -= vanished.length;
            state.toCopy += vanished.length;
            progress.phase('copying objects whose referenced bytes vanished');
            await copyAll(vanished.map((entry) => {
              const version = { key: entry.key, size: entry.size, etag: entry.etag };
              return { ...version, storedAt: storedAtOf(version) };
            }));
          }
          await checkpointing;

          progress.phase('writing the entry list');
          const entries = mergeEntries(copied, referenced);
          await store.discardUnfinished(key);
          const body = entryListBody({ formatVersion: 1, component: 'mirror', name: component.name, bucket: component.bucket, prefix: component.prefix, entries });
          const stored = await putHashed(store, key, body, { signal, contentType: 'application/json' });
          await store.delete(checkpointKeyOf(key)).catch(() => undefined);
          const figures = mirrorFigures(entries, objectsPrefix);
          return {
            component: 'mirror' as const,
            name: component.name,
            key,
            size: stored.size,
            sha256: stored.sha256,
            bucket: component.bucket,
            prefix: component.prefix,
            ...figures,
            ...(previousKey ? { previousKey } : {}),
            ...(previous.unusable ? { previousUnusable: previous.unusable } : {}),
            resumed: state.resumed,
            durationMs: progress.elapsedMs(),
          };
        });
      }));
    },
  };
}
