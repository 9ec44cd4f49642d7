import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  NoSuchKey,
  NotFound,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import type { S3StoreConfig } from '../../config/stacks/index.js';
import { storeLocation } from './location.js';
import { s3EncryptionParams } from './encryption.js';
import { StoreObjectMissing, type ArtifactStore, type StoredObject, type UnfinishedUpload } from './types.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** An S3 (or MinIO) bucket prefix as a store; writes are streamed multipart uploads. */
export class S3Store implements ArtifactStore {
  readonly location: string;
  private readonly client: S3Client;

  constructor(
    private readonly config: S3StoreConfig,
    credentials: S3Credentials | undefined,
  ) {
    this.location = storeLocation(config);
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials,
      // Without timeouts a stalled S3 endpoint hangs a request forever; the activity's
      // heartbeat timeout would catch it, but an error that says "timed out" is clearer.
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
      maxAttempts: 3,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private objectKey(key: string): string {
    return this.config.prefix + key;
  }

  async put(key: string, body: Readable, options: { signal?: AbortSignal; contentType?: string } = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.config.bucket,
        Key: this.objectKey(key),
        Body: body,
        ContentType: options.contentType,
        ...s3EncryptionParams(this.config.encryption, new Date()),
        // Object Lock refuses a PutObject without an integrity checksum.
        ...(this.config.encryption?.objectLock ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
      },
      partSize: this.config.partSizeMiB * 1024 * 1024,
      queueSize: this.config.uploadConcurrency,
      leavePartsOnError: false,
    });
    const abortUpload = () => void upload.abort();
    options.signal?.addEventListener('abort', abortUpload, { once: true });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      // lib-storage aborts its multipart upload on most failures, but not when the abort
      // call itself fails or the upload was cancelled mid-part; sweep this key to be sure.
      await this.discardUnfinished(key).catch(() => 0);
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', abortUpload);
    }
  }

  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }),
        { abortSignal: options.signal },
      );
      return response.Body as Readable;
    } catch (error) {
      if (error instanceof NoSuchKey) throw new StoreObjectMissing(key, this.location);
      throw error;
    }
  }

  async presignedGetUrl(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }), {
      expiresIn: expiresInSeconds,
    });
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (error) {
      if (error instanceof NotFound || (error as { name?: string }).name === 'NotFound') return false;
      throw error;
    }
  }

  async *list(prefix: string, options: { startAfter?: string } = {}): AsyncIterable<StoredObject> {
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: this.objectKey(prefix),
          StartAfter: options.startAfter === undefined ? undefined : this.objectKey(options.startAfter),
          ContinuationToken: continuationToken,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        yield {
          key: object.Key.slice(this.config.prefix.length),
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
  }

  async listUnfinishedUploads(prefix: string): Promise<UnfinishedUpload[]> {
    const uploads: UnfinishedUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.config.bucket,
          Prefix: this.objectKey(prefix),
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId) continue;
        uploads.push({
          key: upload.Key.slice(this.config.prefix.length),
          uploadId: upload.UploadId,
          initiated: upload.Initiated ?? new Date(0),
        });
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return uploads;
  }

  async lastWriteOf(upload: UnfinishedUpload): Promise<Date> {
    let latest = upload.initiated.getTime();
    let partNumberMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListPartsCommand({ Bucket: this.config.bucket, Key: this.objectKey(upload.key), UploadId: upload.uploadId, PartNumberMarker: partNumberMarker }),
      );
      for (const part of page.Parts ?? []) latest = Math.max(latest, part.LastModified?.getTime() ?? 0);
      partNumberMarker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (partNumberMarker);
    return new Date(latest);
  }

  async abortUpload(upload: UnfinishedUpload): Promise<void> {
    await this.client.send(
      new AbortMultipartUploadCommand({
        Bucket: this.config.bucket,
        Key: this.objectKey(upload.key),
        UploadId: upload.uploadId,
      }),
    );
  }

  async discardUnfinished(key: string): Promise<number> {
    const uploads = (await this.listUnfinishedUploads(key)).filter((upload) => upload.key === key);
    await Promise.all(uploads.map((upload) => this.abortUpload(upload)));
    return uploads.length;
  }

  close(): void {
    this.client.destroy();
  }
}
