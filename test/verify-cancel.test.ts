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
  const ended = events.find(
    (e) =>
      of(e.activityTaskCanceledEventAttributes) ||
      of(e.activityTaskCompletedEventAttributes) ||
      of(e.activityTaskFailedEventAttributes) ||
      of(e.activityTaskTimedOutEventAttributes),
  );
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
    // An index build pg_restore spends its time on, as real restores do (pg_trgm: no pgvector here).
    await addBulkTable(fixture.db, 400_000);
    const db = await fixture.db.client();
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await db.query('CREATE INDEX bulk_body_trgm ON bulk USING gin (body gin_trgm_ops)');
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
    await handle.cancel(); // a second request is harmless
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

  test('while pg_restore builds an index: pg_restore is stopped first, then cleanup; no scratch database is left', async () => {
    const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('drill'), args: [{ stack: 'prod', backupId, depth: 'restore' }] });
    // Cancel as soon as the scratch database exists: the request reaches the activity with its
    // next heartbeat (the SDK sends one every 8 s at this heartbeat timeout), mid index build.
    for (let i = 0; i < 600 && (await listDatabases('ragops_drill_')).length === 0; i += 1) await sleep(50);
    assert.equal((await listDatabases('ragops_drill_')).length, 1, 'the scratch database never appeared');

    const events = await cancelAndWait(handle);
    assertCleanupAfterCancelledActivity(events, 'drillPostgresRestore');
    assert.deepEqual(await listDatabases('ragops_drill_'), []);
  });

  test('while a snapshot upload waits on Qdrant: the request is aborted first, then cleanup; no scratch collection is left', { skip: requiresStandin('a slow Qdrant') }, async () => {
    const { faults } = fixture.qdrant;
    faults.requests.length = 0;
    faults.delayMs = 10_000; // each request waits 10 s: the upload is still waiting when the cancel arrives
    let handle: WorkflowHandle;
    try {
      handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('drill'), args: [{ stack: 'prod', backupId: qdrantOnlyBackupId, depth: 'restore' }] });
      let uploading = false;
      for (let i = 0; i < 600 && !uploading; i += 1) {
        uploading = faults.requests.some((r) => r.method === 'POST' && r.path.endsWith('/snapshots/upload'));
        if (!uploading) await sleep(50);
      }
      assert.ok(uploading, 'the snapshot upload never started');
      await handle.cancel();
    } finally {
      faults.delayMs = 0; // the cleanup after the cancellation is not slowed
    }
    const events = await cancelAndWait(handle);
    assertCleanupAfterCancelledActivity(events, 'drillQdrantRestore');
    await sleep(11_000); // the abandoned upload's wait is over: had it not been aborted, it would have landed by now
    const qdrant = new QdrantClient({ url: fixture.qdrant.url, apiKey: fixture.qdrant.apiKey, checkCompatibility: false });
    assert.deepEqual((await qdrant.getCollections()).collections.map((c) => c.name).sort(), ['docs_v1', 'faq']);
  });
});
