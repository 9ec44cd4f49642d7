import { QdrantClient } from '@qdrant/js-client-rest';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup } from '../src/client/api/runbooks.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { pendingActivityBytes } from './support/crash.js';
import { listDatabases } from './support/postgres.js';
import { spawnWorkerProcess, uniqueName, writeStacksFile } from './support/ragops.js';
import { useBackupSuite } from './support/suite.js';

const suite = useBackupSuite('drill-crash', { documents: 10_000, bulkRows: 1_000_000 });

test('a worker killed with SIGKILL during a restore-depth drill: a new worker completes it, no scratch database or collection is left', async () => {
  const configPath = await writeStacksFile(suite.dir.path, suite.fixture.stacks({ store: 's3', prefix: 'drill-crash/' }));
  const taskQueue = uniqueName('drill-crash');
  const start = () => {
    const worker = spawnWorkerProcess({ address: suite.fixture.temporal.address, taskQueue, configPath, env: suite.fixture.secretEnv });
    suite.workers.push(worker);
    return worker;
  };
  const first = start();
  const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod' }, { taskQueue })).result();
  const handle = await suite.fixture.temporal.client.workflow.start('verifyBackup', {
    taskQueue,
    workflowId: uniqueName('drill'),
    args: [{ stack: 'prod', backupId: backup.backupId, depth: 'restore' }],
  });
  let bytesAtKill = 0;
  for (let i = 0; i < 900 && bytesAtKill === 0; i += 1) {
    bytesAtKill = await pendingActivityBytes(suite.fixture.temporal.client, handle.workflowId, 'drillPostgresRestore');
    if (bytesAtKill === 0) await sleep(100);
  }
  assert.ok(bytesAtKill > 0, `the restore never reported progress; worker output:\n${first.output()}`);
  assert.equal((await listDatabases('ragops_drill_')).length, 1, 'the scratch database exists while the drill runs');
  first.kill('SIGKILL');
  assert.equal((await first.process).signal, 'SIGKILL');

  start();
  const report = (await handle.result()) as VerifyReport;
  assert.equal(report.passed, true);
  assert.ok(report.checks.some((check) => check.name === 'row counts' && check.passed));
  assert.deepEqual(await listDatabases('ragops_drill_'), []);
  const qdrant = new QdrantClient({ url: suite.fixture.qdrant.url, apiKey: suite.fixture.qdrant.apiKey, checkCompatibility: false });
  assert.deepEqual((await qdrant.getCollections()).collections.map((c) => c.name).sort(), ['docs_v1', 'faq']);
});
