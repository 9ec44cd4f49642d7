// Redis, an S3 bucket mirror and a SQLite exec dump through the real backup, verifyBackup and
// pruneBackups workflows (Temporal dev server, a worker, redis-server, moto, sqlite3), with two
// named plans of their own retention, every artifact encrypted client-side into a moto S3 store
// that is also asked for SSE-KMS.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startBackup, startPrune, startVerify } from '../src/client/api/runbooks.js';
import { manifestSchema, type Manifest } from '../src/config/manifest.js';
import { backupKeys, isMirrorObjectKey } from '../src/core/storeKeys.js';
import { startMoto, type TestMoto } from './support/moto.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { fillKeys, pipelined, startRedis, type TestRedis } from './support/redis.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';

const SOURCE = 'ragops-components-source';
const STORE = 'ragops-components-store';
const PREFIX = 'ragops/';
/** In the database, the Redis values and the mirrored objects: never in what the store holds. */
const MARKER = 'plaintext-marker-3c9e1f';
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/ragops-test';

describe('components through the workflows: Redis, a bucket mirror and a SQLite exec dump, two plans, client-side encryption', () => {
  let temporal: TestTemporal;
  let moto: TestMoto;
  let redis: TestRedis;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const workers: RunningWorker[] = [];
  let taskQueue: string;
  let sqliteDb: string;
  const backups: Record<'hourly1' | 'hourly2' | 'daily', string> = { hourly1: '', hourly2: '', daily: '' };

  const object = (i: number, version = 1) => `object ${i} version ${version} ${MARKER} `.repeat(1 + (i % 5));
  const storeObjects = async () => moto.listKeys(STORE, PREFIX);
  const readStored = async (key: string) => Buffer.from(await (await moto.s3.send(new GetObjectCommand({ Bucket: STORE, Key: key }))).Body!.transformToByteArray());
  const readManifest = async (backupId: string): Promise<Manifest> => manifestSchema.parse(JSON.parse((await readStored(PREFIX + backupKeys.manifest('prod', backupId))).toString()));

  function stacks(keyEnv: string, execArgv?: string[]) {
    const s3 = { endpoint: moto.endpoint, region: moto.region, forcePathStyle: true, accessKeyId: { env: 'TEST_COMP_S3_KEY' }, secretAccessKey: { env: 'TEST_COMP_S3_SECRET' } };
    return {
      stacks: {
        prod: {
          store: {
            type: 's3',
            bucket: STORE,
            prefix: PREFIX,
            ...s3,
            partSizeMiB: 5,
            encryption: { clientSide: { keyId: 'components-key', key: { env: keyEnv } }, sse: { type: 'aws:kms', kmsKeyId: KMS_KEY } },
          },
          redis: [{ name: 'cache', port: redis.port, rdb: { path: redis.rdbPath } }],
          mirrors: [{ name: 'uploads', bucket: SOURCE, prefix: 'docs/', ...s3 }],
          execDumps: [
            {
              name: 'notes',
              extension: '.sql',
              run: { host: { argv: execArgv ?? ['sqlite3', '-readonly', sqliteDb, '.dump'] } },
              drill: {
                restore: ['sqlite3', '-bail', '{scratch}/restored.db'],
                checks: [
                  { name: 'integrity', argv: ['sqlite3', '{scratch}/restored.db', 'PRAGMA integrity_check'], expect: 'ok' },
                  { name: 'rows', argv: ['sqlite3', '{scratch}/restored.db', 'SELECT count(*) FROM notes'], figure: ['sqlite3', '-readonly', sqliteDb, 'SELECT count(*) FROM notes'] },
                ],
              },
            },
          ],
          plans: {
            hourly: { components: ['redis', 'mirror:uploads'], retention: { keepLast: 1, minVerified: 1 } },
            daily: { components: ['exec:notes'], retention: { keepLast: 7 } },
          },
        },
      },
    };
  }

  async function workerWith(stacksFile: unknown): Promise<string> {
    const queue = uniqueName('components');
    workers.push(await startWorker({ address: temporal.address, taskQueue: queue, stacksText: stringify(stacksFile) }));
    return queue;
  }

  before(async () => {
    [temporal, moto, redis, dir] = await Promise.all([startTestTemporal(), startMoto(), startRedis(), tempDir('components')]);
    process.env.TEST_COMP_S3_KEY = moto.accessKeyId;
    // moto takes any key: a random one, so the history check below cannot match a common word ('testing').
    process.env.TEST_COMP_S3_SECRET = `s3-${randomBytes(12).toString('hex')}`;
    process.env.TEST_COMP_ENC_KEY = randomBytes(32).toString('base64');
    process.env.TEST_COMP_WRONG_KEY = randomBytes(32).toString('base64');
    await moto.createBucket(SOURCE);
    await moto.createBucket(STORE);
    for (let start = 0; start < 200; start += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, n) => moto.s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: `docs/${start + n}.txt`, Body: object(start + n) }))));
    }
    const client = await redis.connect();
    await fillKeys(client, 0, 50_000);
    await pipelined(client, [['SELECT', 2], ...Array.from({ length: 100 }, (_, i) => ['SET', `secret:${i}`, `${MARKER} ${i}`])]);
    client.close();
    sqliteDb = join(dir.path, 'notes.db');
    execFileSync('sqlite3', [sqliteDb, `CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO notes SELECT i, '${MARKER} note ' || i FROM n;`]);
    taskQueue = await workerWith(stacks('TEST_COMP_ENC_KEY'));
  });

  after(async () => {
    for (const worker of workers) await worker.stop();
    await Promise.all([temporal?.stop(), moto?.stop(), redis?.stop(), dir?.remove()]);
  });

  test('plan hourly: Redis and the mirror in one backup; the manifest records the plan, the keyspace, the copies and the encryption; the store never sees plaintext; SSE-KMS was asked of S3', async () => {
    const handle = await startBackup(temporal.client, { stack: 'prod', plan: 'hourly' }, { taskQueue });
    const report = await handle.result();
    backups.hourly1 = report.backupId;
    const manifest = await readManifest(report.backupId);
    assert.equal(manifest.plan, 'hourly');
    assert.deepEqual(manifest.artifacts.map((a) => a.component).sort(), ['mirror', 'redis']);
    const rdb = manifest.artifacts.find((a) => a.component === 'redis')!;
    assert.equal(rdb.component === 'redis' && rdb.keyspace.db0?.keys, 50_000);
    assert.equal(rdb.component === 'redis' && rdb.keyspace.db2?.keys, 100);
    const mirror = manifest.artifacts.find((a) => a.component === 'mirror')!;
    assert.equal(mirror.component === 'mirror' && mirror.copied, 200);
    for (const artifact of manifest.artifacts) assert.deepEqual(artifact.encryption, { scheme: 'ragops-aes-256-gcm-stream-v1', keyId: 'components-key' });

    const keys = await storeObjects();
    assert.ok(keys.length >= 203, `${keys.length} objects stored`);
    for (const key of keys) {
      assert.equal((await readStored(key)).includes(MARKER), false, `${key} holds plaintext`);
      const head = await moto.s3.send(new HeadObjectCommand({ Bucket: STORE, Key: key }));
      assert.equal(head.ServerSideEncryption, 'aws:kms', key);
      assert.equal(head.SSEKMSKeyId, KMS_KEY, key);
    }
    const history = await exportHistoryJson(temporal.client, handle.workflowId);
    for (const secret of [process.env.TEST_COMP_ENC_KEY!, process.env.TEST_COMP_S3_SECRET!]) assert.ok(!history.includes(secret), 'a secret reached the history');
  });

  test('plan daily: the SQLite exec dump, and its restore drill passes with the row count it recorded', async () => {
    const report = await (await startBackup(temporal.client, { stack: 'prod', plan: 'daily' }, { taskQueue })).result();
    backups.daily = report.backupId;
    const manifest = await readManifest(report.backupId);
    assert.equal(manifest.plan, 'daily');
    const exec = manifest.artifacts[0]!;
    assert.equal(exec.component === 'exec' && exec.figures.rows, '5000');
    assert.equal((await readStored(PREFIX + exec.key)).includes(MARKER), false, 'the SQLite dump is stored encrypted');
    const drill = await (await startVerify(temporal.client, { stack: 'prod', backupId: report.backupId, depth: 'restore' }, { taskQueue })).result();
    assert.equal(drill.outcome, 'passed', JSON.stringify(drill.checks, null, 2));
    assert.ok(drill.checks.length >= 3 && drill.checks.every((c) => c.component === 'exec'), JSON.stringify(drill.checks));
  });

  test('the second hourly backup copies only the 8 changed or added objects and references the other 195; its plan\'s retention then deletes the first hourly backup and nothing of plan daily', async () => {
    await Promise.all([
      ...Array.from({ length: 5 }, (_, n) => moto.s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: `docs/${n * 31}.txt`, Body: object(n * 31, 2) }))),
      ...Array.from({ length: 3 }, (_, n) => moto.s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: `docs/new-${n}.txt`, Body: object(1000 + n) }))),
    ]);
    const report = await (await startBackup(temporal.client, { stack: 'prod', plan: 'hourly' }, { taskQueue })).result();
    backups.hourly2 = report.backupId;
    const mirror = (await readManifest(report.backupId)).artifacts.find((a) => a.component === 'mirror')!;
    assert.deepEqual(mirror.component === 'mirror' && { objects: mirror.objects, copied: mirror.copied, referenced: mirror.referenced }, { objects: 203, copied: 8, referenced: 195 });

    // keepLast 1 of plan hourly: the first hourly backup goes; the daily one is another plan's.
    assert.deepEqual(report.retention && 'deleted' in report.retention && report.retention.deleted, 1, JSON.stringify(report.retention));
    const keys = await storeObjects();
    assert.ok(!keys.includes(PREFIX + backupKeys.manifest('prod', backups.hourly1)), 'the first hourly backup\'s manifest is deleted');
    assert.ok(keys.includes(PREFIX + backupKeys.manifest('prod', backups.daily)), 'the daily backup is untouched');
    // The bytes the second references are still under the first's prefix; nothing else of it is.
    const leftOfFirst = keys.filter((key) => key.startsWith(PREFIX + backupKeys.prefix('prod', backups.hourly1)));
    assert.equal(leftOfFirst.length, 195, `${leftOfFirst.length} objects left of the first backup`);
    assert.ok(leftOfFirst.every((key) => isMirrorObjectKey(key.slice(PREFIX.length))));
    // ... and they are not a backup of their own.
    const listed = await (await startPrune(temporal.client, { stack: 'prod', plan: 'hourly', dryRun: true }, { taskQueue })).result();
    assert.deepEqual([...listed.kept.map((k) => k.backupId)].sort(), [backups.hourly2, backups.daily].sort());
  });
  test('a restore drill of the second hourly backup: the scratch redis-server holds the manifest\'s keys, the mirror comes back object for object', async () => {
    const drill = await (await startVerify(temporal.client, { stack: 'prod', backupId: backups.hourly2, depth: 'restore' }, { taskQueue })).result();
    assert.equal(drill.outcome, 'passed', JSON.stringify(drill.checks, null, 2));
    assert.ok(drill.checks.some((c) => c.component === 'redis'));
    assert.ok(drill.checks.some((c) => c.component === 'mirror'));
  });

  test('pruning plan daily, then plan hourly, deletes nothing more: each keeps its own', async () => {
    for (const plan of ['daily', 'hourly']) {
      const pruned = await (await startPrune(temporal.client, { stack: 'prod', plan, dryRun: false }, { taskQueue })).result();
      assert.deepEqual(pruned.deleted, [], `plan ${plan}: ${JSON.stringify(pruned.deleted)}`);
    }
  });
  test('two hourly backups pruned in one batch, each referencing the other\'s bytes: the newest still restores object for object', async () => {
    const made: string[] = [];
    for (const version of [3, 4]) {
      await Promise.all(Array.from({ length: 4 }, (_, n) => moto.s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: `docs/${n * 7 + version}.txt`, Body: object(n * 7 + version, version) }))));
      made.push((await (await startBackup(temporal.client, { stack: 'prod', plan: 'hourly', prune: false }, { taskQueue })).result()).backupId);
    }
    // The newest is the restore-verified one minVerified protects, so the two before it both go.
    const drilled = await (await startVerify(temporal.client, { stack: 'prod', backupId: made[1]!, depth: 'restore' }, { taskQueue })).result();
    assert.equal(drilled.outcome, 'passed');
    const pruned = await (await startPrune(temporal.client, { stack: 'prod', plan: 'hourly', dryRun: false }, { taskQueue })).result();
    assert.deepEqual(pruned.deleted.map((d) => d.backupId).sort(), [backups.hourly2, made[0]!].sort());
    const drill = await (await startVerify(temporal.client, { stack: 'prod', backupId: made[1]!, depth: 'restore' }, { taskQueue })).result();
    assert.equal(drill.outcome, 'passed', JSON.stringify(drill.checks, null, 2));
    backups.hourly2 = made[1]!;
  });

  test('drilled with a wrong key, the run stops naming each artifact it could not open, and judges nothing (the backup is not marked bad)', async () => {
    const wrongQueue = await workerWith(stacks('TEST_COMP_WRONG_KEY'));
    const handle = await startVerify(temporal.client, { stack: 'prod', backupId: backups.hourly2, depth: 'restore' }, { taskQueue: wrongQueue });
    const error = await handle.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    const cause = error.cause as Error & { type?: string };
    assert.equal(cause.type, 'DrillInconclusive');
    assert.match(cause.message, new RegExp(`${backupKeys.redisRdb('prod', backups.hourly2, 'cache')}: the key "components-key" cannot decrypt`));
  });

  test('an exec dump whose command exits non-zero fails the backup naming the component and its stderr tail, and writes no manifest', async () => {
    const brokenQueue = await workerWith(stacks('TEST_COMP_ENC_KEY', ['sh', '-c', 'echo partial; echo "Error: unable to open database /srv/notes.db" >&2; exit 5']));
    const before = new Set(await storeObjects());
    const handle = await startBackup(temporal.client, { stack: 'prod', plan: 'daily' }, { taskQueue: brokenQueue });
    await assert.rejects(handle.result(), (error: Error) => {
      const text = `${error.message} ${(error.cause as Error | undefined)?.message ?? ''} ${((error.cause as Error | undefined)?.cause as Error | undefined)?.message ?? ''}`;
      assert.match(text, /exec dump notes .*exit code 5.*Error: unable to open database \/srv\/notes\.db/s);
      return true;
    });
    const added = (await storeObjects()).filter((key) => !before.has(key));
    assert.ok(!added.some((key) => key.endsWith('manifest.json')), `no manifest: ${added.join(', ')}`);
  });
});
