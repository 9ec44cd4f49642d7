import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore } from './types.js';

export interface StoredArtifact {
  size: number;
  sha256: string;
}

export type ByteProgress = (bytesSoFar: number) => void;

/**
 * A pass-through that hashes and counts. Its last chunk is held back until `sourceSucceeded`
 * resolves, so a producer that fails after writing (pg_dump exiting non-zero) fails the
 * upload too, instead of completing an object that looks whole.
 */
export class HashingMeter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;

  constructor(
    private readonly onProgress?: ByteProgress,
    private readonly sourceSucceeded?: Promise<unknown>,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    callback(null, chunk);
  }

  override _flush(callback: (error?: Error | null) => void): void {
    if (!this.sourceSucceeded) return callback();
    this.sourceSucceeded.then(
      () => callback(),
      (error: Error) => callback(error),
    );
  }
}

/** Streams `source` into the store under `key`, hashing on the way; memory stays bounded. */
export async function putHashed(
  store: ArtifactStore,
  key: string,
  source: Readable,
  options: { signal?: AbortSignal; onProgress?: ByteProgress; sourceSucceeded?: Promise<unknown>; contentType?: string } = {},
): Promise<StoredArtifact> {
  const meter = new HashingMeter(options.onProgress, options.sourceSucceeded);
  // A store may start reading only after an await of its own (the fs store's mkdir): a source
  // that fails before then must not leave the meter's error unheard. The outcome is decided below.
  meter.on('error', () => undefined);
  source.on('error', (error) => meter.destroy(error));
  const storing = store.put(key, source.pipe(meter), { signal: options.signal, contentType: options.contentType });
  let failedFirst: 'store' | 'source' | undefined;
  options.sourceSucceeded?.catch(() => (failedFirst ??= 'source'));
  storing.catch(() => {
    failedFirst ??= 'store';
    // A producer left writing into a pipe nobody reads (pg_dump) would block for ever: close it.
    source.destroy();
  });
  const [stored, produced] = await Promise.allSettled([storing, options.sourceSucceeded ?? Promise.resolve()]);
  // A store that failed first (disk full, upload refused) is the cause of the producer's broken
  // pipe, and one that can take nothing more says so whatever the producer then says.
  if (stored.status === 'rejected' && (failedFirst === 'store' || (stored.reason as { nonRetryable?: boolean }).nonRetryable)) throw stored.reason;
  // Otherwise the producer's own error says more than the upload's "stream destroyed".
  if (produced.status === 'rejected') throw produced.reason;
  if (stored.status === 'rejected') throw stored.reason;
  return { size: meter.bytes, sha256: meter.hash.digest('hex') };
}

/** Reads an object back from the store and hashes it. */
export async function hashStored(
  store: ArtifactStore,
  key: string,
  options: { signal?: AbortSignal; onProgress?: ByteProgress } = {},
): Promise<StoredArtifact> {
  const meter = new HashingMeter(options.onProgress, undefined);
  const body = await store.get(key, { signal: options.signal });
  await pipeline(body, meter, async (hashed: AsyncIterable<Buffer>) => {
    for await (const _chunk of hashed) {
      // drain
    }
  }, { signal: options.signal });
  return { size: meter.bytes, sha256: meter.hash.digest('hex') };
}
