// The backup fixture every backup-related test uses: a seeded database, two Qdrant
// collections behind an alias, moto S3, a Temporal dev server, and secrets to look for.
// Qdrant and S3 are the stand-in and moto unless RAGOPS_TEST_QDRANT_URL / RAGOPS_TEST_S3_ENDPOINT
// point at real ones (test/support/targets.ts); then the secrets are those servers' keys.
import { QdrantClient } from '@qdrant/js-client-rest';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, seedRagDatabase, type TestDatabase } from './postgres.js';
import type { QdrantStandin } from './qdrant/index.js';
import { qdrantUnderTest, s3UnderTest, type QdrantUnderTest, type S3UnderTest } from './targets.js';
import { startTestTemporal, type TestTemporal } from './temporal.js';
import { s3StoreConfig } from './moto.js';

export interface BackupFixture {
  temporal: TestTemporal;
  /** moto, or the real S3 of RAGOPS_TEST_S3_ENDPOINT (`external`). */
  moto: S3UnderTest;
  /** The stand-in, or the real Qdrant of RAGOPS_TEST_QDRANT_URL (`external`: no faults). */
  qdrant: QdrantUnderTest;
  db: TestDatabase;
  bucket: string;
  seededCounts: Record<string, number>;
  /** Values that must never reach workflow history; qdrantApiKey is absent for a real Qdrant without a key. */
  secrets: { pgPassword: string; s3SecretKey: string; qdrantApiKey?: string };
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
  const qdrantApiKey = `qd-${randomBytes(12).toString('hex')}`;
  const [temporal, moto, qdrant, db] = await Promise.all([
    startTestTemporal(),
    s3UnderTest(),
    qdrantUnderTest({ apiKey: qdrantApiKey }),
    createTestDatabase('backup'),
  ]);
  const stopAll = async () => {
    await Promise.allSettled([temporal.stop(), moto.stop(), qdrant.stop(), db.drop()]);
  };
  // With a real S3 the secret key is the server's own; a real Qdrant's key (if it has one) likewise.
  const secrets = {
    pgPassword: `pg-${randomBytes(12).toString('hex')}`,
    s3SecretKey: moto.external ? moto.secretAccessKey : `s3-${randomBytes(12).toString('hex')}`,
    ...(qdrant.apiKey ? { qdrantApiKey: qdrant.apiKey } : {}),
  };
  // A fresh bucket on a real S3, so stop() can remove it whole; moto is fresh anyway.
  const bucket = moto.external ? `ragops-backups-${randomBytes(6).toString('hex')}` : 'ragops-backups';
  let seededCounts: Record<string, number>;
  try {
    if (qdrant.external) await assertNoCollections(qdrant);
    seededCounts = await seedRagDatabase(db.name, { documents: options.documents });
    await seedQdrant(qdrant);
    await moto.createBucket(bucket);
  } catch (error) {
    await stopAll();
    throw error;
  }
  const secretEnv: Record<string, string> = {
    TEST_PG_PASSWORD: secrets.pgPassword,
    TEST_S3_ACCESS_KEY: moto.external ? moto.accessKeyId : 'test-access-key',
    TEST_S3_SECRET_KEY: secrets.s3SecretKey,
    ...(secrets.qdrantApiKey ? { TEST_QDRANT_API_KEY: secrets.qdrantApiKey } : {}),
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
          qdrant: {
            url: qdrant.url,
            ...(secrets.qdrantApiKey ? { apiKey: { env: 'TEST_QDRANT_API_KEY' } } : {}),
            collections: ['*'],
          },
          store:
            store === 'fs'
              ? { type: 'fs', path: fsPath }
              : s3StoreConfig(moto, bucket, prefix),
        },
      },
    }),
    stop: stopAll,
  };
}

/** The backups cover every collection ('*') and the tests count what they hold: a real Qdrant must start empty. */
async function assertNoCollections(qdrant: QdrantUnderTest): Promise<void> {
  const client = new QdrantClient({ url: qdrant.url, apiKey: qdrant.apiKey, checkCompatibility: false });
  const [{ collections }, { aliases }] = await Promise.all([client.getCollections(), client.getAliases()]);
  if (collections.length > 0 || aliases.length > 0) {
    const found = [...collections.map((c) => c.name), ...aliases.map((a) => `alias ${a.alias_name}`)].join(', ');
    throw new Error(
      `the backup tests back up every collection, so the Qdrant at ${qdrant.url} (RAGOPS_TEST_QDRANT_URL) must have none; found: ${found}`,
    );
  }
}
