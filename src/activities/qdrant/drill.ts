import { ApplicationFailure } from '@temporalio/activity';
import type { QdrantArtifact, VerificationCheck } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { withArtifactStore } from '../store/open.js';
import { openQdrant, type QdrantEndpoint } from './client.js';
import { deleteOwnedCollection } from './collections.js';
import { comparePoints, countPoints, qdrantCheck, samplePointsFindThemselves } from './points.js';
import { recoverSnapshot, type RecoveryMethod } from './recovery.js';
import { restoreOntoTarget, type RestoredCollection } from './restoreTarget.js';

export interface QdrantRestoreRequest {
  qdrant: QdrantEndpoint;
  store: StoreConfig;
  artifact: QdrantArtifact;
  collection: string;
  method: RecoveryMethod;
  /** The backup's stack and id, and this run's tag: where a replaced collection's safety snapshot goes. */
  backupStack?: string;
  backupId?: string;
  runTag?: string;
}

export interface QdrantDrillRequest {
  qdrant: QdrantEndpoint;
  store: StoreConfig;
  artifact: QdrantArtifact;
  scratchCollection: string;
  method: RecoveryMethod;
  samplePoints: number;
}

export function createQdrantDrillActivities() {
  return {
    /**
     * Restore drill of one snapshot: recover it into a scratch collection of this run, compare
     * the points count with the manifest, query sample points with their own vectors, and
     * delete the scratch collection whatever happens.
     */
    async drillQdrantRestore(request: QdrantDrillRequest): Promise<VerificationCheck[]> {
      const { qdrant, artifact, scratchCollection, method } = request;
      const progress = new ProgressHeartbeat(`restore drill ${artifact.name} (${method})`);
      const session = await openQdrant(qdrant);
      return progress.during(withArtifactStore(request.store, async (store) => {
        await deleteOwnedCollection(session, qdrant, scratchCollection);
        try {
          const started = Date.now();
          progress.phase('recovering snapshot');
          await recoverSnapshot(session, qdrant, store, artifact, scratchCollection, method, progress);
          const checks = [
            qdrantCheck(artifact, `recover (${method})`, true, `recovered into ${scratchCollection} with the manifest's checksum`, { method }, started),
          ];
          const countStarted = Date.now();
          progress.phase('counting points');
          const points = await countPoints(session, qdrant, scratchCollection);
          const count = comparePoints(artifact, points);
          checks.push(qdrantCheck(artifact, `points count (${method})`, count.passed, count.detail, count.figures, countStarted));
          const queryStarted = Date.now();
          const sample = await samplePointsFindThemselves(session, qdrant, scratchCollection, request.samplePoints);
          checks.push(qdrantCheck(artifact, `sample queries (${method})`, sample.passed, sample.detail, { checked: sample.checked }, queryStarted));
          return checks;
        } finally {
          await deleteOwnedCollection(session, qdrant, scratchCollection).catch(() => undefined);
        }
      }));
    },
    /**
     * Recovers a snapshot onto `collection`: a new name is created; an alias is switched to a new
     * collection beside the old one; an existing collection (confirmed) is first snapshotted
     * into the store, and the report names that safety snapshot.
     */
    async restoreQdrantCollection(request: QdrantRestoreRequest): Promise<RestoredCollection> {
      const { qdrant, artifact, collection } = request;
      const progress = new ProgressHeartbeat(`restore ${artifact.name} into ${collection}`);
      const session = await openQdrant(qdrant);
      if (!request.backupId || !request.runTag || !request.backupStack) {
        throw ApplicationFailure.nonRetryable('restoreQdrantCollection needs backupStack, backupId and runTag (for the safety snapshot)', 'InvalidInput');
      }
      return progress.during(withArtifactStore(request.store, (store) =>
        restoreOntoTarget({
          session, qdrant, store, artifact, target: collection, method: request.method,
          backupStack: request.backupStack!, backupId: request.backupId!, runTag: request.runTag!, progress,
        }),
      ));
    },
  };
}
