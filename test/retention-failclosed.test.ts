// Retention fails closed, on real services (moto S3, a Temporal dev server, an in-process
// worker): evidence replaced by garbage, evidence whose GET fails (the object is in the
// GLACIER storage class, so moto answers InvalidObjectState, as S3 does to an object a
// lifecycle rule archived), a lock that cannot be read, a drill that was inconclusive, evidence of two key formats whose
// key order is not their time order, and a store listing that fails.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { createCleanupActivities, type PruneListing } from '../src/activities/store/cleanup.js';
import { retentionSchema, type StoreConfig } from '../src/config/stacks/index.js';
import { verificationSchema } from '../src/config/manifest.js';
import { planRetention } from '../src/core/retention.js';
import { backupKeys } from '../src/core/storeKeys.js';
import type { PruneReport } from '../src/workflows/pruneBackups.js';
import { s3StoreConfig, startMoto, type TestMoto } from './support/moto.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { objectsOf, putAll, syntheticBackup, type SyntheticBackup } from './support/synthetic-backups.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const HOUR = 3_600_000;
const bucket = 'ragops-failclosed';
const prefix = 'fc/';
const retention = { keepLast: 1, minVerified: 1, leftoverGraceHours: 1 };
const activities = createCleanupActivities();

describe('retention fails closed', () => {
  let temporal: TestTemporal;
  let moto: TestMoto;
  let proxy: TcpProxy;
  let worker: RunningWorker;
  let store: StoreConfig;
  const taskQueue = uniqueName('failclosed');

  before(async () => {
    [temporal, moto] = await Promise.all([startTestTemporal(), startMoto()]);
    await moto.createBucket(bucket);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(moto.endpoint).port) });
    Object.assign(process.env, { FC_S3_ACCESS_KEY: 'testing', FC_S3_SECRET_KEY: 'testing', AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'testing', AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' });
    const env = { accessKeyId: 'FC_S3_ACCESS_KEY', secretAccessKey: 'FC_S3_SECRET_KEY' };
    const direct = s3StoreConfig(moto, bucket, prefix, env);
    const proxied = s3StoreConfig({ endpoint: proxy.url, region: moto.region }, bucket, prefix, env);
    store = { type: 's3', bucket, prefix, endpoint: moto.endpoint, region: moto.region, forcePathStyle: true, partSizeMiB: 5, uploadConcurrency: 1 };
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify({ stacks: { prod: { store: direct, retention }, cut: { store: proxied, retention } } }) });
  });
  after(async () => {
    await worker?.stop();
    await proxy?.stop();
    await Promise.allSettled([temporal?.stop(), moto?.stop()]);
  });

  /** Five backups, a day apart, of which only `plain` may be deleted. */
  async function writeHistory(stack: string) {
    const now = Date.now();
    const at = (daysAgo: number) => new Date(now - daysAgo * 24 * HOUR);
    let serial = 0;
    const make = (daysAgo: number, extra: Partial<SyntheticBackup> = {}) => syntheticBackup(at(daysAgo), ++serial, extra);
    const backups = {
      newest: make(1),
      garbage: make(2, { drills: [{ depth: 'checksum', passed: true, afterHours: 1 }] }),
      archived: make(3, { drills: [{ depth: 'checksum', passed: true, afterHours: 1 }] }),
      // Restore-verified, then a drill that could not finish: still the newest restore-verified backup.
      inconclusive: make(4, { drills: [{ depth: 'restore', passed: true, afterHours: 1 }, { depth: 'restore', passed: false, outcome: 'inconclusive', afterHours: 30 }] }),
      plain: make(5),
    };
    const objects = Object.values(backups).flatMap((backup) => objectsOf(stack, backup));
    const evidenceOf = (backup: SyntheticBackup) => objects.find((object) => object.key.startsWith(backupKeys.verificationsPrefix(stack, backup.backupId)))!;
    evidenceOf(backups.garbage).body = '{"formatVersion": 1, "passed": tru';
    const archivedEvidence = evidenceOf(backups.archived);
    await putAll(moto.s3, bucket, prefix, objects.filter((object) => object !== archivedEvidence));
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + archivedEvidence.key, Body: archivedEvidence.body, StorageClass: 'GLACIER' }));
    return backups;
  }

  test('listing: garbage and unreadable evidence are reported, an inconclusive drill is not the last verdict, newest evidence is by finishedAt', async () => {
    const backups = await writeHistory('listing');
    // Two drills in one second: the old key format sorts after the new one, but the new one finished later.
    const twoFormats = syntheticBackup(new Date(Date.now() - 6 * 24 * HOUR), 99);
    // On a whole second, so that both drills start within it.
    const start = new Date(Math.floor((twoFormats.time.getTime() + HOUR) / 1000) * 1000);
    const evidence = (passed: boolean, finishedAt: Date) =>
      JSON.stringify(verificationSchema.parse({ formatVersion: 1, backupId: twoFormats.backupId, stack: 'listing', depth: 'restore', workflowId: 'w', runId: 'r', startedAt: start.toISOString(), finishedAt: finishedAt.toISOString(), passed, checks: [] }));
    const oldKey = `listing/${twoFormats.backupId}/verifications/${start.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-restore.json`;
    const newKey = backupKeys.verification('listing', twoFormats.backupId, new Date(start.getTime() + 500), 'abcd1234', 'restore');
    assert.ok(oldKey > newKey, 'the old key sorts after the new one');
    await putAll(moto.s3, bucket, prefix, [
      ...objectsOf('listing', twoFormats),
      { key: oldKey, body: evidence(false, new Date(start.getTime() + 200)) },
      { key: newKey, body: evidence(true, new Date(start.getTime() + 900)) },
    ]);

    const listing = (await new MockActivityEnvironment().run(activities.listPruneCandidates, { store, stack: 'listing' })) as PruneListing;
    const byId = new Map(listing.candidates.map((candidate) => [candidate.backupId, candidate]));
    assert.match(byId.get(backups.garbage.backupId)!.unreadable?.join() ?? '', /drill evidence .*verifications\/.*-checksum\.json \(is not JSON\)/);
    assert.match(byId.get(backups.archived.backupId)!.unreadable?.join() ?? '', /drill evidence .* \(could not be read: InvalidObjectState/);
    const inconclusive = byId.get(backups.inconclusive.backupId)!;
    assert.equal(inconclusive.unreadable, undefined);
    assert.equal(inconclusive.lastRestoreVerification?.outcome, 'passed', 'the inconclusive drill does not take the passed one\'s place');
    assert.equal(inconclusive.lastInconclusive?.outcome, 'inconclusive');
    const newest = byId.get(twoFormats.backupId)!;
    assert.equal(newest.lastVerification?.outcome, 'passed', 'the evidence that finished last wins, not the last key');
    assert.equal(newest.lastVerification?.finishedAt, new Date(start.getTime() + 900).toISOString());

    const plan = planRetention(listing.candidates, new Date(), retentionSchema.parse(retention));
    const keptIds = plan.kept.map((decision) => decision.backupId).sort();
    assert.deepEqual(keptIds, [backups.newest, backups.garbage, backups.archived, backups.inconclusive].map((b) => b.backupId).sort());
  });

  test('pruneBackups keeps what it cannot read and an inconclusively drilled backup, says why, and deletes only the plain one', async () => {
    const backups = await writeHistory('prod');
    const keysBefore = await moto.listKeys(bucket, `${prefix}prod/`);
    const handle = await temporal.client.workflow.start('pruneBackups', { taskQueue, workflowId: uniqueName('prune-fc'), args: [{ stack: 'prod' }] });
    const report = (await handle.result()) as PruneReport;
    const reasonsOf = (backup: SyntheticBackup) => report.kept.find((entry) => entry.backupId === backup.backupId)?.reasons.join(' | ') ?? 'NOT KEPT';
    assert.deepEqual(report.deleted.map((entry) => entry.backupId), [backups.plain.backupId]);
    assert.match(reasonsOf(backups.garbage), /could not read drill evidence .*is not JSON.*: kept, left for an operator/);
    assert.match(reasonsOf(backups.archived), /could not read drill evidence .*InvalidObjectState.*: kept, left for an operator/);
    assert.match(reasonsOf(backups.inconclusive), /protected: restore-verified/);
    assert.match(reasonsOf(backups.inconclusive), /last restore drill inconclusive .*not counted against it/);
    assert.equal(report.kept.find((entry) => entry.backupId === backups.garbage.backupId)?.state, 'unreadable');
    const keysAfter = await moto.listKeys(bucket, `${prefix}prod/`);
    assert.deepEqual(keysAfter, keysBefore.filter((key) => !key.includes(backups.plain.backupId)));
  });

  test('a lock that cannot be read keeps its backup, in the plan and at delete time', async () => {
    const backup = syntheticBackup(new Date(Date.now() - 9 * 24 * HOUR), 7, { locks: [{ workflowId: 'restore-7', runbook: 'restore', since: new Date(Date.now() - 72 * HOUR).toISOString() }] });
    const objects = objectsOf('locked', backup);
    const lock = objects.find((object) => object.key.includes('/locks/'))!;
    await putAll(moto.s3, bucket, prefix, objects.filter((object) => object !== lock));
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + lock.key, Body: lock.body, StorageClass: 'GLACIER' }));
    const listing = (await new MockActivityEnvironment().run(activities.listPruneCandidates, { store, stack: 'locked' })) as PruneListing;
    const plan = planRetention(listing.candidates, new Date(), retentionSchema.parse({ keepLast: 0 }));
    assert.deepEqual(plan.kept.map((decision) => decision.backupId), [backup.backupId]);
    assert.match(plan.kept[0]!.reasons.join(' | '), /could not read lock .*\/locks\/restore-7\.json \(could not be read: InvalidObjectState/);
    const deleted = (await new MockActivityEnvironment().run(activities.deleteBackup, { store, stack: 'locked', backupId: backup.backupId, complete: true })) as { skipped?: string; objects: number };
    assert.match(deleted.skipped ?? '', /lock .*restore-7\.json could not be read/);
    assert.equal(deleted.objects, 0);
    assert.equal((await moto.listKeys(bucket, `${prefix}locked/`)).length, objects.length);
  });

  test('a store listing that fails stops the prune before any delete, and says so', async () => {
    const backups = await writeHistory('cut');
    const keysBefore = await moto.listKeys(bucket, `${prefix}cut/`);
    // The activity alone: the store unreachable (the proxy refuses connections).
    await proxy.cutOff();
    try {
      const cutStore = { ...store, endpoint: proxy.url };
      await assert.rejects(new MockActivityEnvironment().run(activities.listPruneCandidates, { store: cutStore, stack: 'cut' }), /listing backups of cut failed, nothing was deleted/);

      // The runbook: its listing step fails and retries; no delete is ever scheduled.
      const handle = await temporal.client.workflow.start('pruneBackups', { taskQueue, workflowId: uniqueName('prune-cut'), args: [{ stack: 'cut' }] });
      let lastFailure = '';
      for (let waited = 0; waited < 60_000 && !lastFailure; waited += 500) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        lastFailure = pending.find((activity) => activity.activityType?.name === 'listPruneCandidates' && activity.lastFailure)?.lastFailure?.message ?? '';
      }
      assert.match(lastFailure, /listing backups of cut failed, nothing was deleted/);
      await handle.terminate('test: the listing failed as expected');
      const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      assert.ok(!scheduled.some((name) => /delete|abort/i.test(name)), `no delete was scheduled: ${scheduled.join(', ')}`);
      await assert.rejects(handle.result(), WorkflowFailedError);
    } finally {
      await proxy.restore();
    }
    assert.deepEqual(await moto.listKeys(bucket, `${prefix}cut/`), keysBefore, `nothing of ${Object.keys(backups).length} backups was deleted`);
  });
});
