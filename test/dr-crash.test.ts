// disasterRecovery with its worker killed by SIGKILL, once during the data-restore phase and
// once during the deploy phase (real `ragops worker` processes): each run completes on a new
// worker, its history starts every child run once (no phase redone), and the stack ends with
// one database (no staging leftovers) and one API container at one version.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup, startDisasterRecovery, startVerify } from '../src/client/api/runbooks.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { execa } from 'execa';
import pg from 'pg';
import { pendingActivityBytes } from './support/crash.js';
import { DR_API_IMAGES, startDrStack, type DrStack } from './support/dr-stack.js';
import { listDatabases } from './support/postgres.js';
import { spawnWorkerProcess, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

describe('disasterRecovery survives a worker killed with SIGKILL', { timeout: 900_000 }, () => {
  let temporal: TestTemporal;
  let prod: DrStack;
  let configPath: string;
  const taskQueue = uniqueName('dr-crash');
  const workers: WorkerProcess[] = [];
  const startWorkerProcess = () => {
    const worker = spawnWorkerProcess({ address: temporal.address, taskQueue, configPath, env: prod.secretEnv });
    workers.push(worker);
    return worker;
  };

  before(async () => {
    temporal = await startTestTemporal();
    prod = await startDrStack({ documents: 200 });
    // About 80 MB of dump: the restore lasts seconds, long enough to be killed in.
    const db = new pg.Client({ connectionString: prod.db.url });
    await db.connect();
    await db.query("CREATE TABLE bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS body FROM generate_series(1, 1000000) g");
    await db.end();
    configPath = await writeStacksFile(prod.storeDir, prod.stacks({ dr: true }));
    startWorkerProcess();
    const backup = await (await startBackup(temporal.client, { stack: 'prod' }, { taskQueue })).result();
    assert.equal((await (await startVerify(temporal.client, { stack: 'prod', backupId: backup.backupId, depth: 'restore' }, { taskQueue })).result()).passed, true);
  });
  after(async () => {
    await Promise.allSettled(workers.map((worker) => worker.stop()));
    await prod?.stop();
    await temporal?.stop();
  });

  async function childStarts(workflowId: string): Promise<Map<string, number>> {
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const starts = new Map<string, number>();
    for (const event of history.events ?? []) {
      const id = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
      if (id) starts.set(id, (starts.get(id) ?? 0) + 1);
    }
    return starts;
  }

  async function recoverKilledDuring(kill: (workflowId: string) => Promise<void>): Promise<DrReport> {
    await prod.destroy();
    const handle = await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'recover', approve: 'auto' }, { taskQueue, workflowId: uniqueName('dr') });
    await kill(handle.workflowId);
    const killed = workers.at(-1)!;
    killed.kill('SIGKILL');
    assert.equal((await killed.process).signal, 'SIGKILL');
    startWorkerProcess();
    const report = (await handle.result()) as DrReport;
    assert.equal(report.outcome, 'recovered', JSON.stringify(report.failure));
    for (const [child, count] of await childStarts(handle.workflowId)) assert.equal(count, 1, `${child} was started ${count} times`);
    const state = await prod.state();
    assert.deepEqual(state.database, { ...prod.seeded.database, 'public.bulk': 1_000_000 });
    assert.deepEqual(await listDatabases('ragops_restore_'), [], 'no staging database is left');
    // One container, of the backed-up version: ragops deploys by image id (a pinned tag of v1's).
    const imageId = async (image: string) => (await execa('docker', ['image', 'inspect', '-f', '{{.Id}}', image])).stdout.trim();
    assert.deepEqual(
      await Promise.all(state.api.containers.map(async (c) => [c.status, await imageId(c.image)])),
      [['running', await imageId(DR_API_IMAGES.v1)]],
    );
    return report;
  }

  test('killed during the data-restore phase', async () => {
    await recoverKilledDuring(async (workflowId) => {
      let bytes = 0;
      for (let i = 0; i < 1200 && bytes === 0; i++) {
        bytes = await pendingActivityBytes(temporal.client, `${workflowId}-restore-postgres`, 'restorePostgresDatabase').catch(() => 0);
        if (bytes === 0) await sleep(100);
      }
      assert.ok(bytes > 0, 'the restore never reported progress');
    });
  });

  test('killed during the deploy phase', async () => {
    await recoverKilledDuring(async (workflowId) => {
      for (let i = 0; i < 1200; i++) {
        const running = await temporal.client.workflow.getHandle(`${workflowId}-deploy-api`).describe().then((d) => d.status.name === 'RUNNING', () => false);
        if (running) return;
        await sleep(100);
      }
      assert.fail('the deploy never started');
    });
  });
});
