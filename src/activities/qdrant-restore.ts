import { ApplicationFailure } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { QdrantArtifact, VerificationCheck } from '../config/manifest.js';
import type { ProgressHeartbeat } from './heartbeat.js';
import { qdrantCall, type QdrantEndpoint, type QdrantSession } from './qdrant.js';
import { HashingMeter } from './store/hashing.js';
import type { ArtifactStore } from './store/types.js';

export type RecoveryMethod = 'upload' | 'location';

/** Scratch collections of drills; only these are deleted without the operator asking. */
export const RAGOPS_OWNED_COLLECTION = /^ragops_drill_[a-z0-9]{8}_[A-Za-z0-9_-]+$/;

const PRESIGNED_URL_SECONDS = 3600;

/** The snapshot body as multipart/form-data, streamed from the store without buffering it. */
function multipartBody(body: Readable, boundary: string, filename: string): Readable {
  async function* parts() {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    for await (const chunk of body) yield chunk as Buffer;
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  return Readable.from(parts());
}

/**
 * Recovers a stored snapshot into `collection` with priority "snapshot" and the manifest's
 * checksum, by upload (streamed from the store) or by location (a presigned URL Qdrant
 * downloads itself).
 */
export async function recoverSnapshot(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  store: ArtifactStore,
  artifact: QdrantArtifact,
  collection: string,
  method: RecoveryMethod,
  progress: ProgressHeartbeat,
): Promise<void> {
  const path = `/collections/${encodeURIComponent(collection)}/snapshots`;
  if (method === 'location') {
    if (!store.presignedGetUrl) throw ApplicationFailure.nonRetryable(`recovery by location needs an S3 store; ${store.location} has no URL Qdrant could fetch`, 'InvalidInput');
    const location = await store.presignedGetUrl(artifact.key, PRESIGNED_URL_SECONDS);
    await progress.during(
      qdrantCall(`recovering "${collection}" from ${artifact.key}`, endpoint, () =>
        session.client.recoverSnapshot(collection, { location, priority: 'snapshot', checksum: artifact.sha256 }),
      ),
      { method },
    );
    return;
  }
  const boundary = `ragops-${randomUUID()}`;
  const meter = new HashingMeter(progress.bytes);
  const body = multipartBody((await store.get(artifact.key, { signal: progress.signal })).pipe(meter), boundary, `${artifact.name}.snapshot`);
  const query = `?priority=snapshot&checksum=${artifact.sha256}&wait=true`;
  const response = await session.fetch(`${path}/upload${query}`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.toWeb(body) as ReadableStream,
    duplex: 'half',
    signal: progress.signal,
  } as RequestInit);
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).slice(0, 500);
    const message = `Qdrant at ${endpoint.url}: uploading snapshot ${artifact.key} into "${collection}" answered ${response.status}: ${text}`;
    // 4xx: the snapshot or the request is wrong, and will be on a retry too.
    throw response.status >= 400 && response.status < 500 && response.status !== 429
      ? ApplicationFailure.nonRetryable(message, 'RestoreFailed')
      : new Error(message);
  }
}

export async function countPoints(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<number> {
  const { count } = await qdrantCall(`counting points of "${collection}"`, endpoint, () => session.client.count(collection, { exact: true }));
  return count;
}

/** Each sampled point, queried with its own vector, must come back first (or tie for first). */
export async function samplePointsFindThemselves(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  collection: string,
  samples: number,
): Promise<{ passed: boolean; detail: string; checked: number }> {
  if (samples === 0) return { passed: true, detail: 'no sample points requested', checked: 0 };
  const { points } = await qdrantCall(`reading sample points of "${collection}"`, endpoint, () =>
    session.client.scroll(collection, { limit: samples, with_vector: true, with_payload: false }),
  );
  const misses: string[] = [];
  for (const point of points) {
    const [using, vector] = Array.isArray(point.vector) ? [undefined, point.vector] : (Object.entries(point.vector ?? {})[0] ?? []);
    if (!Array.isArray(vector) || !vector.every((value) => typeof value === 'number')) continue;
    const result = await qdrantCall(`querying "${collection}"`, endpoint, () =>
      session.client.query(collection, { query: vector as number[], using, limit: 2, with_payload: false }),
    );
    const [first, second] = result.points;
    const tiedWithSelf = second?.id === point.id && first?.score === second?.score;
    if (first?.id !== point.id && !tiedWithSelf) misses.push(`point ${point.id} → ${first?.id ?? 'nothing'} first`);
  }
  return {
    passed: misses.length === 0,
    detail: misses.length === 0 ? `${points.length} sample point(s) each found first by their own vector` : misses.join('; '),
    checked: points.length,
  };
}

export function qdrantCheck(artifact: QdrantArtifact, name: string, passed: boolean, detail: string, figures: Record<string, unknown>, startedAt: number): VerificationCheck {
  return { name, component: 'qdrant', artifact: artifact.name, passed, detail, figures, durationMs: Date.now() - startedAt };
}
