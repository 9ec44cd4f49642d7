// The backup fixture every backup-related test uses: a seeded database, two Qdrant
// collections behind an alias, moto S3, a Temporal dev server, and secrets to look for.
import { QdrantClient } from '@qdrant/js-client-rest';
import { randomBytes } from 'node:crypto';
import { startMoto, type TestMoto } from './moto.js';
import { createTestDatabase, seedRagDatabase, type TestDatabase } from './postgres.js';
import { startQdrantStandin, type QdrantStandin } from './qdrant/index.js';
import { startTestTemporal, type TestTemporal } from './temporal.js';

export interface BackupFixture {
  temporal: TestTemporal;
  moto: TestMoto;
  qdrant: QdrantStandin;
  db: TestDatabase;
  bucket: string;
  seededCounts: Record<string, number>;
  secrets: { pgPassword: string; s3SecretKey: string; qdrantApiKey: string };
  /** Environment the worker needs: the secrets, by the names the stacks file references. */
  secretEnv: Record<string, string>;
  stacks(options: { store: 'fs' | 's3'; fsPath?: string; prefix?: string }): unknown;
  stop(): Promise<void>;
}

export async function seedQdrant(qdrant: QdrantStandin): Promise<void> {
  const client = new QdrantClient({ url: qdrant.url, apiKey: qdrant.apiKey, checkCompatibility: false });
  await client.createCollection('docs_v1', { vectors: { size: 8, distance: 'Cosine' } });
  await client.createCollection('faq', { vectors: { size: 4, distance: 'Euclid' } });
  const vector = (seed: number, size: number) => Array.from({ length: size }, (_, i) => Math.sin(seed * 7 + i) + 1.5);
  await client.upsert('docs_v1', {
    wait: true,
    points: Array.from({ length: 300 }, (_, i) => ({ id: i + 1, vector: vector(i, 8), payload: { chunk: i } })),
  });
  await client.upsert('faq', {
    wait: true,
    points: Array.from({ length: 40 }, (_, i) => ({ id: i + 1, vector: vector(i, 4), payload: { q: `question ${i}` } })),
  });
  await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: 'docs_v1', alias_name: 'docs' } }] });
}

export async function startBackupFixture(options: { documents: number }): Promise<BackupFixture> {
  const secrets = {
    pgPassword: `pg-${randomBytes(12).toString('hex')}`,
    s3SecretKey: `s3-${randomBytes(12).toString('hex')}`,
    qdrantApiKey: `qd-${randomBytes(12).toString('hex')}`,
  };
  const [temporal, moto, qdrant, db] = await Promise.all([
    startTestTemporal(),
    startMoto(),
    startQdrantStandin({ apiKey: secrets.qdrantApiKey }),
    createTestDatabase('backup'),
  ]);
  const seededCounts = await seedRagDatabase(db.name, { documents: options.documents });
  await seedQdrant(qdrant);
  const bucket = 'ragops-backups';
  await moto.createBucket(bucket);
  const secretEnv = {
    TEST_PG_PASSWORD: secrets.pgPassword,
    TEST_S3_ACCESS_KEY: 'test-access-key',
    TEST_S3_SECRET_KEY: secrets.s3SecretKey,
    TEST_QDRANT_API_KEY: secrets.qdrantApiKey,
  };
  Object.assign(process.env, secretEnv);
  return {
    temporal,
    moto,
    qdrant,
    db,
    bucket,
    seededCounts,
    secrets,
    secretEnv,
    stacks: ({ store, fsPath, prefix = 'ragops/' }) => ({
      stacks: {
        prod: {
          postgres: [
            { name: 'app', host: '127.0.0.1', port: 5432, database: db.name, user: 'postgres', password: { env: 'TEST_PG_PASSWORD' } },
          ],
          qdrant: { url: qdrant.url, apiKey: { env: 'TEST_QDRANT_API_KEY' }, collections: ['*'] },
          store:
            store === 'fs'
              ? { type: 'fs', path: fsPath }
              : {
                  type: 's3',
                  bucket,
                  prefix,
                  endpoint: moto.endpoint,
                  region: moto.region,
                  forcePathStyle: true,
                  accessKeyId: { env: 'TEST_S3_ACCESS_KEY' },
                  secretAccessKey: { env: 'TEST_S3_SECRET_KEY' },
                  partSizeMiB: 5,
                },
        },
      },
    }),
    async stop() {
      await Promise.allSettled([temporal.stop(), moto.stop(), qdrant.stop(), db.drop()]);
    },
  };
}
