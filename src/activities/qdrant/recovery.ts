import { ApplicationFailure } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { QdrantArtifact } from '../../config/manifest.js';
import { redactUrls } from '../../core/redact.js';
import type { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { HashingMeter } from '../store/hashing.js';
import type { ArtifactStore } from '../store/types.js';
import { qdrantCall, type QdrantEndpoint, type QdrantSession } from './client.js';

export type RecoveryMethod = 'upload' | 'location';

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
    if (!store.presignedGetUrl) {
      throw ApplicationFailure.nonRetryable(
        `recovery by location needs an S3 store without client-side encryption (Qdrant fetches the snapshot itself); ${store.location} gives no URL for ${artifact.key}: recover by upload`,
        'InvalidInput',
      );
    }
    const location = await store.presignedGetUrl(artifact.key, PRESIGNED_URL_SECONDS);
    // Raw HTTP rather than the client's recoverSnapshot: the cancellation signal must reach the request.
    const request = session.fetch(`${path}/recover?wait=true`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ location, priority: 'snapshot', checksum: artifact.sha256 }),
      signal: progress.signal,
    });
    await failUnlessOk(await progress.during(request, { method }), `Qdrant at ${endpoint.url}: recovering "${collection}" from ${artifact.key}`);
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
  await failUnlessOk(response, `Qdrant at ${endpoint.url}: uploading snapshot ${artifact.key} into "${collection}"`);
}

async function failUnlessOk(response: Response, what: string): Promise<void> {
  if (response.ok) return;
  // Redacted before it is cut short: the kept text is then Qdrant's words, not a signature.
  const text = redactUrls(await response.text().catch(() => '')).slice(0, 500);
  // Redacted: Qdrant's error echoes the location it was handed, a presigned URL with its signature.
  const message = redactUrls(`${what} answered ${response.status}: ${text}`);
  // Qdrant could not fetch the snapshot from the store (an expired or mis-signed URL, a store
  // it cannot reach): the backup is not at fault, so a drill is inconclusive, not failed.
  if (/Failed to download snapshot/i.test(text)) {
    throw ApplicationFailure.nonRetryable(
      `${message} — Qdrant could not download the snapshot from the store: check that Qdrant reaches the store's endpoint and that its clock is right (presigned URLs expire), or recover by upload`,
      'SnapshotDownloadFailed',
    );
  }
  // 4xx: the snapshot or the request is wrong, and will be on a retry too.
  throw response.status >= 400 && response.status < 500 && response.status !== 429
    ? ApplicationFailure.nonRetryable(message, 'RestoreFailed')
    : new Error(message);
}
