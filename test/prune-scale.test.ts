// pruneBackups at scale (slow): 5,000 hourly backups in moto S3, a policy that keeps a few
// dozen, the real dev server and an in-process worker. Every run of the continue-as-new
// chain stays far below Temporal's limits, and exactly the set an independent statement of
// the rules decides is deleted.
import type { temporal } from '@temporalio/proto';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startPrune } from '../src/client/api/runbooks.js';
import { formatPruneReport } from '../src/client/cli/pruneReport.js';
import { retentionSchema } from '../src/config/stacks/index.js';
import { BATCHES_PER_RUN, DELETE_BATCH_SIZE } from '../src/workflows/pruneBackups.js';
import { REPORT_LIST_CAP } from '../src/workflows/lib/pruneReport.js';
import { startMoto, type TestMoto } from './support/moto.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { selectedByKeepRules } from './support/retention-oracle.js';
import { lastDrill, objectsOf, putAll, syntheticBackup, type SyntheticBackup } from './support/synthetic-backups.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const HOUR = 3_600_000;
const BACKUPS = 5_000;
const GRACE_SECONDS = 2;
const MAX_EVENTS_PER_RUN = 2_000;
const bucket = 'ragops-prune-scale';
const prefix = 'ragops/';
const retention = { keepLast: 6, keepDaily: 14, keepWeekly: 8, keepMonthly: 4, maxAgeDays: 100, minVerified: 1, leftoverGraceHours: GRACE_SECONDS / 3600 };
const policy = retentionSchema.parse(retention);

