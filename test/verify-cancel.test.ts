// A restore drill cancelled in the middle of its longest steps: the cancelled activity really
// stops (pg_restore killed, the Qdrant request aborted) before the workflow's cleanup starts,
// and nothing the drill created is left behind.
import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import { addBulkTable, pendingActivityBytes } from './support/crash.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { listDatabases } from './support/postgres.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { requiresStandin } from './support/targets.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Ids of the events of the activity of `type`: scheduled, cancel requested, and how it ended. */
function activityEvents(events: HistoryEvent[], type: string) {
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type);
  assert.ok(scheduled, `no ${type} in the history`);
  const id = scheduled.eventId!.toString();
  const of = (attributes: { scheduledEventId?: Long | number | null } | null | undefined) => attributes?.scheduledEventId?.toString() === id;
  const cancelRequested = events.find((e) => of(e.activityTaskCancelRequestedEventAttributes));
  const ended = events.find((e) => of(e.activityTaskCanceledEventAttributes) || of(e.activityTaskCompletedEventAttributes) || of(e.activityTaskFailedEventAttributes));
  return { cancelRequested, ended };
}
type Long = { toString(): string };

/** The first activity scheduled after event `afterId`, with its type. */
function firstActivityAfter(events: HistoryEvent[], afterId: Long) {
  return events.find((e) => e.activityTaskScheduledEventAttributes && Number(e.eventId) > Number(afterId));
}

describe('verifyBackup cancelled mid-step', () => {
  let fixture: BackupFixture;
  let client: Client;
  let worker: RunningWorker;
  const taskQueue = uniqueName('drill-cancel');
  let backupId: string;
  let qdrantOnlyBackupId: string;

  before(async () => {
    fixture = await startBackupFixture({ documents: 10_000 });
    client = fixture.temporal.client;
    await addBulkTable(fixture.db);
    const stacks = fixture.stacks({ store: 's3', prefix: 'cancel/' }) as { stacks: { prod: Record<string, unknown> } };
    stacks.stacks.prod.drill = { qdrantRecovery: 'upload' };
    worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) });
    backupId = (await (await startBackup(client, { stack: 'prod', components: ['postgres'], prune: false }, { taskQueue })).result()).backupId;
    qdrantOnlyBackupId = (await (await startBackup(client, { stack: 'prod', components: ['qdrant'], prune: false }, { taskQueue })).result()).backupId;
  });
  after(async () => {
    await worker?.stop();
    await fixture?.stop();
  });

  async function cancelAndWait(handle: WorkflowHandle): Promise<HistoryEvent[]> {
    await handle.cancel();
    const failure = await handle.result().then(() => assert.fail('the cancelled drill succeeded'), (error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError, String(failure));
    assert.match(String((failure.cause as Error | undefined)?.name), /CancelledFailure/);
    return (await handle.fetchHistory()).events ?? [];
  }

  function assertCleanupAfterCancelledActivity(events: HistoryEvent[], activityType: string): void {
    const { cancelRequested, ended } = activityEvents(events, activityType);
    assert.ok(cancelRequested, `the ${activityType} activity was never asked to cancel`);
    assert.ok(ended?.activityTaskCanceledEventAttributes, `${activityType} did not end cancelled: ${JSON.stringify(ended)}`);
    const next = firstActivityAfter(events, cancelRequested.eventId!);
    assert.ok(next, 'no cleanup activity after the cancellation');
    assert.ok(
      Number(next.eventId) > Number(ended.eventId),
      `cleanup (${next.activityTaskScheduledEventAttributes?.activityType?.name}, event ${next.eventId}) started before ${activityType} ended (event ${ended.eventId})`,
    );
  }

  test('while pg_restore runs: pg_restore is stopped first, then cleanup; no scratch database is left', async () => {
    const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('drill'), args: [{ stack: 'prod', backupId, depth: 'restore' }] });
    let bytes = 0;
    for (let i = 0; i < 600 && bytes === 0; i += 1) {
      bytes = await pendingActivityBytes(client, handle.workflowId, 'drillPostgresRestore');
      if (bytes === 0) await sleep(100);
    }
    assert.ok(bytes > 0, 'the restore never reported progress');
    assert.equal((await listDatabases('ragops_drill_')).length, 1, 'the scratch database exists while pg_restore runs');

    const events = await cancelAndWait(handle);
    assertCleanupAfterCancelledActivity(events, 'drillPostgresRestore');
    assert.deepEqual(await listDatabases('ragops_drill_'), []);
  });

  test('while a Qdrant recovery runs: the request is aborted first, then cleanup; no scratch collection is left', { skip: requiresStandin('a slow Qdrant') }, async () => {
    fixture.qdrant.faults.delayMs = 1_500; // every request takes 1.5 s, so the recovery is caught in flight
    try {
      const handle = await client.workflow.start('verifyBackup', {
        taskQueue,
        workflowId: uniqueName('drill'),
        args: [{ stack: 'prod', backupId: qdrantOnlyBackupId, depth: 'restore' }],
      });
      let uploading = false;
      for (let i = 0; i < 300 && !uploading; i += 1) {
        uploading = fixture.qdrant.faults.requests.some((r) => r.method === 'POST' && r.path.endsWith('/snapshots/upload'));
        if (!uploading) await sleep(50);
      }
      assert.ok(uploading, 'the snapshot upload never started');
      const events = await cancelAndWait(handle);
      assertCleanupAfterCancelledActivity(events, 'drillQdrantRestore');
    } finally {
      fixture.qdrant.faults.delayMs = 0;
    }
    await sleep(2_000); // anything still in flight at the stand-in has landed by now
    const qdrant = new QdrantClient({ url: fixture.qdrant.url, apiKey: fixture.qdrant.apiKey, checkCompatibility: false });
    assert.deepEqual((await qdrant.getCollections()).collections.map((c) => c.name).sort(), ['docs_v1', 'faq']);
  });
});
