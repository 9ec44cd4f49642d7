// The `ragops dr` and `ragops schedule drill` commands of issue 14, run as the real CLI
// (bin/ragops.mjs, a child process per command) against a Temporal dev server and a worker
// of this file's own task queue: plan prints the chosen backup and every phase and changes
// nothing; a manual recovery waits in approve (as `dr status` shows), `dr approve` lets it go,
// later approvals are refused with exit 1; a monthly drill schedule is created, described,
// listed and deleted.
import { QdrantClient } from '@qdrant/js-client-rest';
import { ScheduleNotFoundError } from '@temporalio/client';
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { hostname, userInfo } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { BackupReport } from '../src/workflows/backup.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { startCheckServer, type CheckServer } from './support/check-server.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { dropDatabaseIfExists, exactCounts } from './support/postgres.js';
import { startWorker, tempDir, uniqueName, writeStacksFile, type RunningWorker } from './support/ragops.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const PHASES = ['assess', 'approve', 'stop writers', 'restore data', 'verify dependencies', 'deploy services', 'traffic', 'validate', 'report'];

describe('ragops dr and schedule drill (the CLI)', { timeout: 600_000 }, () => {
  let fixture: BackupFixture;
  let worker: RunningWorker;
  let checks: CheckServer;
  let store: { path: string; remove(): Promise<void> };
  let configDir: { path: string; remove(): Promise<void> };
  let env: Record<string, string>;
  let qdrant: QdrantClient;
  let backup: BackupReport;
  const taskQueue = uniqueName('dr-cli');
  const scheduleId = 'ragops-dr-drill-prod';

  const ragops = (args: string[]) => execa(process.execPath, [RAGOPS, ...args], { env, reject: false, all: true });
  const state = async () => ({
    counts: await exactCounts(fixture.db.name),
    collections: (await qdrant.getCollections()).collections.map((c) => c.name).sort(),
    aliases: (await qdrant.getAliases()).aliases.map((a) => `${a.alias_name}->${a.collection_name}`).sort(),
  });

  before(async () => {
    fixture = await startBackupFixture({ documents: 200 });
    checks = await startCheckServer();
    store = await tempDir('drcli-store');
    configDir = await tempDir('drcli-config');
    const stacks = fixture.stacks({ store: 'fs', fsPath: store.path }) as { stacks: { prod: Record<string, unknown> } };
    stacks.stacks.prod.dr = {
      targets: { rtoMinutes: 30, rpoMinutes: 60 },
      // Long enough that a test can hold the run in validate by answering 503.
      validation: { checks: [{ url: checks.url('/health'), timeoutSeconds: 240, intervalMs: 200 }] },
      approvalTimeout: '10m',
    };
    const configPath = await writeStacksFile(configDir.path, stacks);
    worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) });
    env = { RAGOPS_CONFIG: configPath, RAGOPS_TASK_QUEUE: taskQueue, TEMPORAL_ADDRESS: fixture.temporal.address, TEMPORAL_NAMESPACE: fixture.temporal.namespace };
    qdrant = new QdrantClient({ url: fixture.qdrant.url, apiKey: fixture.qdrant.apiKey, checkCompatibility: false });
  });
  after(async () => {
    await fixture?.temporal.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    await worker?.stop();
    await checks?.stop();
    await fixture?.stop();
    await store?.remove();
    await configDir?.remove();
  });

  test('dr plan: refused without a drilled backup; with --allow-unverified prints the backup it would use and every phase; nothing changes', async () => {
    const backedUp = await ragops(['backup', 'run', '--stack', 'prod', '--wait', '--json']);
    assert.equal(backedUp.exitCode, 0, backedUp.all);
    backup = JSON.parse(backedUp.stdout) as BackupReport;
    assert.match(backup.backupId, /\S/);

    const before = await state();
    assert.deepEqual(before.counts, fixture.seededCounts);

    const refused = await ragops(['dr', 'plan', '--stack', 'prod', '--wait']);
    assert.equal(refused.exitCode, 2, refused.all);
    assert.match(refused.stderr, /^ragops: disasterRecovery dr-plan-prod failed \(InvalidInput\): .*no backup has passed a restore drill \(1 complete, 0 with a failed drill\)/m);

    const planned = await ragops(['dr', 'plan', '--stack', 'prod', '--allow-unverified', '--wait']);
    assert.equal(planned.exitCode, 0, planned.all);
    assert.match(planned.stdout, /^started disasterRecovery dr-plan-prod$/m);
    assert.match(planned.stdout, new RegExp(`^disaster recovery of stack prod: planned, phase assess, backup ${backup.backupId}$`, 'm'));
    // The phase plan, one row per phase in runbook order, each saying what it would do.
    const lines = planned.stdout.split('\n');
    const table = lines.slice(lines.indexOf('phasePlan:') + 1);
    const end = table.findIndex((l) => /^\S/.test(l));
    const phasePlan = end === -1 ? table : table.slice(0, end);
    assert.match(phasePlan[0] ?? '', /^\s+phase\s+what$/, planned.stdout);
    assert.deepEqual(phasePlan.slice(1).map((l) => l.trim().split(/\s{2,}/)[0]), PHASES, planned.stdout);
    const line = (phase: string) => phasePlan.find((l) => l.trim().startsWith(`${phase}  `))!;
    assert.match(line('assess'), new RegExp(`backup ${backup.backupId} of `));
    assert.match(line('approve'), /wait up to 10m for the approve update/);
    assert.match(line('restore data'), new RegExp(`database ${fixture.db.name}.*collection docs_v1`));
    assert.match(line('validate'), new RegExp(checks.url('/health').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

    assert.deepEqual(await state(), before, 'dr plan changed nothing');
    assert.equal(checks.requests.length, 0, 'dr plan ran no end-to-end check');
  });

  test('dr run: waits in approve (dr status says so), dr approve lets it go, the data is back; approve in a later phase or after the end is refused with exit 1', async (t) => {
    assert.ok(backup, 'the plan test took the backup');
    const expected = await state();
    // The disaster: the database dropped, the collections and aliases deleted.
    await dropDatabaseIfExists(fixture.db.name);
    for (const alias of (await qdrant.getAliases()).aliases) await qdrant.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: alias.alias_name } }] });
    for (const name of expected.collections) await qdrant.deleteCollection(name);
    checks.answer('/health', 503);

    const workflowId = 'dr-recover-prod';
    const run = ragops(['dr', 'run', '--stack', 'prod', '--allow-unverified', '--wait']);
    // A failing assertion must not leave the following CLI behind the test.
    t.after(() => {
      if (run.exitCode === null) run.kill();
      checks.answer('/health', 200);
    });
    const status = async () => {
      const shown = await ragops(['dr', 'status', workflowId]);
      assert.equal(shown.exitCode, 0, shown.all);
      return shown.stdout;
    };
    const statusIn = async (phase: string) => {
      for (let tries = 0; tries < 60; tries++) {
        const text = await status().catch(() => '');
        if (text.includes(`phase ${phase}`) || /^dr-recover-prod: (failed|recovered|not approved)/.test(text)) return text;
        await sleep(500);
      }
      return status();
    };

    const waiting = await statusIn('approve');
    assert.match(waiting, new RegExp(`^${workflowId}: running, phase approve, backup ${backup.backupId}$`, 'm'));
    assert.match(waiting, new RegExp(`^  waiting for approval: ragops dr approve ${workflowId}$`, 'm'));
    assert.match(waiting, new RegExp(`^  postgres app \\(${fixture.db.name}\\): untouched$`, 'm'));
    assert.match(waiting, /^ {2}qdrant docs_v1: untouched$/m);
    const json = JSON.parse((await ragops(['dr', 'status', workflowId, '--json'])).stdout) as DrReport;
    assert.deepEqual([json.outcome, json.phase, json.approvedBy, json.plan?.backup.backupId], ['running', 'approve', undefined, backup.backupId]);

    const approver = `${userInfo().username}@${hostname()}`;
    const approved = await ragops(['dr', 'approve', workflowId]);
    assert.equal(approved.exitCode, 0, approved.all);
    assert.match(approved.stdout, new RegExp(`^${workflowId}: approved by ${approver}$`, 'm'));

    // Held in validate by the 503: the run is alive and past approve, so only the validator can refuse.
    const validating = await statusIn('validate');
    assert.match(validating, new RegExp(`^${workflowId}: running, phase validate`, 'm'));
    const again = await ragops(['dr', 'approve', workflowId]);
    assert.equal(again.exitCode, 1, again.all);
    assert.match(again.stderr, new RegExp(`^approve refused by ${workflowId}: already approved by ${approver}$`, 'm'));
    checks.answer('/health', 200);

    const finished = await run;
    assert.equal(finished.exitCode, 0, finished.all);
    assert.match(finished.stdout, new RegExp(`^disaster recovery of stack prod: recovered, phase report, backup ${backup.backupId}, RTO [\\d.]+ s of 1800 s, RPO [\\d.]+ s of 3600 s$`, 'm'));
    assert.deepEqual(await state(), expected, 'the data is back: exact counts, collections and aliases');

    const done = JSON.parse((await ragops(['dr', 'status', workflowId, '--json'])).stdout) as DrReport;
    assert.deepEqual([done.outcome, done.approvedBy], ['recovered', approver]);
    assert.deepEqual(done.phases.map((p) => [p.phase, p.outcome]), [
      ['assess', 'done'], ['approve', 'done'], ['stop writers', 'skipped'], ['restore data', 'done'], ['verify dependencies', 'skipped'],
      ['deploy services', 'skipped'], ['traffic', 'skipped'], ['validate', 'done'], ['report', 'done'],
    ]);

    const late = await ragops(['dr', 'approve', workflowId]);
    assert.equal(late.exitCode, 1, late.all);
    assert.match(late.stderr, new RegExp(`^approve refused by ${workflowId}: the recovery has ended \\(completed\\): there is nothing to approve$`, 'm'));
  });

  test('schedule drill: a Temporal schedule with the cron whose action starts disasterRecovery in mode drill; listed; deleted', async () => {
    const created = await ragops(['schedule', 'drill', '--stack', 'prod', '--cron', '0 3 1 * *']);
    assert.equal(created.exitCode, 0, created.all);
    assert.match(created.stdout, new RegExp(`^created schedule ${scheduleId} \\(0 3 1 \\* \\*\\)$`, 'm'));

    const described = await fixture.temporal.client.schedule.getHandle(scheduleId).describe();
    assert.equal(described.action.type, 'startWorkflow');
    if (described.action.type !== 'startWorkflow') return;
    assert.equal(described.action.workflowType, 'disasterRecovery');
    assert.equal(described.action.workflowId, 'dr-drill-prod-scheduled');
    assert.equal(described.action.taskQueue, taskQueue);
    assert.deepEqual(described.action.args, [{ stack: 'prod', mode: 'drill', approve: 'auto' }]);
    assert.equal(described.policies.overlap, 'SKIP');
    assert.equal(described.state.paused, false);
    // "0 3 1 * *": 03:00 UTC on the 1st of every month.
    const calendar = (field: Array<{ start: number; end?: number; step?: number }> | undefined) => (field ?? []).map((r) => [r.start, r.end ?? r.start, r.step ?? 1]);
    assert.equal(described.spec.calendars?.length, 1, JSON.stringify(described.spec));
    const [spec] = described.spec.calendars!;
    assert.deepEqual([calendar(spec!.second as never), calendar(spec!.minute as never), calendar(spec!.hour as never), calendar(spec!.dayOfMonth as never)], [[[0, 0, 1]], [[0, 0, 1]], [[3, 3, 1]], [[1, 1, 1]]], JSON.stringify(spec));
    const next = described.info.nextActionTimes;
    assert.ok(next.length >= 2, JSON.stringify(next));
    for (const time of next) assert.deepEqual([time.getUTCDate(), time.getUTCHours(), time.getUTCMinutes(), time.getUTCSeconds()], [1, 3, 0, 0], time.toISOString());
    assert.equal((next[1]!.getUTCFullYear() * 12 + next[1]!.getUTCMonth()) - (next[0]!.getUTCFullYear() * 12 + next[0]!.getUTCMonth()), 1, 'monthly');

    const twice = await ragops(['schedule', 'drill', '--stack', 'prod', '--cron', '0 3 1 * *']);
    assert.equal(twice.exitCode, 2, twice.all);
    assert.equal(twice.stderr, `ragops: schedule ${scheduleId} already exists; nothing was changed: delete it first (ragops schedule delete ${scheduleId}) to replace it, or pass --id for another schedule of this runbook`);
    assert.equal((await fixture.temporal.client.schedule.getHandle(scheduleId).describe()).state.note, 'created by ragops schedule dr-drill (0 3 1 * *)');

    let listed = await ragops(['schedule', 'list']);
    for (let tries = 0; tries < 20 && !listed.stdout.includes(scheduleId); tries++) {
      await sleep(500);
      listed = await ragops(['schedule', 'list']);
    }
    assert.equal(listed.exitCode, 0, listed.all);
    const listing = (JSON.parse(listed.stdout) as Array<{ scheduleId: string; workflowType?: string; paused: boolean; note?: string; cron: string[]; nextActionTimes: string[] }>).find((s) => s.scheduleId === scheduleId);
    assert.deepEqual([listing?.workflowType, listing?.paused, listing?.note, listing?.nextActionTimes[0]], ['disasterRecovery', false, 'created by ragops schedule dr-drill (0 3 1 * *)', next[0]!.toISOString()], listed.stdout);
    assert.deepEqual(listing?.cron, ['0 3 1 * *'], 'the cron as written, not the calendars the server made of it');

    const deleted = await ragops(['schedule', 'delete', scheduleId]);
    assert.equal(deleted.exitCode, 0, deleted.all);
    assert.match(deleted.stdout, new RegExp(`^delete: ${scheduleId} done$`, 'm'));
    await assert.rejects(fixture.temporal.client.schedule.getHandle(scheduleId).describe(), ScheduleNotFoundError);
  });
});
