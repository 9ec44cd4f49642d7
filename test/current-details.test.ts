// The UI's "current details" of a run show what its running step's activity is doing now:
// the activity signals its phase to its own run (ProgressHeartbeat.phase → PhaseAnnouncer), the
// StepTracker puts it in the running step's row, and a finished step shows its outcome.
// Real Temporal dev server, real worker, real pg_dump/pg_restore on 127.0.0.1:5432.
import { MockActivityEnvironment } from '@temporalio/testing';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { ProgressHeartbeat } from '../src/activities/runtime/heartbeat.js';
import { ACTIVITY_PHASE_SIGNAL } from '../src/activities/runtime/phaseSignal.js';
import { startBackup } from '../src/client/api/runbooks.js';
import { workflowsPath } from '../src/worker.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { addBulkTable } from './support/crash.js';
import { createTestDatabase, listDatabases, seedRagDatabase, type TestDatabase } from './support/postgres.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';

interface Row {
  icon: string;
  title: string;
  detail: string;
}

/** The step rows of a current-details table: `| icon | title | time | detail |`. */
function rowsOf(details: string): Row[] {
  return details
    .split('\n')
    .filter((line) => /^\| (⏳ running|✅ done|❌ failed) \|/u.test(line))
    .map((line) => {
      const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
      return { icon: cells[0]!, title: cells[1]!, detail: cells[3]! };
    });
}

async function currentDetails(client: Client, workflowId: string): Promise<string> {
  const metadata = (await client.workflow.getHandle(workflowId).query('__temporal_workflow_metadata')) as { currentDetails?: string };
  return metadata.currentDetails ?? '';
}

/** Every distinct row seen while `done` is pending, polled every 150 ms. */
async function watchRows(client: Client, workflowId: string, done: Promise<unknown>): Promise<Row[]> {
  const seen = new Map<string, Row>();
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    const details = await currentDetails(client, workflowId).catch(() => '');
    for (const row of rowsOf(details)) seen.set(`${row.icon}|${row.title}|${row.detail}`, row);
    await sleep(150);
  }
  return [...seen.values()];
}

