import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
}

export interface UnfinishedUpload {
  key: string;
  uploadId: string;
  /** S3: when the upload was created; fs: when the partial file was last written. */
  initiated: Date;
}

/**
 * Where backups live. Keys are relative to the store's root (directory or bucket prefix),
 * always with "/" separators, e.g. "prod/20261124T051500Z-1a2b3c4d/manifest.json".
 */
export interface ArtifactStore {
  /** Human-readable location, e.g. "s3://bucket/prefix/" or "/var/backups/"; no secrets. */
  readonly location: string;
  /** Writes a whole object or nothing: a failed or cancelled write leaves no object under `key`. */
  put(key: string, body: Readable, options?: { signal?: AbortSignal; contentType?: string }): Promise<void>;
  get(key: string, options?: { signal?: AbortSignal }): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Objects under `prefix` in key order; with `startAfter`, only keys after it (S3 StartAfter). */
  list(prefix: string, options?: { startAfter?: string }): AsyncIterable<StoredObject>;
  delete(key: string): Promise<void>;
  /** The object's path on this host, when the store is a local directory (no download needed). */
  localPath?(key: string): string;
  /** A time-limited URL another server can fetch the object from; only stores that have one. */
  presignedGetUrl?(key: string, expiresInSeconds: number): Promise<string>;
  /** Cleans what an interrupted `put` of this key left behind (multipart uploads, partial files). */
  discardUnfinished(key: string): Promise<number>;
  /** Writes under `prefix` that were started and never finished: S3 multipart uploads, fs ".partial" files. */
  listUnfinishedUploads(prefix: string): Promise<UnfinishedUpload[]>;
  /** When an unfinished upload last received data: S3, the later of its start and its newest part. */
  lastWriteOf(upload: UnfinishedUpload): Promise<Date>;
  abortUpload(upload: UnfinishedUpload): Promise<void>;
  close(): void;
}

export class StoreObjectMissing extends Error {
  constructor(readonly key: string, location: string) {
    super(`no object "${key}" in the store ${location}`);
    this.name = 'StoreObjectMissing';
  }
}