/** Every run of a workflow's continue-as-new chain, first to last, with its history. */
async function runsOf(temporal: TestTemporal, workflowId: string, firstRunId: string): Promise<Array<{ runId: string; events: HistoryEvent[] }>> {
  const runs: Array<{ runId: string; events: HistoryEvent[] }> = [];
  for (let runId: string | undefined = firstRunId; runId; ) {
    const events: HistoryEvent[] = (await temporal.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push({ runId, events });
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

const payloadBytes = (event: HistoryEvent) =>
  [
    event.activityTaskCompletedEventAttributes?.result,
    event.activityTaskScheduledEventAttributes?.input,
    event.workflowExecutionStartedEventAttributes?.input,
    event.workflowExecutionContinuedAsNewEventAttributes?.input,
    event.workflowExecutionCompletedEventAttributes?.result,
  ].reduce((sum, payloads) => sum + (payloads?.payloads ?? []).reduce((bytes: number, payload) => bytes + (payload.data?.length ?? 0), 0), 0);

describe('pruneBackups at scale', () => {
  let temporal: TestTemporal;
  let moto: TestMoto;
  let worker: RunningWorker;
  const taskQueue = uniqueName('prune-scale');

  before(async () => {
    [temporal, moto] = await Promise.all([startTestTemporal(), startMoto()]);
    await moto.createBucket(bucket);
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    const store = { type: 's3', bucket, prefix, endpoint: moto.endpoint, region: moto.region, forcePathStyle: true };
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify({ stacks: { prod: { store, retention } } }) });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([temporal?.stop(), moto?.stop()]);
  });

  test(`${BACKUPS} hourly backups: every run stays under ${MAX_EVENTS_PER_RUN} events, and exactly the planned set is deleted`, async () => {
    const start = Date.now();
    const hoursAgo = (hours: number) => new Date(start - hours * HOUR);
    const special = (index: number): Partial<SyntheticBackup> => {
      if (index % 97 === 13) return { manifest: 'none' }; // crash leftovers, all beyond the grace period
      if (index === 30) return { drills: [{ depth: 'checksum', passed: false, afterHours: 1 }] };
      if (index === 1_500) return { manifest: 'unreadable' };
      // Beyond maxAgeDays (2,400 h): only a protection can keep these.
      if (index === 4_000) return { locks: [{ workflowId: 'restore-now', runbook: 'restore', since: hoursAgo(1).toISOString() }] };
      if (index === 2_500) return { locks: [{ workflowId: 'restore-old', runbook: 'restore', since: hoursAgo(72).toISOString() }] };
      if (index === 3_000) return { drills: [{ depth: 'restore', passed: true, afterHours: 2 }] };
      return {};
    };
    const backups = Array.from({ length: BACKUPS }, (_, index) => syntheticBackup(hoursAgo(index + 1 + (index % 7) / 60), index + 1, special(index)));
    const written = new Map(backups.map((backup) => [backup.backupId, objectsOf('prod', backup, { minimal: true })]));
    await putAll(moto.s3, bucket, prefix, [...[...written.values()].flat(), { key: 'prod/notes.txt', body: 'not a backup' }], 32);
    console.log(`wrote ${BACKUPS} backups (${[...written.values()].flat().length} objects) in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    await sleep(GRACE_SECONDS * 1000 + 1_000); // the leftovers' objects age past the grace period

    const pruneStart = Date.now();
    const handle = await startPrune(temporal.client, { stack: 'prod' }, { taskQueue });
    const report = await handle.result();
    console.log(`pruned in ${((Date.now() - pruneStart) / 1000).toFixed(1)} s over ${report.total.runs} run(s)`);

    // The expected plan, from the backups' description and the oracle's own statement of the keep rules.
    const now = new Date(report.now);
    const good = backups.filter((b) => b.manifest === 'valid' && lastDrill(b)?.passed !== false);
    const selected = selectedByKeepRules(good.map((b) => ({ backupId: b.backupId, time: b.time.toISOString() })), now, policy);
    const protectedIds = [backups[1_500]!, backups[4_000]!, backups[3_000]!].map((b) => b.backupId);
    for (const id of protectedIds) assert.ok(!selected.has(id), `${id} is kept only by a protection (unreadable, fresh lock, restore-verified)`);
    const kept = new Set([...selected, ...protectedIds]);
    const expectedDeleted = backups.filter((b) => !kept.has(b.backupId));
    assert.ok(kept.size > 20 && kept.size < 60, `the policy keeps a few dozen (${kept.size})`);
    const batches = Math.ceil(expectedDeleted.length / DELETE_BATCH_SIZE);
    assert.ok(batches > BATCHES_PER_RUN, 'the deletions need more batches than one run takes, so the prune continues as new');

    // What the report says.
    assert.equal(report.total.kept, kept.size);
    assert.equal(report.total.deleted, expectedDeleted.length);
    assert.equal(report.total.objects, expectedDeleted.reduce((sum, b) => sum + written.get(b.backupId)!.length, 0));
    assert.equal(report.total.leftovers, backups.filter((b) => b.manifest === 'none').length);
    assert.deepEqual(report.kept.map((b) => b.backupId).sort(), [...kept].sort(), 'every kept backup is listed (fewer than the cap)');
    assert.equal(report.deleted.length, REPORT_LIST_CAP);
    assert.equal(report.omitted.deleted, expectedDeleted.length - REPORT_LIST_CAP);
    const oldestDeleted = expectedDeleted.map((b) => b.backupId).sort().slice(0, REPORT_LIST_CAP);
    assert.deepEqual(report.deleted.map((b) => b.backupId).sort(), oldestDeleted, 'the report lists the first (oldest) deletions');
    assert.ok(report.deleted.every((b) => b.reasons.length > 0 && b.objects > 0));
    assert.match(formatPruneReport(report), new RegExp(`… and ${report.omitted.deleted} more deleted`));
    assert.match(formatPruneReport(report), new RegExp(`deleted ${expectedDeleted.length} .* in ${report.total.runs} runs`));

    // The store: exactly the kept backups remain, whole, and the key that is not a backup.
    const expectedKeys = [...kept].flatMap((id) => written.get(id)!.map((object) => prefix + object.key));
    assert.deepEqual((await moto.listKeys(bucket)).sort(), [...expectedKeys, `${prefix}prod/notes.txt`].sort());

    // The histories: every run of the chain is small, payloads far below 2 MB, one step per batch.
    const runs = await runsOf(temporal, handle.workflowId, handle.firstExecutionRunId);
    assert.equal(runs.length, report.total.runs);
    assert.ok(runs.length >= 2, 'the prune continued as new');
    for (const [index, run] of runs.entries()) {
      const largest = Math.max(...run.events.map(payloadBytes));
      console.log(`run ${index + 1}: ${run.events.length} events, largest payload ${(largest / 1024).toFixed(0)} KiB`);
      assert.ok(run.events.length < MAX_EVENTS_PER_RUN, `run ${index + 1} has ${run.events.length} events`);
      assert.ok(largest < 1024 * 1024, `run ${index + 1} has a ${largest}-byte payload`);
    }
    const all = runs.flatMap((run) => run.events);
    const ms = (e: HistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    const secondsIn = (type: string) =>
      runs.reduce((total, { events }) => {
        const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).map((e) => [String(e.eventId), e]));
        const completed = events.filter((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)));
        return total + completed.reduce((sum, e) => sum + (ms(e) - ms(scheduled.get(String(e.activityTaskCompletedEventAttributes!.scheduledEventId))!)) / 1000, 0);
      }, 0);
    console.log(`listing ${secondsIn('listPruneCandidates').toFixed(1)} s, deleting ${secondsIn('deleteBackups').toFixed(1)} s`);
    const deleteActivities = all.filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'deleteBackups');
    assert.equal(deleteActivities.length, batches, 'one activity per batch of deletions');
    const upserts = runs.flatMap((run) => run.events).filter((event) => event.upsertWorkflowSearchAttributesEventAttributes).length;
    assert.ok(upserts < 4 * (batches + 20), `${upserts} search-attribute upserts: a few per batch, not per backup`);
  });
});