describe('current details show the running step’s phase', () => {
  let temporal: TestTemporal;
  let db: TestDatabase;
  let dir: { path: string; remove(): Promise<void> };
  let worker: RunningWorker;
  let taskQueue: string;
  const password = `pg-${randomBytes(12).toString('hex')}`;

  before(async () => {
    [temporal, db, dir] = await Promise.all([startTestTemporal(), createTestDatabase('details'), tempDir('details')]);
    await seedRagDatabase(db.name, { documents: 2_000 });
    // Enough rows that pg_restore copies them for a few seconds (the `restoring data` phase).
    await addBulkTable(db, 600_000);
    process.env.TEST_DETAILS_PG_PASSWORD = password; // trust auth ignores it; it must still stay out of history
    const stacks = {
      stacks: {
        prod: {
          postgres: [
            {
              name: 'app',
              host: '127.0.0.1',
              port: 5432,
              database: db.name,
              user: 'postgres',
              password: { env: 'TEST_DETAILS_PG_PASSWORD' },
              // A sanity check that takes 4 s: the `running sanity checks` phase, long enough to be seen.
              sanityChecks: [{ name: 'a slow one', sql: 'SELECT 1 FROM pg_sleep(4)', expect: 1 }],
            },
          ],
          store: { type: 'fs', path: dir.path },
        },
      },
    };
    taskQueue = uniqueName('details');
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([temporal?.stop(), db?.drop(), dir?.remove()]);
  });

  test('a restore drill: its row shows `restoring data`, then `running sanity checks`, while it runs, and its outcome once done', async () => {
    const client = temporal.client;
    const { backupId } = await (await startBackup(client, { stack: 'prod', components: ['postgres'], prune: false }, { taskQueue })).result();

    const workflowId = uniqueName('details-drill');
    const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId, args: [{ stack: 'prod', backupId, depth: 'restore' }] });
    // Signals no activity of this run would send: one scheduled before every step (a late
    // signal of an earlier step's activity) and a malformed one. Neither shows; the run goes on.
    await handle.signal(ACTIVITY_PHASE_SIGNAL, { activityId: 'stale', phase: 'a stale phase', scheduledAt: 0 });
    await handle.signal(ACTIVITY_PHASE_SIGNAL, { nonsense: true });
    const result = handle.result() as Promise<VerifyReport>;
    const rows = await watchRows(client, workflowId, result);
    const report = await result;
    assert.equal(report.passed, true, JSON.stringify(report));

    const drill = (row: Row) => /^restore app into ragops_drill_/.test(row.title);
    const runningDetails = rows.filter((row) => row.icon === '⏳ running' && drill(row)).map((row) => row.detail);
    assert.ok(runningDetails.includes('restoring data'), `the running drill row showed: ${JSON.stringify(runningDetails)}`);
    assert.ok(runningDetails.includes('running sanity checks'), `the running drill row showed: ${JSON.stringify(runningDetails)}`);
    assert.ok(!rows.some((row) => row.detail.includes('a stale phase')), 'a stale signal was shown');
    console.log(`drill row while running: ${[...new Set(runningDetails)].map((d) => d || '(empty)').join(' → ')}`);

    // Once done: the outcome in every row, no phase left over, nothing running.
    const final = rowsOf(await currentDetails(client, workflowId));
    assert.ok(final.length >= 4, JSON.stringify(final));
    assert.deepEqual(final.filter((row) => row.icon !== '✅ done'), [], 'every step is done');
    const finalDrill = final.find(drill);
    assert.equal(finalDrill?.detail, '3 check(s) passed');
    const phases = ['restoring data', 'building indexes', 'counting rows', 'running sanity checks'];
    assert.ok(!final.some((row) => phases.includes(row.detail)), JSON.stringify(final));
    assert.deepEqual(await listDatabases('ragops_drill_'), []);

    // What crossed into history: one signal per phase change at most, each only an activity
    // id, a phase and a time; no secret.
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const signals = (history.events ?? [])
      .map((event) => event.workflowExecutionSignaledEventAttributes)
      .filter((signal) => signal?.signalName === ACTIVITY_PHASE_SIGNAL)
      .map((signal) => defaultPayloadConverter.fromPayload(signal!.input!.payloads![0]!) as Record<string, unknown>);
    const fromActivities = signals.filter((signal) => typeof signal.activityId === 'string' && signal.activityId !== 'stale');
    assert.ok(fromActivities.length >= 2 && fromActivities.length <= 8, JSON.stringify(fromActivities));
    for (const signal of fromActivities) assert.deepEqual(Object.keys(signal).sort(), ['activityId', 'phase', 'scheduledAt']);
    for (let i = 1; i < fromActivities.length; i++) {
      const [previous, current] = [fromActivities[i - 1]!, fromActivities[i]!];
      assert.ok(previous.activityId !== current.activityId || previous.phase !== current.phase, `the same phase twice: ${JSON.stringify(current)}`);
    }
    assert.ok(!(await exportHistoryJson(client, workflowId)).includes(password), 'the password is in the history');
    // A history with these signals (and the stale and malformed ones) replays on the same code.
    await Worker.runReplayHistory({ workflowsPath, replayName: 'current-details' }, history, workflowId);
  });

  test('without a client (an activity test environment, no activity at all) a phase change is only in the heartbeats', async () => {
    new ProgressHeartbeat('outside any activity').phase('restoring data');
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    await env.run(async () => {
      const progress = new ProgressHeartbeat('mock');
      progress.phase('counting rows');
      progress.beat({}, true);
      await sleep(50);
    });
    assert.deepEqual(beats, [{ step: 'mock', phase: 'counting rows' }]);
  });
});
