import { ApplicationFailure } from '@temporalio/activity';
import type { QdrantAlias, QdrantArtifact, VerificationCheck } from '../config/manifest.js';
import type { StoreConfig } from '../config/stacks.js';
import { ProgressHeartbeat } from './heartbeat.js';
import { openQdrant, qdrantCall, type QdrantEndpoint, type QdrantSession } from './qdrant.js';
import {
  countPoints,
  qdrantCheck,
  RAGOPS_OWNED_COLLECTION,
  recoverSnapshot,
  samplePointsFindThemselves,
  type RecoveryMethod,
} from './qdrant-restore.js';
import { withStore } from './store/open.js';

export interface QdrantDrillRequest {
  qdrant: QdrantEndpoint;
  store: StoreConfig;
  artifact: QdrantArtifact;
  scratchCollection: string;
  method: RecoveryMethod;
  samplePoints: number;
}

export interface QdrantRestoreRequest {
  qdrant: QdrantEndpoint;
  store: StoreConfig;
  artifact: QdrantArtifact;
  collection: string;
  method: RecoveryMethod;
}

async function deleteOwnedCollection(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<boolean> {
  if (!RAGOPS_OWNED_COLLECTION.test(collection)) throw new Error(`refusing to delete "${collection}": not a collection ragops created`);
  const { exists } = await qdrantCall(`checking "${collection}"`, endpoint, () => session.client.collectionExists(collection));
  if (!exists) return false;
  await qdrantCall(`deleting "${collection}"`, endpoint, () => session.client.deleteCollection(collection));
  return true;
}

export function createQdrantRestoreActivities() {
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
      return withStore(request.store, async (store) => {
        await deleteOwnedCollection(session, qdrant, scratchCollection);
        try {
          const started = Date.now();
          await recoverSnapshot(session, qdrant, store, artifact, scratchCollection, method, progress);
          const checks = [
            qdrantCheck(artifact, `recover (${method})`, true, `recovered into ${scratchCollection} with the manifest's checksum`, { method }, started),
          ];
          const countStarted = Date.now();
          const points = await countPoints(session, qdrant, scratchCollection);
          checks.push(
            qdrantCheck(
              artifact,
              `points count (${method})`,
              points === artifact.pointsCount,
              `${points} points restored, manifest says ${artifact.pointsCount}`,
              { points, expected: artifact.pointsCount },
              countStarted,
            ),
          );
          const queryStarted = Date.now();
          const sample = await samplePointsFindThemselves(session, qdrant, scratchCollection, request.samplePoints);
          checks.push(qdrantCheck(artifact, `sample queries (${method})`, sample.passed, sample.detail, { checked: sample.checked }, queryStarted));
          return checks;
        } finally {
          await deleteOwnedCollection(session, qdrant, scratchCollection).catch(() => undefined);
        }
      });
    },

    async deleteRunCollection({ qdrant, collection }: { qdrant: QdrantEndpoint; collection: string }): Promise<boolean> {
      return deleteOwnedCollection(await openQdrant(qdrant), qdrant, collection);
    },

    async qdrantCollectionExists({ qdrant, collection }: { qdrant: QdrantEndpoint; collection: string }): Promise<boolean> {
      const session = await openQdrant(qdrant);
      return (await qdrantCall(`checking "${collection}"`, qdrant, () => session.client.collectionExists(collection))).exists;
    },

    /** Recovers a snapshot under `collection` (creating or, confirmed, replacing it) and checks the count. */
    async restoreQdrantCollection(request: QdrantRestoreRequest): Promise<{ collection: string; pointsCount: number }> {
      const { qdrant, artifact, collection } = request;
      const progress = new ProgressHeartbeat(`restore ${artifact.name} into ${collection}`);
      const session = await openQdrant(qdrant);
      await withStore(request.store, (store) => recoverSnapshot(session, qdrant, store, artifact, collection, request.method, progress));
      const points = await countPoints(session, qdrant, collection);
      if (points !== artifact.pointsCount) {
        throw ApplicationFailure.nonRetryable(
          `restored collection "${collection}" has ${points} points, the manifest says ${artifact.pointsCount}`,
          'RestoreFailed',
        );
      }
      return { collection, pointsCount: points };
    },

    /** Points every alias at its collection in one all-or-nothing request. */
    async applyQdrantAliases({ qdrant, aliases }: { qdrant: QdrantEndpoint; aliases: QdrantAlias[] }): Promise<number> {
      if (aliases.length === 0) return 0;
      const session = await openQdrant(qdrant);
      await qdrantCall('switching aliases', qdrant, () =>
        session.client.updateCollectionAliases({
          actions: aliases.map(({ alias, collection }) => ({ create_alias: { alias_name: alias, collection_name: collection } })),
        }),
      );
      return aliases.length;
    },
  };
}
