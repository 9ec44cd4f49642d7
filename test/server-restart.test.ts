import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { startBackup } from '../src/client/api/runbooks.js';
import { findFreePort, startTemporalDevServer, type DevServer } from '../src/client/dev/devserver.js';
import { backupKeys } from '../src/core/storeKeys.js';
import { addBulkTable, pendingActivityBytes } from './support/crash.js';
import { s3StoreConfig, startMoto, type TestMoto } from './support/moto.js';
import { createTestDatabase, seedRagDatabase, type TestDatabase } from './support/postgres.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { keysOfBackup, readManifest, restoreAndCount, s3Objects } from './support/verify.js';

// How long the server stays down: long enough that polls and heartbeats meet a dead server.
// RAGOPS_TEST_SERVER_DOWN_MS=60000 plays a one-minute restart: the dump then finishes while
// the server is down, the SDK drops its completion after ~10 s of retries, and the activity
// runs again after its heartbeat timeout; the worker's polls retry without giving up.
const DOWN_MS = Number(process.env.RAGOPS_TEST_SERVER_DOWN_MS ?? 2_000);
const BUCKET = 'ragops-backups';
const PREFIX = 'restart/';

let dir: { path: string; remove(): Promise<void> };
let moto: TestMoto;
let db: TestDatabase;
let server: DevServer | undefined;
let worker: WorkerProcess | undefined;
const secretEnv = { TEST_PG_PASSWORD: `pg-${randomBytes(12).toString('hex')}`, TEST_S3_ACCESS_KEY: 'test-access-key', TEST_S3_SECRET_KEY: `s3-${randomBytes(12).toString('hex')}` };

before(async () => {
  [dir, moto, db] = await Promise.all([tempDir('server-restart'), startMoto(), createTestDatabase('restart')]);
  await moto.createBucket(BUCKET);
  await seedRagDatabase(db.name, { documents: 2_000 });
  await addBulkTable(db);
});
after(async () => {
  await worker?.stop();
  await server?.stop();
  await Promise.allSettled([moto?.stop(), db?.drop()]);
  await dir?.remove();
});

async function connect(address: string): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection, namespace: 'default' }), close: () => connection.close() };
}

test('the Temporal server killed (SIGKILL) and restarted on its database file mid pg_dump: the backup completes, one dump, one manifest', async () => {
  const dbFilename = join(dir.path, 'temporal.db');
  const port = await findFreePort();
  const devServer = () => startTemporalDevServer({ headless: true, dbFilename, port, logFile: join(dir.path, 'temporal.log') });
  server = await devServer();

  const configPath = await writeStacksFile(dir.path, {
    stacks: {
      prod: {
        postgres: [{ name: 'app', host: '127.0.0.1', port: 5432, database: db.name, user: 'postgres', password: { env: 'TEST_PG_PASSWORD' } }],
        store: s3StoreConfig(moto, BUCKET, PREFIX),
      },
    },
  });
  const taskQueue = uniqueName('restart');
  worker = spawnWorkerProcess({ address: server.address, taskQueue, configPath, env: secretEnv });

  const first = await connect(server.address);
  let workflowId: string;
  let bytesAtKill = 0;
  try {
    const handle = await startBackup(first.client, { stack: 'prod', components: ['postgres'] }, { taskQueue });
    workflowId = handle.workflowId;
    for (let i = 0; i < 600 && bytesAtKill === 0; i += 1) {
      bytesAtKill = await pendingActivityBytes(first.client, workflowId, 'dumpPostgres');
      if (bytesAtKill === 0) await sleep(100);
    }
  } finally {
    await first.close();
  }
  assert.ok(bytesAtKill > 0, `the dump never reported progress; worker output:\n${worker.output()}`);

  await server.kill('SIGKILL');
  await sleep(DOWN_MS);
  server = await devServer();
  assert.equal(worker.process.exitCode, null, `the worker gave up while the server was down:\n${worker.output()}`);

  const second = await connect(server.address);
  try {
    const report = await Promise.race([
      second.client.workflow.getHandle(workflowId).result(),
      sleep(180_000, undefined, { ref: false }).then(() => assert.fail(`the backup did not finish within 180 s of the restart; worker output:\n${worker?.output()}`)),
    ]);
    const objects = s3Objects(moto, BUCKET, PREFIX);
    const manifest = await readManifest(objects, report.manifestKey);
    const dumpKey = backupKeys.postgresDump('prod', report.backupId, 'app');
    assert.ok(manifest.artifacts.some((artifact) => artifact.key === dumpKey));
    assert.deepEqual((await moto.listKeys(BUCKET, PREFIX)).sort(), keysOfBackup(manifest, report.manifestKey).map((key) => PREFIX + key), 'one dump (and its roles file), one manifest');
    assert.deepEqual(await moto.listUnfinishedUploads(BUCKET, PREFIX), []);
    const dump = manifest.artifacts[0];
    assert.ok(dump?.component === 'postgres' && dump.size > bytesAtKill);
    assert.equal(dump.tables['public.bulk'], 1_000_000);
    assert.deepEqual(await restoreAndCount(objects, dump.key), dump.tables);
    assert.equal(worker.process.exitCode, null, 'the worker is still serving');
  } finally {
    await second.close();
  }
});
