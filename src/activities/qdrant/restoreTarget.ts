import { ApplicationFailure } from '@temporalio/activity';
import { PREVIOUS_COLLECTION_UNKNOWN } from '../../core/runNames.js';
import type { QdrantArtifact } from '../../config/manifest.js';
import { backupKeys } from '../../core/storeKeys.js';
import type { ProgressHeartbeat } from '../runtime/heartbeat.js';
import type { ArtifactStore } from '../store/types.js';
import { qdrantCall, type QdrantEndpoint, type QdrantSession } from './client.js';
import { comparePoints, countPoints } from './points.js';
import { recoverSnapshot, type RecoveryMethod } from './recovery.js';
import { snapshotIntoStore } from './snapshots.js';

/** Where a replaced collection's safety snapshot goes: beside the backup being restored. */
export const safetySnapshotKey = (stack: string, backupId: string, collection: string, runTag: string) =>
  `${backupKeys.prefix(stack, backupId)}safety/${collection}-${runTag}.snapshot`;

/** The collection an alias is switched to: the alias's name and this restore's run tag. */
export const aliasTargetName = (alias: string, runTag: string) => `${alias}_${runTag}`.slice(0, 255);

export interface RestoredCollection {
  /** The collection that now holds the snapshot (behind the alias, when the target was one). */
  collection: string;
  pointsCount: number;
  /** When the target was an alias: the collection it pointed at before, left in place. */
  alias?: { name: string; previousCollection: string };
  /** When an existing collection was recovered over: its snapshot, taken first. */
  safetySnapshotKey?: string;
}

export interface RestoreTargetRequest {
  session: QdrantSession;
  qdrant: QdrantEndpoint;
  store: ArtifactStore;
  artifact: QdrantArtifact;
  /** The target name: a new collection, an existing one, or an alias. */
  target: string;
  method: RecoveryMethod;
  /** The stack and backup restored from (the safety snapshot's prefix), and this run's tag. */
  backupStack: string;
  backupId: string;
  runTag: string;
  progress: ProgressHeartbeat;
}

/**
 * Recovers a snapshot onto its target so that what was there can come back: an alias is
 * switched, in one request, to a new collection recovered beside the old one (left in place);
 * an existing collection is snapshotted into the store before it is recovered over.
 * Retries are safe: a switched alias is not recovered again, a stored safety snapshot is
 * not retaken (the collection may already be half overwritten).
 */
export async function restoreOntoTarget(request: RestoreTargetRequest): Promise<RestoredCollection> {
  const { session, qdrant, store, artifact, target, method, progress } = request;
  const { aliases } = await qdrantCall('listing aliases', qdrant, () => session.client.getAliases());
  const alias = aliases.find((candidate) => candidate.alias_name === target);
  if (alias) {
    const fresh = aliasTargetName(target, request.runTag);
    if (alias.collection_name !== fresh) {
      progress.phase('recovering snapshot');
      await recoverSnapshot(session, qdrant, store, artifact, fresh, method, progress);
      const pointsCount = await checkCount(request, fresh);
      progress.phase('switching alias');
      await qdrantCall(`switching alias "${target}" to "${fresh}"`, qdrant, () =>
        session.client.updateCollectionAliases({
          actions: [{ delete_alias: { alias_name: target } }, { create_alias: { alias_name: target, collection_name: fresh } }],
        }),
      );
      return { collection: fresh, pointsCount, alias: { name: target, previousCollection: alias.collection_name } };
    }
    // An earlier attempt switched it already; what it pointed at before is not known any more.
    return { collection: fresh, pointsCount: await checkCount(request, fresh), alias: { name: target, previousCollection: PREVIOUS_COLLECTION_UNKNOWN } };
  }

  let safety: string | undefined;
  const { exists } = await qdrantCall(`checking "${target}"`, qdrant, () => session.client.collectionExists(target));
  if (exists) {
    safety = safetySnapshotKey(request.backupStack, request.backupId, target, request.runTag);
    if (!(await store.exists(safety))) await snapshotIntoStore(session, qdrant, target, store, safety, progress);
  }
  try {
    progress.phase('recovering snapshot');
    await recoverSnapshot(session, qdrant, store, artifact, target, method, progress);
    return { collection: target, pointsCount: await checkCount(request, target), ...(safety ? { safetySnapshotKey: safety } : {}) };
  } catch (error) {
    throw safety ? namingSafetySnapshot(error, target, safety) : error;
  }
}

/** The same failure (type and retryability kept), saying where the collection as it was is saved. */
function namingSafetySnapshot(error: unknown, collection: string, key: string): Error {
  const message = `${error instanceof Error ? error.message : String(error)} — "${collection}" as it was before this restore is saved in the store as ${key}`;
  if (error instanceof ApplicationFailure) {
    return ApplicationFailure.create({ message, type: error.type ?? undefined, nonRetryable: error.nonRetryable ?? undefined, details: error.details as unknown[] | undefined });
  }
  return new Error(message);
}

async function checkCount(request: RestoreTargetRequest, collection: string): Promise<number> {
  request.progress.phase('counting points');
  const points = await request.progress.during(countPoints(request.session, request.qdrant, collection));
  const count = comparePoints(request.artifact, points);
  if (!count.passed) throw ApplicationFailure.nonRetryable(`restored collection "${collection}": ${count.detail}`, 'RestoreFailed');
  return points;
}
