import { ApplicationFailure } from '@temporalio/activity';
import { setMaxListeners } from 'node:events';
import type { StoreConfig } from '../../config/stacks/index.js';
import { planMirrorPrune, type MirrorEntry } from '../../core/mirror.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { withStore } from '../store/open.js';
import { StoreObjectMissing, type ArtifactStore } from '../store/types.js';
import { MirrorEntryListUnreadable, readEntryList } from './entries.js';
import { forEachLimited } from '../runtime/pool.js';

export interface DeleteMirrorBytesRequest {
  store: StoreConfig;
  /** The mirror of the backup being pruned: its entry list and the prefix its copies went to. */
  pruned: { key: string; objectsPrefix: string };
  /** The entry lists of every kept backup's mirrors (all components, all plans sharing the store). */
  keptKeys: string[];
}

export interface DeletedMirrorBytes {
  deleted: number;
  bytesDeleted: number;
  /** Store objects left in place because a kept backup references them. */
  stillReferenced: number;
  /** Set when the pruned backup's own entry list could not be read: only its own prefix was swept. */
  prunedListUnusable?: string;
}

const DELETE_CONCURRENCY = 8;

/** Where a mirror byte delete reports: heartbeat details, and the activity's cancellation. */
export interface MirrorPruneProgress {
  beat(details: Record<string, unknown>): void;
  signal: AbortSignal;
}

/**
 * Retention's delete of one mirror's bytes: every object under the pruned backup's objects
 * prefix, and every object its entry list references elsewhere (bytes left behind by an
 * earlier prune for it), except those a kept backup's entry list references. Fail closed:
 * a kept list that cannot be read deletes nothing. Idempotent: a retry lists again. The
 * pruned backup's entry list itself is left to the caller (delete it after this).
 */
export async function deleteMirrorBytesIn(
  store: ArtifactStore,
  { pruned, keptKeys }: Omit<DeleteMirrorBytesRequest, 'store'>,
  progress: MirrorPruneProgress,
  options: { keptListsMayVanish?: boolean } = {},
): Promise<DeletedMirrorBytes> {
  const { signal } = progress;
  const kept: MirrorEntry[][] = [];
  for (const key of keptKeys) {
    try {
      kept.push((await readEntryList(store, key, signal)).entries);
    } catch (error) {
      // Listed a moment ago and gone now: its backup was deleted meanwhile (the same prune), so it references nothing.
      if (error instanceof StoreObjectMissing && options.keptListsMayVanish) continue;
      if (!(error instanceof StoreObjectMissing || error instanceof MirrorEntryListUnreadable)) throw error;
      throw ApplicationFailure.nonRetryable(
        `nothing deleted of ${pruned.key}: the kept backup's mirror entry list cannot be read (${error.message}), so which bytes it needs is unknown; restore that list or prune that backup first`,
        'MirrorReferencesUnreadable',
      );
    }
    progress.beat({ keptListsRead: kept.length, of: keptKeys.length });
  }

  let prunedEntries: MirrorEntry[] = [];
  let prunedListUnusable: string | undefined;
  try {
    prunedEntries = (await readEntryList(store, pruned.key, signal)).entries;
  } catch (error) {
    if (!(error instanceof StoreObjectMissing || error instanceof MirrorEntryListUnreadable)) throw error;
    prunedListUnusable = error.message;
  }
  const sizes = new Map<string, number>();
  for (const entry of prunedEntries) sizes.set(entry.storedAt, entry.size);
  for await (const object of store.list(pruned.objectsPrefix)) sizes.set(object.key, object.size);

  const plan = planMirrorPrune({ entries: prunedEntries, ownedKeys: sizes.keys() }, kept);
  const state = { deleted: 0, bytesDeleted: 0, of: plan.delete.length, stillReferenced: plan.stillReferenced.length };
  await forEachLimited(plan.delete, DELETE_CONCURRENCY, async (key) => {
    await store.delete(key);
    state.deleted += 1;
    state.bytesDeleted += sizes.get(key) ?? 0;
    progress.beat({ ...state });
  }, signal);
  return {
    deleted: state.deleted,
    bytesDeleted: state.bytesDeleted,
    stillReferenced: plan.stillReferenced.length,
    ...(prunedListUnusable ? { prunedListUnusable } : {}),
  };
}

export function createMirrorPruneActivities() {
  return {
    /** deleteMirrorBytesIn as an activity of its own. */
    async deleteMirrorBytes({ store: storeConfig, ...request }: DeleteMirrorBytesRequest): Promise<DeletedMirrorBytes> {
      const progress = new ProgressHeartbeat(`delete mirror bytes ${request.pruned.key}`);
      setMaxListeners(64, progress.signal); // every concurrent request listens to it
      return progress.during(withStore(storeConfig, (store) => deleteMirrorBytesIn(store, request, { beat: (details) => progress.beat(details), signal: progress.signal })));
    },
  };
}
