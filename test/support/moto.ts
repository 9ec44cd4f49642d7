// A moto S3 server on a free loopback port, with an S3 client and a few inspection helpers.
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  CreateBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { findFreePort } from '../../src/client/dev/devserver.js';

const MOTO_SERVER = fileURLToPath(new URL('../../.venv/bin/moto_server', import.meta.url));

export interface UnfinishedUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

export interface TestMoto {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  s3: S3Client;
  createBucket(name: string): Promise<void>;
  /** Multipart uploads that were started and neither completed nor aborted. */
  listUnfinishedUploads(bucket: string, prefix?: string): Promise<UnfinishedUpload[]>;
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /** Freezes the server (SIGSTOP): connections open but nothing answers until resume(). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<TestMoto> {
  const port = await findFreePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = execa(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cleanup: true,
  });
  // moto logs a line per request: keep only the tail, for error messages.
  let outputTail = '';
  for (const stream of [server.stdout, server.stderr]) {
    stream?.on('data', (chunk: Buffer) => (outputTail = (outputTail + chunk.toString()).slice(-4000)));
  }
  let exited = false;
  const exit = server.then((result) => {
    exited = true;
    return result;
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    server.kill('SIGCONT'); // a stopped process would not act on SIGTERM
    server.kill('SIGTERM');
    const killTimer = setTimeout(() => server.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(killTimer);
  };

  try {
    await waitUntilAnswering(endpoint, () => exited);
  } catch (error) {
    await stop();
    throw new Error(`moto_server (${MOTO_SERVER}) did not start on ${endpoint}: ${(error as Error).message}\n${outputTail}`);
  }

  const region = 'us-east-1';
  const accessKeyId = 'testing';
  const secretAccessKey = 'testing';
  const s3 = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });

  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    s3,
    async createBucket(name) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    },
    listUnfinishedUploads: (bucket, prefix) => listUnfinishedUploads(s3, bucket, prefix),
    listKeys: (bucket, prefix) => listKeys(s3, bucket, prefix),
    pause() {
      server.kill('SIGSTOP');
    },
    resume() {
      server.kill('SIGCONT');
    },
    async stop() {
      s3.destroy();
      await stop();
    },
  };
}

/** Multipart uploads in `bucket` (under `prefix`) that were started and neither completed nor aborted. */
export async function listUnfinishedUploads(s3: S3Client, bucket: string, prefix?: string): Promise<UnfinishedUpload[]> {
  const uploads: UnfinishedUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const upload of page.Uploads ?? []) {
      uploads.push({ key: upload.Key ?? '', uploadId: upload.UploadId ?? '', initiated: upload.Initiated });
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return uploads;
}

/** Every object key in `bucket` (under `prefix`), following continuation tokens. */
export async function listKeys(s3: S3Client, bucket: string, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function waitUntilAnswering(endpoint: string, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error('the process exited');
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`no answer after 30 s (${lastError})`);
}

/** A stacks-file S3 store on this server, its keys referenced by the given environment variable names. */
export function s3StoreConfig(
  server: { endpoint: string; region: string },
  bucket: string,
  prefix: string,
  env: { accessKeyId: string; secretAccessKey: string } = { accessKeyId: 'TEST_S3_ACCESS_KEY', secretAccessKey: 'TEST_S3_SECRET_KEY' },
): Record<string, unknown> {
  return {
    type: 's3',
    bucket,
    prefix,
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    accessKeyId: { env: env.accessKeyId },
    secretAccessKey: { env: env.secretAccessKey },
    partSizeMiB: 5,
  };
}
