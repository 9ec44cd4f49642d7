import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ApplicationFailure } from '@temporalio/activity';
import type { Readable } from 'node:stream';
import type { MirrorComponent } from '../../config/stacks/mirror.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import { MIRROR_DRILL_PREFIX, normalizeEtag, type MirrorSourceObject } from '../../core/mirror.js';

/** S3 errors no retry can fix: said at once, naming the component and bucket. */
const PERMANENT = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'NoSuchBucket', 'AllAccessDisabled', 'InvalidBucketName']);

/** The source bucket of a mirror component (also the drill's scratch place), with its credentials resolved. */
export class MirrorSource {
  readonly client: S3Client;

  private constructor(
    readonly component: MirrorComponent,
    credentials: { accessKeyId: string; secretAccessKey: string } | undefined,
  ) {
    this.client = new S3Client({
      region: component.region,
      endpoint: component.endpoint,
      forcePathStyle: component.forcePathStyle,
      credentials,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
      maxAttempts: 3,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  static async open(component: MirrorComponent): Promise<MirrorSource> {
    const accessKeyId = await resolveOptionalSecret(component.accessKeyId);
    const secretAccessKey = await resolveOptionalSecret(component.secretAccessKey);
    return new MirrorSource(component, accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined);
  }

  get where(): string {
    return `s3://${this.component.bucket}/${this.component.prefix}${this.component.endpoint ? ` at ${this.component.endpoint}` : ''}`;
  }

  /**
   * Every object under `bucket`/`prefix`, page by page, keys relative to `prefix`. Ragops' own
   * drill scratch prefixes are never part of a mirror.
   */
  async *list(bucket: string, prefix: string, signal?: AbortSignal): AsyncIterable<MirrorSourceObject> {
    for await (const object of this.listOwned(bucket, prefix, signal)) {
      if (object.key.startsWith(MIRROR_DRILL_PREFIX)) continue;
      yield { ...object, key: object.key.slice(prefix.length) };
    }
  }

  /** Every object under `bucket`/`prefix`, page by page, with its whole key. */
  async *listOwned(bucket: string, prefix: string, signal?: AbortSignal): AsyncIterable<MirrorSourceObject> {
    let continuationToken: string | undefined;
    do {
      const page = await this.send(
        () => this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuationToken }), { abortSignal: signal }),
        `list s3://${bucket}/${prefix}`,
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) yield { key: object.Key, size: object.Size ?? 0, etag: normalizeEtag(object.ETag) };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  /**
   * The object's bytes as they were listed: with `etag`, a changed object answers
   * `changed` (412) instead of other bytes, a deleted one `gone` (404).
   */
  async get(bucket: string, key: string, etag: string | undefined, signal?: AbortSignal): Promise<{ body: Readable; size: number; etag: string } | 'changed' | 'gone'> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag ? `"${etag}"` : undefined }), { abortSignal: signal });
      return { body: response.Body as Readable, size: response.ContentLength ?? 0, etag: normalizeEtag(response.ETag) };
    } catch (error) {
      const status = (error as S3ServiceException).$metadata?.httpStatusCode;
      if (status === 412) return 'changed';
      if (status === 404 && (error as Error).name !== 'NoSuchBucket') return 'gone';
      throw this.explain(error, `read s3://${bucket}/${key}`);
    }
  }

  async head(bucket: string, key: string, signal?: AbortSignal): Promise<{ size: number; etag: string } | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      return { size: response.ContentLength ?? 0, etag: normalizeEtag(response.ETag) };
    } catch (error) {
      if ((error as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined;
      throw this.explain(error, `read s3://${bucket}/${key}`);
    }
  }

  /** Streams `body` into `bucket`/`key` (multipart when large); memory stays bounded. */
  async put(bucket: string, key: string, body: Readable, signal?: AbortSignal): Promise<void> {
    const upload = new Upload({ client: this.client, params: { Bucket: bucket, Key: key, Body: body }, partSize: 8 * 1024 * 1024, queueSize: 1, leavePartsOnError: false });
    const abort = () => void upload.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await this.send(() => upload.done(), `write s3://${bucket}/${key}`);
    } catch (error) {
      body.destroy();
      throw error;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  async delete(bucket: string, key: string, signal?: AbortSignal): Promise<void> {
    await this.send(() => this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }), `delete s3://${bucket}/${key}`);
  }

  private async send<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.explain(error, what);
    }
  }

  /** Auth and missing-bucket errors are non-retryable and say what to check; the rest stay retryable. */
  explain(error: unknown, what: string): unknown {
    const name = (error as Error | undefined)?.name ?? '';
    if (!PERMANENT.has(name)) return error;
    const hint = name === 'NoSuchBucket' || name === 'InvalidBucketName'
      ? 'check the bucket name and endpoint in the stacks file'
      : 'check the component\'s accessKeyId and secretAccessKey references and the bucket policy';
    return ApplicationFailure.nonRetryable(
      `mirror ${this.component.name}: cannot ${what}: ${name} (${(error as Error).message}); ${hint}`,
      'MirrorSourceRefused',
    );
  }

  close(): void {
    this.client.destroy();
  }
}

export async function withMirrorSource<T>(component: MirrorComponent, use: (source: MirrorSource) => Promise<T>): Promise<T> {
  const source = await MirrorSource.open(component);
  try {
    return await use(source);
  } finally {
    source.close();
  }
}
