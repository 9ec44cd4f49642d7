// What the tests run against: the Qdrant stand-in and moto by default, or a real Qdrant and a
// real S3/MinIO when an operator sets these (see docs/testing-against-real-services.md):
//
//   RAGOPS_TEST_QDRANT_URL       e.g. http://127.0.0.1:6333
//   RAGOPS_TEST_QDRANT_API_KEY   the server's full-access key, if it has one
//   RAGOPS_TEST_S3_ENDPOINT      e.g. http://127.0.0.1:9000
//   RAGOPS_TEST_S3_ACCESS_KEY    required with RAGOPS_TEST_S3_ENDPOINT
//   RAGOPS_TEST_S3_SECRET_KEY    required with RAGOPS_TEST_S3_ENDPOINT
//   RAGOPS_TEST_S3_REGION        default us-east-1
//
// A real server is only cleaned up after, never reset before: handles remember what existed
// when they were made and stop() removes only what appeared since. Use a throwaway server.
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { listKeys, listUnfinishedUploads, startMoto, type TestMoto } from './moto.js';
import { startQdrantStandin, type QdrantFaults, type QdrantStandin, type QdrantStandinOptions } from './qdrant/index.js';

export type QdrantUnderTest = QdrantStandin & {
  /** True when this is a real Qdrant (RAGOPS_TEST_QDRANT_URL): no faults, no snapshotsDir. */
  external: boolean;
};

export type S3UnderTest = TestMoto & {
  /** True when this is a real S3/MinIO (RAGOPS_TEST_S3_ENDPOINT): no pause/resume. */
  external: boolean;
};

const env = (name: string): string | undefined => process.env[name] || undefined;

/** Whether the Qdrant tests run against a real server (known before any test starts). */
export const qdrantIsExternal = env('RAGOPS_TEST_QDRANT_URL') !== undefined;
/** Whether the S3 tests run against a real S3/MinIO (known before any test starts). */
export const s3IsExternal = env('RAGOPS_TEST_S3_ENDPOINT') !== undefined;

/**
 * For `test(name, { skip: requiresStandin('fault injection') }, fn)`: false with the stand-in,
 * the reason to print when RAGOPS_TEST_QDRANT_URL points at a real Qdrant.
 */
export function requiresStandin(why: string): string | false {
  return qdrantIsExternal && `needs the Qdrant stand-in (${why}); RAGOPS_TEST_QDRANT_URL is set`;
}

/** Like requiresStandin, for tests that need moto (RAGOPS_TEST_S3_ENDPOINT is set). */
export function requiresMoto(why: string): string | false {
  return s3IsExternal && `needs moto (${why}); RAGOPS_TEST_S3_ENDPOINT is set`;
}

// ---------------------------------------------------------------------------------------------
// Qdrant

/**
 * The Qdrant to test against: with RAGOPS_TEST_QDRANT_URL, that server (its key from
 * RAGOPS_TEST_QDRANT_API_KEY; `opts` are ignored); otherwise a fresh stand-in started with `opts`.
 */
export async function qdrantUnderTest(opts: Pick<QdrantStandinOptions, 'apiKey' | 'readOnlyApiKey'> = {}): Promise<QdrantUnderTest> {
  const url = env('RAGOPS_TEST_QDRANT_URL');
  if (url === undefined) return Object.assign(await startQdrantStandin(opts), { external: false });
  return externalQdrant(url.replace(/\/+$/, ''), env('RAGOPS_TEST_QDRANT_API_KEY'));
}

interface QdrantState {
  collections: Set<string>;
  aliases: Set<string>;
}

