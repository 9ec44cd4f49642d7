import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import type { Readable } from 'node:stream';
import type { S3StoreConfig } from '../../config/stacks/index.js';
import type { S3Source } from '../../config/stacks/reingest.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import type { SourceRow } from './types.js';

// An S3 re-ingestion source: the JSONL objects under bucket/prefix, in key order, streamed line
// by line (memory bounded by the longest line, never by an object). A position — object, ETag,
// byte offset and lines read — is recorded after every row, so a retried activity resumes with a
// ranged GET right after the last checkpoint, and refuses an object that changed meanwhile.

export interface S3Position {
  object: string;
  /** The object's ETag when reading began: a resumed read of a changed object is refused. */
  etag: string | undefined;
  /** Bytes of the object consumed (through the last line's newline). */
  byte: number;
  /** Lines of the object consumed (blank ones included): the next line is `line + 1`. */
  line: number;
  /** Every line of the object is consumed: the next read starts at the next object. */
  complete: boolean;
}

export interface S3Page {
  rows: SourceRow[];
  /** Where the next page starts; undefined only when the source holds no object at all. */
  position: S3Position | undefined;
  /** Fewer rows than asked: nothing after `position`. */
  done: boolean;
}

export interface S3SourceReader {
  /** Every row after `from` (from the first object when undefined), each with the position after it. */
  rows(from?: S3Position): AsyncGenerator<{ row: SourceRow; position: S3Position }>;
  page(from: S3Position | undefined, limit: number): Promise<S3Page>;
  /** The rows of every object (the whole source is read and checked). */
  count(): Promise<number>;
  close(): void;
}

