// Liveness: a long phase that reports no bytes (pg_restore building a big index after its
// input is drained, an S3 part crawling over a slow link) is not taken for a dead worker.
// Each run must finish on the first attempt of every activity, with the phase in its heartbeats.
import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import { addBulkTable } from './support/crash.js';
import { s3StoreConfig } from './support/moto.js';
import { startWorker, uniqueName } from './support/ragops.js';
import { useBackupSuite } from './support/suite.js';
import { startTcpProxy } from './support/tcp-proxy.js';

/** Every activity started once: a heartbeat timeout (or any failure) shows as a later attempt. */
async function assertFirstAttempts(client: Client, workflowId: string): Promise<void> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const started = events.filter((e) => e.activityTaskStartedEventAttributes);
  assert.ok(started.length > 0, 'no activity ran');
  for (const event of started) {
    const attributes = event.activityTaskStartedEventAttributes!;
    assert.equal(attributes.attempt, 1, `an activity ran ${attributes.attempt} times; last failure: ${attributes.lastFailure?.message}`);
  }
  assert.equal(events.filter((e) => e.activityTaskTimedOutEventAttributes).length, 0, 'an activity timed out');
}

/** Phases seen in the heartbeats of the run's pending `activityType` until it closes. */
async function watchPhases(client: Client, workflowId: string, activityType: string, done: Promise<unknown>): Promise<Set<string>> {
  const phases = new Set<string>();
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    const description = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
    const pending = description?.raw.pendingActivities?.find((activity) => activity.activityType?.name === activityType);
    const payload = pending?.heartbeatDetails?.payloads?.[0];
    const phase = payload ? (defaultPayloadConverter.fromPayload(payload) as { phase?: string }).phase : undefined;
    if (phase) phases.add(phase);
    await sleep(1_000);
  }
  return phases;
}

describe('liveness of long phases', () => {
  const suite = useBackupSuite('liveness', { documents: 1_000 });

  test('a backup to S3 throttled to 1 MiB/s with 8 MiB parts completes without a heartbeat timeout', async () => {
    const { fixture } = suite;
    // About 18 MB of dump: a few 8 MiB parts, each taking 8 s on the wire with no byte progress meanwhile.
    const db = await fixture.db.client();
    await db.query(
      `CREATE TABLE filler AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) AS body
       FROM generate_series(1, 260000) g`,
    );
    const endpoint = new URL(fixture.moto.endpoint);
    const proxy = await startTcpProxy({ host: endpoint.hostname, port: Number(endpoint.port) }, { bytesPerSecond: 1024 * 1024 });
    try {
      const stacks = fixture.stacks({ store: 's3' }) as { stacks: { prod: Record<string, unknown> } };
      stacks.stacks.prod.store = { ...s3StoreConfig({ endpoint: proxy.url, region: fixture.moto.region }, fixture.bucket, 'slow/'), partSizeMiB: 8 };
      const taskQueue = uniqueName('liveness-s3');
      suite.workers.push(await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) }));
      const started = Date.now();
      const handle = await startBackup(fixture.temporal.client, { stack: 'prod', components: ['postgres'], prune: false }, { taskQueue });
      const result = handle.result();
      const phases = await watchPhases(fixture.temporal.client, handle.workflowId, 'dumpPostgres', result);
      const report = await result;
      const seconds = (Date.now() - started) / 1000;
      const size = report.artifacts.find((artifact: { component: string }) => artifact.component === 'postgres')?.size ?? 0;
      assert.ok(size > 16 * 1024 * 1024, `the dump (${size} bytes) should span more than two 8 MiB parts`);
      assert.ok(seconds >= size / (1024 * 1024) - 2, `the backup took ${seconds} s: the link was not throttled`);
      assert.ok(phases.has('uploading'), `phases seen: ${[...phases].join(', ')}`);
      await assertFirstAttempts(fixture.temporal.client, handle.workflowId);
    } finally {
      await proxy.stop();
      await db.query('DROP TABLE IF EXISTS filler');
    }
  });

  test('restore drills, streamed and local-disk, of an index build longer than three heartbeat timeouts pass on the first attempt', async () => {
    const { fixture } = suite;
    // A trigram GIN index over 1.4 M rows: whole drills of about 39 s on an idle 2-core machine
    // (950k rows came in at 29 s once, 750k at 30-31 s): past three 10 s heartbeat timeouts with a
    // margin, and no more, since each drill builds it again.
    await addBulkTable(fixture.db, 1_400_000);
    const db = await fixture.db.client();
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await db.query('CREATE INDEX bulk_body_trgm ON bulk USING gin (body gin_trgm_ops)');
    const streamed = fixture.stacks({ store: 'fs', fsPath: suite.dir.path }) as { stacks: { prod: Record<string, unknown> } };
    const localDisk = structuredClone(streamed);
    localDisk.stacks.prod.drill = { localDisk: true, jobs: 2 };
    const queues = { streamed: uniqueName('liveness-stream'), localDisk: uniqueName('liveness-local') };
    suite.workers.push(await startWorker({ address: fixture.temporal.address, taskQueue: queues.streamed, stacksText: stringify(streamed) }));
    suite.workers.push(await startWorker({ address: fixture.temporal.address, taskQueue: queues.localDisk, stacksText: stringify(localDisk) }));
    const client = fixture.temporal.client;
    const { backupId } = await (await startBackup(client, { stack: 'prod', components: ['postgres'], prune: false }, { taskQueue: queues.streamed })).result();

    for (const [mode, taskQueue] of Object.entries(queues)) {
      const workflowId = uniqueName(`drill-${mode}`);
      const started = Date.now();
      const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId, args: [{ stack: 'prod', backupId, depth: 'restore' }] });
      const result = handle.result();
      const phases = await watchPhases(client, workflowId, 'drillPostgresRestore', result);
      const report = (await result) as { passed?: boolean };
      const seconds = (Date.now() - started) / 1000;
      assert.notEqual(report.passed, false, `${mode} drill: ${JSON.stringify(report)}`);
      assert.ok(seconds > 30, `${mode} drill took ${seconds} s: the index build was not longer than three heartbeat timeouts`);
      assert.ok(phases.has('building indexes'), `${mode}: phases seen ${[...phases].join(', ')}`);
      await assertFirstAttempts(client, workflowId);
      console.log(`${mode} drill: ${seconds.toFixed(1)} s, phases ${[...phases].join(' → ')}`);
    }
  });
});
