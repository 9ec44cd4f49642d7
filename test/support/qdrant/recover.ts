import { readFile, realpath } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectVariant, optionalString, requireField, type JsonObject } from './body.js';
import type { Store } from './collections.js';
import { describeVectors } from './config.js';
import { badRequest, formatError, notFound, QdrantError, validationError, wrongInput, type RequestContext } from './protocol.js';
import { readSnapshotTar, SnapshotFormatError, toStoredPoints } from './snapshot-format.js';
import { sha256Hex } from './snapshots.js';

const PRIORITIES = ['no_sync', 'snapshot', 'replica'] as const;

/** Qdrant accepts 64 hex digits in either case (validate_sha256_hash). */
function checkChecksumFormat(checksum: string | undefined, where: string): void {
  if (checksum === undefined || /^[0-9a-fA-F]{64}$/.test(checksum)) return;
  throw validationError([`checksum: invalid sha256 hash (length ${checksum.length}), expected 64 hex digits 0-9, a-f, A-F`], where);
}

/**
 * Loads a snapshot into the collection `name` (an alias names its collection): a missing
 * collection is created from the snapshot's config; an existing one must have the same
 * vectors, and gets the snapshot's points in place of its own.
 */
export function restoreSnapshot(store: Store, name: string, archive: Buffer, serverVersion: string, checksum?: string): void {
  if (checksum !== undefined) {
    const actual = sha256Hex(archive);
    if (actual !== checksum.toLowerCase()) throw wrongInput(`Snapshot checksum mismatch: expected ${checksum}, got ${actual}`);
  }
  let contents;
  try {
    contents = readSnapshotTar(archive);
  } catch (error) {
    if (error instanceof SnapshotFormatError) throw wrongInput(`Invalid snapshot: ${error.message}`);
    throw error;
  }
  const minor = (v: string) => v.split('.').slice(0, 2).join('.');
  if (minor(contents.version) !== minor(serverVersion)) {
    throw wrongInput(`Snapshot version ${contents.version} is not compatible with server version ${serverVersion}`);
  }
  const points = toStoredPoints(contents.points);
  const existing = store.find(name);
  if (existing) {
    const [have, got] = [describeVectors(existing.config), describeVectors(contents.config)];
    if (have !== got) {
      throw wrongInput(
        `Snapshot is not compatible with existing collection: Collection vectors config {${have}} != snapshot vectors config {${got}}`,
      );
    }
  }
  const collection = existing ?? store.create(name, contents.config);
  collection.replaceContents(points, contents.payloadIndexes);
}

/** PUT /collections/{c}/snapshots/recover `{location, priority?, checksum?, api_key?}`. */
export async function recoverFromLocation(
  store: Store,
  ctx: RequestContext,
  body: JsonObject,
  serverVersion: string,
  snapshotsDir: string,
  /** A fault: the download answers this status instead of being made. */
  forcedDownloadStatus?: number,
): Promise<void> {
  const location = requireField(body, 'location');
  if (typeof location !== 'string') throw formatError('invalid type: expected a string for `location`');
  if (body['priority'] !== undefined && body['priority'] !== null) expectVariant(body['priority'], PRIORITIES);
  const checksum = optionalString(body, 'checksum');
  checkChecksumFormat(checksum, 'JSON body');
  const archive = await fetchLocation(location, optionalString(body, 'api_key'), snapshotsDir, forcedDownloadStatus);
  restoreSnapshot(store, ctx.params['collection'] ?? '', archive, serverVersion, checksum);
}

/** Qdrant's download_file wording: the whole URL (reqwest's Url Display, query included) and reqwest's StatusCode Display. */
const downloadFailed = (url: URL, status: number) =>
  wrongInput(`Failed to download snapshot from ${url.href}: status - ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd());

async function fetchLocation(location: string, apiKey: string | undefined, snapshotsDir: string, forcedStatus?: number): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw formatError(`invalid value: string ${JSON.stringify(location)}, expected a URL`);
  }
  if (url.protocol === 'file:') return readLocalSnapshot(fileURLToPath(url), snapshotsDir);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw wrongInput(`Unsupported snapshot location scheme ${url.protocol} in ${location}`);
  }
  if (forcedStatus !== undefined) throw downloadFailed(url, forcedStatus);
  try {
    const response = await fetch(url, { headers: apiKey ? { 'api-key': apiKey } : {} });
    if (!response.ok) throw downloadFailed(url, response.status);
    return Buffer.from(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof QdrantError) throw error;
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw wrongInput(`Failed to download snapshot from ${location}: ${(error as Error).message}${cause ? ` (${cause})` : ''}`);
  }
}

/** file:// locations must point inside the snapshots directory, as in Qdrant. */
async function readLocalSnapshot(path: string, snapshotsDir: string): Promise<Buffer> {
  const root = await realpath(snapshotsDir);
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined) {
    if (!path.startsWith(root + sep)) throw wrongInput(`Snapshot file ${path} is outside of the snapshots directory ${root}`);
    throw notFound(`Snapshot file ${path} does not exist`);
  }
  if (!real.startsWith(root + sep)) throw wrongInput(`Snapshot file ${path} is outside of the snapshots directory ${root}`);
  return readFile(real);
}

/** POST /collections/{c}/snapshots/upload?priority=&checksum= with multipart field `snapshot`. */
export async function recoverFromUpload(store: Store, ctx: RequestContext, serverVersion: string): Promise<void> {
  const checksum = ctx.query.get('checksum') ?? undefined;
  checkChecksumFormat(checksum, 'query parameters');
  const priority = ctx.query.get('priority');
  if (priority !== null && !(PRIORITIES as readonly string[]).includes(priority)) {
    throw badRequest(`Query deserialize error: unknown variant \`${priority}\`, expected one of \`no_sync\`, \`snapshot\`, \`replica\``);
  }
  const contentType = String(ctx.headers['content-type'] ?? '');
  if (!contentType.startsWith('multipart/form-data')) throw badRequest('expected a multipart/form-data body with a `snapshot` field');
  let form: FormData;
  try {
    const request = new Request('http://standin/upload', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new Uint8Array(ctx.body),
    });
    form = await request.formData();
  } catch (error) {
    throw badRequest(`malformed multipart body: ${(error as Error).message}`);
  }
  const file = form.get('snapshot');
  if (file === null || typeof file === 'string') throw badRequest('multipart body has no `snapshot` file field');
  restoreSnapshot(store, ctx.params['collection'] ?? '', Buffer.from(await file.arrayBuffer()), serverVersion, checksum);
}
