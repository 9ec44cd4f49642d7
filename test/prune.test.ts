// pruneBackups end to end: a real Temporal dev server, moto S3 holding a synthetic history of
// 120 daily backups, and an in-process worker with the real activities. The expected survivors
// are computed here from the history's description, not by the planner under test.
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startPrune } from '../src/client/api/runbooks.js';
import { retentionSchema } from '../src/config/stacks/index.js';
import type { PruneReport } from '../src/workflows/pruneBackups.js';
import { s3StoreConfig, startMoto, type TestMoto } from './support/moto.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { selectedByKeepRules } from './support/retention-oracle.js';
import { lastDrill, objectsOf, putAll, syntheticBackup, type SyntheticBackup } from './support/synthetic-backups.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';
import { recordHistory } from './support/histories.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const GRACE_SECONDS = 12;
const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const bucket = 'ragops-prune';
const prefix = 'ragops/';
const retention = { keepLast: 0, keepDaily: 7, keepWeekly: 4, keepMonthly: 3, maxAgeDays: 80, leftoverGraceHours: GRACE_SECONDS / 3600 };
const policy = retentionSchema.parse(retention);

describe('pruneBackups runbook', () => {
  let temporal: TestTemporal;
  let moto: TestMoto;
  let worker: RunningWorker;
  const taskQueue = uniqueName('prune');
  const secretKey = `s3-${randomBytes(12).toString('hex')}`;

  before(async () => {
    [temporal, moto] = await Promise.all([startTestTemporal(), startMoto()]);
    await moto.createBucket(bucket);
    Object.assign(process.env, { PRUNE_TEST_S3_ACCESS_KEY: 'prune-access-key', PRUNE_TEST_S3_SECRET_KEY: secretKey });
    const store = s3StoreConfig(moto, bucket, prefix, { accessKeyId: 'PRUNE_TEST_S3_ACCESS_KEY', secretAccessKey: 'PRUNE_TEST_S3_SECRET_KEY' });
    const stacksText = stringify({ stacks: { prod: { store, retention }, bare: { store } } });
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([temporal?.stop(), moto?.stop()]);
  });

  async function failureOf(input: unknown): Promise<{ message: string; type?: string; nonRetryable?: boolean; activities: number }> {
    const handle = await temporal.client.workflow.start('pruneBackups', { taskQueue, workflowId: uniqueName('bad-prune'), args: [input] });
    const failure = await handle.result().then(() => assert.fail(`prune of ${JSON.stringify(input)} succeeded`), (error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError);
    const cause = failure.cause as Error & { type?: string; nonRetryable?: boolean };
    const events = (await handle.fetchHistory()).events ?? [];
    const activities = events.filter((event) => event.activityTaskScheduledEventAttributes).length;
    return { message: cause.message, type: cause.type, nonRetryable: cause.nonRetryable, activities };
  }

  test('bad input and a stack without a retention policy fail at once, non-retryable, naming the field', async () => {
    const bare = await failureOf({ stack: 'bare' });
    assert.match(bare.message, /retention: stack "bare" has no retention policy/);
    assert.equal(bare.type, 'InvalidInput');
    assert.equal(bare.nonRetryable, true);
    const badStack = await failureOf({ stack: '../prod' });
    assert.match(badStack.message, /invalid pruneBackups input: stack: stack names are/);
    assert.equal(badStack.activities, 0, 'nothing ran before the input was checked');
    const badFlag = await failureOf({ stack: 'prod', dryRun: 'yes' });
    assert.match(badFlag.message, /dryRun:/);
    assert.equal(badFlag.activities, 0);
  });

  test('120 daily backups: dry run deletes nothing; the run leaves exactly the expected backups and aborts only the stale upload', async () => {
    const start = new Date();
    const midnight = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
    const dayAt = (day: number, hour = 5.25) => new Date(midnight - day * DAY + hour * HOUR);
    const hoursAgo = (hours: number) => new Date(start.getTime() - hours * HOUR).toISOString();
    const special: Record<number, Partial<SyntheticBackup>> = {
      2: { drills: [{ depth: 'restore', passed: false, afterHours: 1 }] },
      5: { manifest: 'none' },
      10: { drills: [{ depth: 'checksum', passed: false, afterHours: 1 }] },
      20: { drills: [{ depth: 'restore', passed: true, afterHours: 1 }, { depth: 'restore', passed: false, afterHours: 30 }] },
      40: { manifest: 'none' },
      50: { manifest: 'unreadable' },
      95: { drills: [{ depth: 'restore', passed: true, afterHours: 2 }, { depth: 'checksum', passed: true, afterHours: 200 }] },
      100: { manifest: 'none' },
      105: { locks: [{ workflowId: 'restore-old', runbook: 'restore', since: hoursAgo(72) }] },
      110: { drills: [{ depth: 'restore', passed: true, afterHours: 2 }] },
      115: { locks: [{ workflowId: 'drill-now', runbook: 'verifyBackup', since: hoursAgo(1) }] },
    };
    const byDay = new Map(Array.from({ length: 120 }, (_, i) => [i + 1, syntheticBackup(dayAt(i + 1), i + 1, special[i + 1])]));
    const history = [...byDay.values(), syntheticBackup(dayAt(1, 17.25), 1000)];
    const day = (n: number) => byDay.get(n)!;
    const written = new Map(history.map((backup) => [backup.backupId, objectsOf('prod', backup)]));
    await putAll(moto.s3, bucket, prefix, [
      ...[...written.values()].flat(),
      { key: 'prod/notes.txt', body: 'not a backup' },
      ...objectsOf('staging', syntheticBackup(dayAt(300), 1)),
    ]);
    // moto reports every upload as initiated in 2010, so the parts' times are what tell old from fresh here.
    const createUpload = async (key: string) => {
      const { UploadId } = await moto.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: prefix + key }));
      await moto.s3.send(new UploadPartCommand({ Bucket: bucket, Key: prefix + key, UploadId, PartNumber: 1, Body: 'part one' }));
      return UploadId!;
    };
    const staleUpload = await createUpload(`prod/${day(5).backupId}/qdrant/docs.snapshot`);
    await sleep(GRACE_SECONDS * 1000 + 1500);

    const freshAt = Date.now();
    const fresh = syntheticBackup(new Date(freshAt), 2000, { manifest: 'none' });
    written.set(fresh.backupId, objectsOf('prod', fresh));
    await putAll(moto.s3, bucket, prefix, written.get(fresh.backupId)!);
    const freshUpload = await createUpload(`prod/${fresh.backupId}/postgres/app.dump`);
    const everything = [...history, fresh];
    const keysBefore = (await moto.listKeys(bucket)).sort();

    function expectedPlan(report: PruneReport) {
      assert.ok(Date.parse(report.now) - freshAt < (GRACE_SECONDS - 1) * 1000, 'the run planned too late for the fresh writes to be within the grace period');
      const good = history.filter((b) => b.manifest === 'valid' && lastDrill(b)?.passed !== false);
      const selected = selectedByKeepRules(good.map((b) => ({ backupId: b.backupId, time: b.time.toISOString() })), new Date(report.now), policy);
      const verified = history.filter((b) => b.manifest === 'valid' && lastDrill(b, 'restore')?.passed).sort((a, b) => b.time.getTime() - a.time.getTime());
      assert.equal(verified[0], day(95), 'the history is built so that day 95 is the newest restore-verified backup');
      for (const n of [95, 115]) assert.ok(!selected.has(day(n).backupId), `day ${n} is beyond maxAgeDays: only a protection keeps it`);
      const kept = new Set([...selected, day(95).backupId, day(115).backupId, day(50).backupId, fresh.backupId]);
      const ids = (list: SyntheticBackup[]) => list.map((b) => b.backupId).sort();
      return { kept: ids(everything.filter((b) => kept.has(b.backupId))), deleted: ids(everything.filter((b) => !kept.has(b.backupId))) };
    }
    const idsOf = (list: Array<{ backupId: string }>) => list.map((b) => b.backupId).sort();
    const reasonsOf = (report: PruneReport, backup: SyntheticBackup) =>
      [...report.kept, ...report.deleted].find((d) => d.backupId === backup.backupId)?.reasons.join(' | ') ?? '';

    const dryRunHandle = await startPrune(temporal.client, { stack: 'prod', dryRun: true }, { taskQueue });
    const dryRun = await dryRunHandle.result();
    const expected = expectedPlan(dryRun);
    assert.equal(dryRun.dryRun, true);
    assert.deepEqual(idsOf(dryRun.kept), expected.kept);
    assert.deepEqual(idsOf(dryRun.deleted), expected.deleted);
    assert.ok(expected.deleted.length > 90 && expected.kept.length > 10, `${expected.kept.length} kept, ${expected.deleted.length} deleted`);
    assert.deepEqual(dryRun.leftovers.sort(), [day(5), day(40), day(100)].map((b) => b.backupId).sort());
    assert.deepEqual(dryRun.abortedUploads.map((u) => u.uploadId), [staleUpload]);
    assert.deepEqual(dryRun.youngUploads.map((u) => u.uploadId), [freshUpload]);
    assert.match(reasonsOf(dryRun, day(95)), /protected: restore-verified/);
    assert.match(reasonsOf(dryRun, day(115)), /protected: in use by verifyBackup drill-now/);
    assert.match(reasonsOf(dryRun, day(105)), /stale lock by restore restore-old .*ignored/);
    assert.match(reasonsOf(dryRun, day(10)), /last checksum drill failed/);
    assert.match(reasonsOf(dryRun, day(50)), /manifest\.json unreadable/);
    assert.match(reasonsOf(dryRun, fresh), /may still be running/);
    assert.deepEqual((await moto.listKeys(bucket)).sort(), keysBefore, 'a dry run deletes nothing');
    assert.equal((await moto.listUnfinishedUploads(bucket)).length, 2, 'a dry run aborts nothing');

    const handle = await startPrune(temporal.client, { stack: 'prod' }, { taskQueue });
    const report = await handle.result();
    await recordHistory(temporal, handle.workflowId, 'prune-120-daily');
    assert.deepEqual(expectedPlan(report), expected);
    assert.deepEqual(idsOf(report.kept), expected.kept);
    assert.deepEqual(idsOf(report.deleted), expected.deleted);
    for (const deleted of report.deleted) {
      const objects = written.get(deleted.backupId)!;
      assert.equal(deleted.objects, objects.length, `objects of ${deleted.backupId}`);
      assert.equal(deleted.bytes, objects.reduce((sum, object) => sum + Buffer.byteLength(object.body), 0));
    }

    const keysAfter = (await moto.listKeys(bucket)).sort();
    const expectedKeys = [
      ...expected.kept.flatMap((id) => written.get(id)!.map((object) => prefix + object.key)),
      `${prefix}prod/notes.txt`,
      ...keysBefore.filter((key) => key.startsWith(`${prefix}staging/`)),
    ].sort();
    assert.deepEqual(keysAfter, expectedKeys, 'exactly the kept backups remain, whole, and nothing outside them was touched');
    assert.deepEqual((await moto.listUnfinishedUploads(bucket)).map((u) => u.uploadId), [freshUpload]);

    for (const workflowId of [dryRunHandle.workflowId, handle.workflowId]) {
      assert.ok(!(await exportHistoryJson(temporal.client, workflowId)).includes(secretKey), 'the S3 secret key is in the history');
    }

    const cli = await execa(process.execPath, [RAGOPS, 'prune', 'run', '--stack', 'prod', '--dry-run', '--task-queue', taskQueue], {
      env: { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace },
      reject: false,
      all: true,
    });
    assert.equal(cli.exitCode, 0, cli.all);
    assert.match(cli.all ?? '', /DRY RUN, nothing deleted: stack prod/);
    assert.match(cli.all ?? '', new RegExp(`keep +${day(95).backupId} +good .*protected: restore-verified`));
    const badCli = await execa(process.execPath, [RAGOPS, 'prune', 'run', '--stack', 'Prod!'], { env: { TEMPORAL_ADDRESS: '127.0.0.1:1' }, reject: false, all: true });
    assert.equal(badCli.exitCode, 2);
    assert.match(badCli.all ?? '', /invalid pruneBackups input: stack:/);
  });
});