/** A line longer than this fails the read instead of growing memory without bound. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

const NON_RETRYABLE_S3 = new Set(['NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AuthorizationHeaderMalformed', 'PermanentRedirect', 'InvalidBucketName']);

function s3Failure(where: string, error: unknown): Error {
  const name = (error as { name?: string }).name ?? 'Error';
  const message = `${where}: ${name}: ${(error as Error).message}`;
  if (NON_RETRYABLE_S3.has(name)) {
    return ApplicationFailure.nonRetryable(`${message}; check the source's bucket, endpoint and keys (or the stack's store settings it borrows)`, 'SourceUnreadable');
  }
  return new Error(message);
}

const invalidRow = (message: string) => ApplicationFailure.nonRetryable(message, 'SourceRowInvalid');

/** Connection settings: the source's own, else those of the stack's S3 store. */
async function clientFor(location: S3Source['s3'], store: S3StoreConfig | undefined): Promise<S3Client> {
  const own = location.accessKeyId !== undefined;
  const accessKeyId = await resolveOptionalSecret(own ? location.accessKeyId : store?.accessKeyId);
  const secretAccessKey = await resolveOptionalSecret(own ? location.secretAccessKey : store?.secretAccessKey);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw ApplicationFailure.nonRetryable('an S3 source needs accessKeyId and secretAccessKey together, or neither (the default AWS chain)', 'InvalidInput');
  }
  return new S3Client({
    region: location.region ?? store?.region ?? 'us-east-1',
    endpoint: location.endpoint ?? store?.endpoint,
    forcePathStyle: location.forcePathStyle ?? store?.forcePathStyle ?? false,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    // As the store's client: a stalled endpoint fails with "timed out" instead of hanging.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The lines of a stream from `startByte` on, each with the byte offset after its newline; the last may lack one. */
export async function* linesOf(body: AsyncIterable<Uint8Array>, startByte: number, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<{ bytes: Buffer; endByte: number }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = startByte;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    let from = 0;
    for (let newline = buffer.indexOf(10, from); newline !== -1; newline = buffer.indexOf(10, from)) {
      const piece = buffer.subarray(from, newline);
      const line = pendingBytes > 0 ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      pendingBytes = 0;
      offset += line.length + 1;
      from = newline + 1;
      if (line.length > maxLineBytes) throw new RangeError(`a line of ${line.length} bytes (more than ${maxLineBytes})`);
      yield { bytes: line, endByte: offset };
    }
    if (from < buffer.length) {
      pending.push(buffer.subarray(from));
      pendingBytes += buffer.length - from;
      if (pendingBytes > maxLineBytes) throw new RangeError(`a line of more than ${maxLineBytes} bytes`);
    }
  }
  if (pendingBytes > 0) {
    offset += pendingBytes;
    yield { bytes: Buffer.concat(pending), endByte: offset };
  }
}

export async function openS3Source(source: S3Source, store: S3StoreConfig | undefined, name = 'source'): Promise<S3SourceReader> {
  const { bucket, prefix } = source.s3;
  const client = await clientFor(source.s3, store);
  const where = `source "${name}" (s3://${bucket}/${prefix})`;

  /** The first object after `after` under the prefix (folder markers left out). */
  async function nextObject(after: string | undefined): Promise<{ key: string; etag: string | undefined; size: number } | undefined> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, StartAfter: token ? undefined : after, ContinuationToken: token, MaxKeys: 1000 }));
      } catch (error) {
        throw s3Failure(`${where}: listing objects${after ? ` after ${after}` : ''}`, error);
      }
      const found = (page.Contents ?? []).find((object) => object.Key !== undefined && !object.Key.endsWith('/') && (after === undefined || object.Key > after));
      if (found) return { key: found.Key!, etag: found.ETag, size: found.Size ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return undefined;
  }

  /** The object's bytes from the position on; undefined when nothing is left (the range starts at its end). */
  async function open(position: S3Position): Promise<Readable | undefined> {
    try {
      const response = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: position.object,
          ...(position.byte > 0 ? { Range: `bytes=${position.byte}-` } : {}),
          ...(position.etag ? { IfMatch: position.etag } : {}),
        }),
      );
      return response.Body as Readable;
    } catch (error) {
      const code = (error as { name?: string; $metadata?: { httpStatusCode?: number } });
      if (code.name === 'InvalidRange' || code.$metadata?.httpStatusCode === 416) return undefined;
      if (code.name === 'PreconditionFailed' || code.$metadata?.httpStatusCode === 412) {
        throw ApplicationFailure.nonRetryable(
          `${where}: s3://${bucket}/${position.object} changed after this run began reading it (its ETag is no longer ${position.etag}); resuming at byte ${position.byte} would misread it — run the re-ingestion again`,
          'SourceChanged',
        );
      }
      if (code.name === 'NoSuchKey') {
        throw ApplicationFailure.nonRetryable(`${where}: s3://${bucket}/${position.object} was deleted after this run began reading it; run the re-ingestion again`, 'SourceChanged');
      }
      throw s3Failure(`${where}: reading s3://${bucket}/${position.object} from byte ${position.byte}`, error);
    }
  }

  function parseLine(bytes: Buffer, object: string, lineNumber: number, byte: number): SourceRow | undefined {
    const text = bytes.toString('utf8').replace(/\r$/, '');
    if (text.trim() === '') return undefined;
    const at = `${where}: s3://${bucket}/${object} line ${lineNumber} (byte ${byte})`;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw invalidRow(`${at}: not valid JSON (${(error as Error).message}): ${JSON.stringify(text.slice(0, 80))}${text.length > 80 ? '…' : ''}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidRow(`${at}: a JSON line must be an object with "${source.key}" and "${source.text}"`);
    const record = value as Record<string, unknown>;
    const key = record[source.key];
    if (!((typeof key === 'string' && key !== '') || (typeof key === 'number' && Number.isSafeInteger(key)))) {
      throw invalidRow(`${at}: its key "${source.key}" is ${key === undefined ? 'missing' : JSON.stringify(key)}, not a non-empty string or an integer`);
    }
    const body = record[source.text];
    if (typeof body !== 'string') throw invalidRow(`${at} (key ${key}): its text "${source.text}" is ${body === undefined ? 'missing' : `a ${body === null ? 'null' : typeof body}`}, not a string`);
    const payload: Record<string, unknown> = {};
    for (const field of source.payload) if (record[field] !== undefined) payload[field] = record[field];
    return { key, text: body, payload };
  }

  async function* rows(from?: S3Position): AsyncGenerator<{ row: SourceRow; position: S3Position }> {
    let position = from;
    for (;;) {
      if (position === undefined || position.complete) {
        const next = await nextObject(position?.object);
        if (next === undefined) return;
        position = { object: next.key, etag: next.etag, byte: 0, line: 0, complete: next.size === 0 };
        if (position.complete) continue;
      }
      const body = await open(position);
      if (body === undefined) {
        position = { ...position, complete: true };
        continue;
      }
      try {
        for await (const { bytes, endByte } of linesOf(body, position.byte)) {
          const startByte = position.byte;
          position = { ...position, byte: endByte, line: position.line + 1 };
          const row = parseLine(bytes, position.object, position.line, startByte);
          if (row) yield { row, position };
        }
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        if (error instanceof RangeError) throw invalidRow(`${where}: s3://${bucket}/${position.object} line ${position.line + 1}: ${error.message}; split it or raise the limit`);
        throw s3Failure(`${where}: reading s3://${bucket}/${position.object} at byte ${position.byte}`, error);
      } finally {
        body.destroy();
      }
      position = { ...position, complete: true };
    }
  }

  return {
    rows,
    async page(from, limit) {
      if (!Number.isInteger(limit) || limit < 1) throw ApplicationFailure.nonRetryable(`${where}: a page of ${limit} rows`, 'InvalidInput');
      const found: SourceRow[] = [];
      let position = from;
      for await (const next of rows(from)) {
        found.push(next.row);
        position = next.position;
        if (found.length === limit) break;
      }
      return { rows: found, position, done: found.length < limit };
    },
    async count() {
      let count = 0;
      for await (const _ of rows()) count += 1;
      return count;
    },
    close() {
      client.destroy();
    },
  };
}

export async function withS3Source<T>(source: S3Source, store: S3StoreConfig | undefined, name: string, use: (reader: S3SourceReader) => Promise<T>): Promise<T> {
  const reader = await openS3Source(source, store, name);
  try {
    return await use(reader);
  } finally {
    reader.close();
  }
}
