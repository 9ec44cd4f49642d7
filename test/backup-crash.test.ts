import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup } from '../src/client/api/runbooks.js';
import { pendingActivityBytes } from './support/crash.js';
import { spawnWorkerProcess, uniqueName, writeStacksFile } from './support/ragops.js';
import { exportHistoryJson } from './support/temporal.js';
import { keysOfBackup, readManifest, restoreAndCount, s3Objects } from './support/verify.js';
import { backupKeys } from '../src/core/storeKeys.js';
import { useBackupSuite } from './support/suite.js';

const suite = useBackupSuite('crash', { documents: 20_000, bulkRows: 1_000_000 });

test('a worker killed with SIGKILL mid pg_dump: a new worker finishes the run, one dump, one manifest, no open uploads', async () => {
  const prefix = 'crash/';
  const configPath = await writeStacksFile(suite.dir.path, suite.fixture.stacks({ store: 's3', prefix }));
  const taskQueue = uniqueName('crash');
  const start = () => {
    const worker = spawnWorkerProcess({ address: suite.fixture.temporal.address, taskQueue, configPath, env: suite.fixture.secretEnv });
    suite.workers.push(worker);
    return worker;
  };

  const first = start();
  const handle = await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['postgres'] }, { taskQueue });
  let bytesAtKill = 0;
  for (let i = 0; i < 600 && bytesAtKill === 0; i += 1) {
    bytesAtKill = await pendingActivityBytes(suite.fixture.temporal.client, handle.workflowId, 'dumpPostgres');
    if (bytesAtKill === 0) await sleep(100);
  }
  assert.ok(bytesAtKill > 0, `the dump never reported progress; worker output:\n${first.output()}`);
  first.kill('SIGKILL');
  const exit = await first.process;
  assert.equal(exit.signal, 'SIGKILL');

  const second = start();
  const report = await handle.result();
  const objects = s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix);
  const manifest = await readManifest(objects, report.manifestKey);
  const dumpKey = backupKeys.postgresDump('prod', report.backupId, 'app');
  assert.ok(manifest.artifacts.some((artifact) => artifact.key === dumpKey));
  assert.deepEqual(
    (await suite.fixture.moto.listKeys(suite.fixture.bucket, prefix)).sort(),
    keysOfBackup(manifest, report.manifestKey).map((key) => prefix + key),
    'one dump (and its roles file), one manifest, nothing else',
  );
  assert.deepEqual(await suite.fixture.moto.listUnfinishedUploads(suite.fixture.bucket, prefix), []);
  const dump = manifest.artifacts[0];
  assert.ok(dump?.component === 'postgres' && dump.size > bytesAtKill);
  assert.equal(dump.tables['public.bulk'], 1_000_000);
  assert.deepEqual(await restoreAndCount(objects, dump.key), dump.tables);

  const history = await exportHistoryJson(suite.fixture.temporal.client, handle.workflowId);
  for (const secret of Object.values(suite.fixture.secrets)) {
    assert.ok(!history.includes(secret), 'a secret is in the history');
    assert.ok(!first.output().includes(secret) && !second.output().includes(secret), 'a secret is in the worker log');
  }
  assert.match(second.output(), /polling task queue/);
});
