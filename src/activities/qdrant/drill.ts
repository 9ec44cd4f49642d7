import { ApplicationFailure } from '@temporalio/activity';
import type { QdrantArtifact, VerificationCheck } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { withStore } from '../store/open.js';
import { openQdrant, type QdrantEndpoint } from './client.js';
import { deleteOwnedCollection } from './collections.js';
import { comparePoints, countPoints, qdrantCheck, samplePointsFindThemselves } from './points.js';
import { recoverSnapshot, type RecoveryMethod } from './recovery.js';

export interface QdrantRestoreRequest {
  qdrant: QdrantEndpoint;
  store: StoreConfig;
  artifact: QdrantArtifact;
  collection: string;
  method: RecoveryMethod;
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
      return progress.during(withStore(request.store, async (store) => {
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
    /** Recovers a snapshot under `collection` (creating or, confirmed, replacing it) and checks the count. */
    async restoreQdrantCollection(request: QdrantRestoreRequest): Promise<{ collection: string; pointsCount: number }> {
      const { qdrant, artifact, collection } = request;
      const progress = new ProgressHeartbeat(`restore ${artifact.name} into ${collection}`);
      const session = await openQdrant(qdrant);
      await withStore(request.store, (store) => recoverSnapshot(session, qdrant, store, artifact, collection, request.method, progress));
      const points = await progress.during(countPoints(session, qdrant, collection));
      const count = comparePoints(artifact, points);
      if (!count.passed) throw ApplicationFailure.nonRetryable(`restored collection "${collection}": ${count.detail}`, 'RestoreFailed');
      return { collection, pointsCount: points };
    },
  };
}
