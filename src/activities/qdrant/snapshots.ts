import { ApplicationFailure } from '@temporalio/activity';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { QdrantArtifact } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { putHashed } from '../store/hashing.js';
import { withArtifactStore } from '../store/open.js';
import type { ArtifactStore } from '../store/types.js';
import { describeFailure, openQdrant, qdrantCall, type QdrantEndpoint, type QdrantSession } from './client.js';
import { countPoints } from './points.js';

export interface SnapshotCollectionRequest {
  qdrant: QdrantEndpoint;
  collection: string;
  store: StoreConfig;
  key: string;
}

interface SnapshotHeartbeat {
  snapshotName?: string;
}

const CHECKSUM_ATTEMPTS = 3;

export function createQdrantSnapshotActivities() {
  return {
    /**
     * Snapshot one collection on the node, stream it through SHA-256 into the store, check
     * the hash against Qdrant's, and delete the snapshot from the node whatever happened.
     * The snapshot's name goes into the heartbeat, so a retry after a crash removes the
     * one the dead attempt left on the node.
     */
    async snapshotQdrantCollection(request: SnapshotCollectionRequest): Promise<QdrantArtifact> {
      const { qdrant, collection, key } = request;
      const progress = new ProgressHeartbeat(`snapshot ${collection}`);
      const session = await openQdrant(qdrant);
      const leftover = progress.previousDetails<SnapshotHeartbeat>()?.snapshotName;
      if (leftover) await deleteSnapshot(session, qdrant, collection, leftover).catch(() => undefined);

      const info = await qdrantCall(`reading collection "${collection}"`, qdrant, () => session.client.getCollection(collection));
      // Exact counts right before and after: info's points_count is approximate, and writes
      // that land while the snapshot is taken may or may not be in it.
      progress.phase('counting points');
      const countBefore = await progress.during(countPoints(session, qdrant, collection));
      progress.phase('creating snapshot');
      const snapshot = await progress.during(
        qdrantCall(`creating a snapshot of "${collection}"`, qdrant, () => session.client.createSnapshot(collection, { wait: true })),
      );
      if (!snapshot) throw new Error(`Qdrant at ${qdrant.url} returned no snapshot description for "${collection}"`);
      progress.beat({ snapshotName: snapshot.name }, true);
      let countAfter: number;
      try {
        progress.phase('counting points');
        countAfter = await progress.during(countPoints(session, qdrant, collection));
      } catch (error) {
        await deleteSnapshot(session, qdrant, collection, snapshot.name).catch(() => undefined);
        throw error;
      }
      progress.phase('storing snapshot');
      try {
        const stored = await withArtifactStore(request.store, (store) => storeSnapshot(session, qdrant, collection, snapshot, store, key, progress));
        return {
          component: 'qdrant',
          name: collection,
          key,
          ...stored,
          pointsCount: countBefore,
          pointsCountBefore: countBefore,
          pointsCountAfter: countAfter,
          vectors: info.config.params.vectors ?? null,
          snapshotName: snapshot.name,
          qdrantChecksum: snapshot.checksum ?? undefined,
          durationMs: progress.elapsedMs(),
        };
      } finally {
        await deleteSnapshot(session, qdrant, collection, snapshot.name).catch(() => undefined);
      }
    },
  };
}

/**
 * Streams a snapshot on the node through SHA-256 into the store under `key`, and checks the
 * hash against Qdrant's (a mismatch deletes the stored copy).
 */
export async function storeSnapshot(
  session: QdrantSession,
  qdrant: QdrantEndpoint,
  collection: string,
  snapshot: { name: string; checksum?: string | null },
  store: ArtifactStore,
  key: string,
  progress: ProgressHeartbeat,
): Promise<{ size: number; sha256: string }> {
  await store.discardUnfinished(key);
  const body = await downloadSnapshot(session, qdrant, collection, snapshot.name, progress.signal);
  const result = await putHashed(store, key, body, {
    signal: progress.signal,
    onProgress: (bytes) => progress.beat({ bytes, snapshotName: snapshot.name }),
    contentType: 'application/x-tar',
  });
  if (snapshot.checksum && snapshot.checksum !== result.sha256) {
    await store.delete(key);
    throw checksumMismatch(collection, snapshot.checksum, result.sha256, progress.context.info.attempt);
  }
  return { size: result.size, sha256: result.sha256 };
}

/** Snapshots a collection into the store under `key` and removes the snapshot from the node. */
export async function snapshotIntoStore(
  session: QdrantSession,
  qdrant: QdrantEndpoint,
  collection: string,
  store: ArtifactStore,
  key: string,
  progress: ProgressHeartbeat,
): Promise<{ size: number; sha256: string }> {
  progress.phase(`snapshotting "${collection}"`);
  const snapshot = await progress.during(
    qdrantCall(`creating a snapshot of "${collection}"`, qdrant, () => session.client.createSnapshot(collection, { wait: true })),
  );
  if (!snapshot) throw new Error(`Qdrant at ${qdrant.url} returned no snapshot description for "${collection}"`);
  progress.phase(`storing the snapshot of "${collection}"`);
  try {
    return await storeSnapshot(session, qdrant, collection, snapshot, store, key, progress);
  } finally {
    await deleteSnapshot(session, qdrant, collection, snapshot.name).catch(() => undefined);
  }
}

function checksumMismatch(collection: string, expected: string, actual: string, attempt: number): Error {
  const message =
    `Qdrant snapshot of collection "${collection}" failed its checksum: Qdrant reported ${expected}, ` +
    `the bytes stored hash to ${actual}; the stored copy was deleted`;
  // A transfer glitch deserves a fresh snapshot; the same mismatch three times is not transient.
  if (attempt >= CHECKSUM_ATTEMPTS) return ApplicationFailure.nonRetryable(message, 'ChecksumMismatch');
  return ApplicationFailure.retryable(message, 'ChecksumMismatch');
}

async function downloadSnapshot(
  session: QdrantSession,
  qdrant: QdrantEndpoint,
  collection: string,
  snapshotName: string,
  signal: AbortSignal,
): Promise<Readable> {
  const path = `/collections/${encodeURIComponent(collection)}/snapshots/${encodeURIComponent(snapshotName)}`;
  const response = await session.fetch(path, { signal }).catch((error: unknown) => {
    throw describeFailure(`downloading snapshot ${snapshotName}`, qdrant, error);
  });
  if (!response.ok || !response.body) {
    const text = (await response.text().catch(() => '')).slice(0, 300);
    throw new Error(`Qdrant at ${qdrant.url}: downloading snapshot ${snapshotName} answered ${response.status}: ${text}`);
  }
  return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
}

async function deleteSnapshot(session: QdrantSession, qdrant: QdrantEndpoint, collection: string, snapshotName: string): Promise<void> {
  await qdrantCall(`deleting snapshot ${snapshotName}`, qdrant, () => session.client.deleteSnapshot(collection, snapshotName, { wait: true }));
}
