import { ApplicationFailure } from '@temporalio/activity';
import { QdrantClient } from '@qdrant/js-client-rest';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { QdrantAlias, QdrantArtifact } from '../config/manifest.js';
import type { QdrantPlan } from '../config/plan.js';
import { resolveOptionalSecret } from '../config/secrets.js';
import type { StoreConfig } from '../config/stacks.js';
import { ProgressHeartbeat } from './heartbeat.js';
import { putHashed } from './store/hashing.js';
import { withStore } from './store/open.js';

export type QdrantEndpoint = Pick<QdrantPlan, 'url' | 'apiKey'>;

export interface QdrantSession {
  client: QdrantClient;
  /** Raw HTTP for what the client has no method for (snapshot download and upload). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export async function openQdrant(endpoint: QdrantEndpoint): Promise<QdrantSession> {
  const apiKey = await resolveOptionalSecret(endpoint.apiKey);
  const client = new QdrantClient({ url: endpoint.url, apiKey, checkCompatibility: false, timeout: 600_000 });
  const base = endpoint.url.replace(/\/$/, '');
  return {
    client,
    fetch: (path, init = {}) =>
      fetch(`${base}${path}`, { ...init, headers: { ...(apiKey ? { 'api-key': apiKey } : {}), ...init.headers } }),
  };
}

function describeFailure(what: string, endpoint: QdrantEndpoint, error: unknown): Error {
  const detail = error instanceof Error ? error.message : String(error);
  return new Error(`Qdrant at ${endpoint.url}: ${what} failed: ${detail}`);
}

export async function qdrantCall<T>(what: string, endpoint: QdrantEndpoint, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw describeFailure(what, endpoint, error);
  }
}

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

export function createQdrantActivities() {
  return {
    /** Collection names on the node, sorted; aliases are not collections. */
    async listQdrantCollections(qdrant: QdrantEndpoint): Promise<string[]> {
      const { client } = await openQdrant(qdrant);
      const { collections } = await qdrantCall('listing collections', qdrant, () => client.getCollections());
      return collections.map((collection) => collection.name).sort();
    },

    /** Server version and the alias map, which collection snapshots do not carry. */
    async describeQdrant(qdrant: QdrantEndpoint): Promise<{ version: string; aliases: QdrantAlias[] }> {
      const { client } = await openQdrant(qdrant);
      const [info, { aliases }] = await Promise.all([
        qdrantCall('reading the version', qdrant, () => client.versionInfo()),
        qdrantCall('listing aliases', qdrant, () => client.getAliases()),
      ]);
      return {
        version: info.version,
        aliases: aliases
          .map((alias) => ({ alias: alias.alias_name, collection: alias.collection_name }))
          .sort((a, b) => a.alias.localeCompare(b.alias)),
      };
    },

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
      const snapshot = await progress.during(
        qdrantCall(`creating a snapshot of "${collection}"`, qdrant, () => session.client.createSnapshot(collection, { wait: true })),
      );
      if (!snapshot) throw new Error(`Qdrant at ${qdrant.url} returned no snapshot description for "${collection}"`);
      progress.beat({ snapshotName: snapshot.name }, true);
      try {
        const stored = await withStore(request.store, async (store) => {
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
          return result;
        });
        return {
          component: 'qdrant',
          name: collection,
          key,
          ...stored,
          pointsCount: info.points_count ?? 0,
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