async function externalQdrant(url: string, apiKey: string | undefined): Promise<QdrantUnderTest> {
  const call = async (method: string, path: string, body?: unknown): Promise<any> => {
    const headers: Record<string, string> = apiKey ? { 'api-key': apiKey } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new Error(`Qdrant at ${url} (RAGOPS_TEST_QDRANT_URL) did not answer ${method} ${path}: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`Qdrant at ${url} (RAGOPS_TEST_QDRANT_URL) answered ${method} ${path} with ${response.status}: ${text.slice(0, 300)}`);
    }
    return JSON.parse(text).result;
  };
  const state = async (): Promise<QdrantState> => {
    const [collections, aliases] = await Promise.all([call('GET', '/collections'), call('GET', '/aliases')]);
    return {
      collections: new Set((collections.collections as { name: string }[]).map((c) => c.name)),
      aliases: new Set((aliases.aliases as { alias_name: string }[]).map((a) => a.alias_name)),
    };
  };

  const before = await state();
  let stopped: Promise<void> | undefined;
  const cleanUp = async (): Promise<void> => {
    const now = await state();
    const errors: string[] = [];
    // Aliases first: a new alias may point at a collection that was there before.
    const newAliases = [...now.aliases].filter((alias) => !before.aliases.has(alias));
    if (newAliases.length > 0) {
      await call('POST', '/collections/aliases', { actions: newAliases.map((alias_name) => ({ delete_alias: { alias_name } })) })
        .catch((error: Error) => errors.push(error.message));
    }
    for (const collection of [...now.collections].filter((name) => !before.collections.has(name))) {
      const path = `/collections/${encodeURIComponent(collection)}`;
      try {
        // Snapshot files may outlive their collection on disk: remove them explicitly.
        for (const snapshot of (await call('GET', `${path}/snapshots`)) as { name: string }[]) {
          await call('DELETE', `${path}/snapshots/${encodeURIComponent(snapshot.name)}`);
        }
        await call('DELETE', path);
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    if (errors.length > 0) throw new Error(`cleaning up the Qdrant at ${url} left things behind:\n${errors.join('\n')}`);
  };

  return {
    url,
    apiKey,
    external: true,
    faults: faultsUnavailable(url),
    snapshotsDir: '',
    stop: () => (stopped ??= cleanUp()),
  };
}

/** A QdrantFaults whose every use throws: a real server cannot be made to misbehave on demand. */
function faultsUnavailable(url: string): QdrantFaults {
  const refuse = (property: string | symbol): never => {
    throw new Error(
      `fault injection needs the stand-in: faults.${String(property)} is not available against the real Qdrant at ${url} ` +
        `(RAGOPS_TEST_QDRANT_URL is set); skip this test when the target is external`,
    );
  };
  return new Proxy({} as QdrantFaults, {
    // Symbols and `then` are probed by inspection and by await: answer "nothing here" to those.
    get: (_target, property) => (typeof property === 'symbol' || property === 'then' ? undefined : refuse(property)),
    set: (_target, property) => refuse(property),
  });
}

// ---------------------------------------------------------------------------------------------
// S3

/**
 * The S3 to test against: with RAGOPS_TEST_S3_ENDPOINT, that endpoint (path-style, credentials from
 * RAGOPS_TEST_S3_ACCESS_KEY / RAGOPS_TEST_S3_SECRET_KEY); otherwise a fresh moto server.
 */
export async function s3UnderTest(): Promise<S3UnderTest> {
  const endpoint = env('RAGOPS_TEST_S3_ENDPOINT');
  if (endpoint === undefined) return Object.assign(await startMoto(), { external: false });
  const accessKeyId = env('RAGOPS_TEST_S3_ACCESS_KEY');
  const secretAccessKey = env('RAGOPS_TEST_S3_SECRET_KEY');
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new Error('RAGOPS_TEST_S3_ENDPOINT is set: set RAGOPS_TEST_S3_ACCESS_KEY and RAGOPS_TEST_S3_SECRET_KEY too');
  }
  return externalS3(endpoint.replace(/\/+$/, ''), env('RAGOPS_TEST_S3_REGION') ?? 'us-east-1', accessKeyId, secretAccessKey);
}

function externalS3(endpoint: string, region: string, accessKeyId: string, secretAccessKey: string): S3UnderTest {
  const s3 = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  /** Buckets this handle created: the only ones stop() empties and deletes. */
  const created = new Set<string>();
  const needsMoto = (what: string): never => {
    throw new Error(`${what} needs moto: the S3 at ${endpoint} (RAGOPS_TEST_S3_ENDPOINT) cannot be frozen; skip this test when the target is external`);
  };

  const exists = async (bucket: string): Promise<boolean> => {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch {
      // 404, or 403 for a bucket someone else owns: CreateBucket then gives the telling error.
      return false;
    }
  };

  const removeBucket = async (bucket: string): Promise<void> => {
    for (const upload of await listUnfinishedUploads(s3, bucket)) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId }));
    }
    const keys = await listKeys(s3, bucket);
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(keys.slice(i, i + 16).map((key) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  };

  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    s3,
    external: true,
    async createBucket(name) {
      if (await exists(name)) return; // already there and ours: use it, and leave it alone on stop()
      try {
        await s3.send(new CreateBucketCommand({
          Bucket: name,
          CreateBucketConfiguration: region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
        }));
      } catch (error) {
        if ((error as Error).name === 'BucketAlreadyOwnedByYou') return;
        throw error;
      }
      created.add(name);
    },
    listUnfinishedUploads: (bucket, prefix) => listUnfinishedUploads(s3, bucket, prefix),
    listKeys: (bucket, prefix) => listKeys(s3, bucket, prefix),
    pause: () => needsMoto('pause()'),
    resume: () => needsMoto('resume()'),
    stop: () =>
      (stopped ??= (async () => {
        const results = await Promise.allSettled([...created].map(removeBucket));
        s3.destroy();
        const errors = results.flatMap((result, i) =>
          result.status === 'rejected' ? [`bucket ${[...created][i]}: ${(result.reason as Error).message}`] : []);
        if (errors.length > 0) throw new Error(`cleaning up the S3 at ${endpoint} left buckets behind:\n${errors.join('\n')}`);
      })()),
  };
}
