// The disasterRecovery runbook on a stack of the machine's PostgreSQL and the Qdrant stand-in
// (the services on Docker Compose are in dr-compose.test.ts): plan mode changes nothing and
// picks the backup by its drills; a manual recovery waits for `approve` sent with the
// `temporal` CLI, then restores exact counts and aliases and reports RTO and RPO; a failing
// end-to-end check stops the run at validate with every component's state.
import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startBackup, startDisasterRecovery, startVerify } from '../src/client/api/runbooks.js';
import { findTemporalCli } from '../src/client/dev/devserver.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { dropDatabaseIfExists, exactCounts } from './support/postgres.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startCheckServer, type CheckServer } from './support/check-server.js';
import { startHaproxy, type TestHaproxy } from './support/haproxy.js';
import { sendThrough, startWeightedBackends, type WeightedBackends } from './support/weighted-backends.js';
import { withStore } from '../src/activities/store/open.js';
import { listBackupsIn } from '../src/activities/store/catalog.js';
import { formatBackupListing } from '../src/client/cli/listing.js';

describe('disasterRecovery without services', { timeout: 600_000 }, () => {
  let fixture: BackupFixture;
  let worker: RunningWorker;
  let checks: CheckServer;
  let backends: WeightedBackends;
  let haproxy: TestHaproxy;
  let store: { path: string; remove(): Promise<void> };
  const taskQueue = uniqueName('dr');
  const backups: BackupReport[] = [];
  let qdrant: QdrantClient;

  const dr = async (input: Record<string, unknown>) => startDisasterRecovery(fixture.temporal.client, { stack: 'prod', ...input } as never, { taskQueue, workflowId: uniqueName('dr') });
  const failureOf = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => assert.fail('the run did not fail'), (caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError);
    return error.cause as Error & { type?: string; details?: unknown[] };
  };
  const collections = async () => ({
    names: (await qdrant.getCollections()).collections.map((c) => c.name).sort(),
    aliases: (await qdrant.getAliases()).aliases.map((a) => `${a.alias_name}->${a.collection_name}`).sort(),
  });

  before(async () => {
    fixture = await startBackupFixture({ documents: 500 });
    for (const [name, value] of Object.entries(fixture.secretEnv)) process.env[name] = value;
    checks = await startCheckServer();
    // The traffic step: HAProxy sends everything to the old side until the recovery moves it.
    backends = await startWeightedBackends();
    haproxy = await startHaproxy({ stable: backends.stable, canary: backends.canary, socket: 'tcp' });
    store = await tempDir('drstore');
    const stacks = fixture.stacks({ store: 'fs', fsPath: store.path }) as { stacks: { prod: Record<string, unknown> } };
    // RPO is measured against the newest audit event the restore brings back.
    (stacks.stacks.prod.postgres as Array<Record<string, unknown>>)[0]!.freshness = { table: 'audit.events', column: 'at' };
    stacks.stacks.prod.dr = {
      targets: { rtoMinutes: 30, rpoMinutes: 60 },
      dependencies: [{ type: 'tcp', name: 'postgres', host: '127.0.0.1', port: 5432 }, { type: 'dns', name: 'resolver', hostname: 'localhost' }],
      traffic: { shifter: { type: 'haproxy', socket: haproxy.socket, backend: haproxy.backend, stableServer: haproxy.stableServer, canaryServer: haproxy.canaryServer }, weight: 100 },
      validation: { checks: [{ url: checks.url('/health'), timeoutSeconds: 5, intervalMs: 200 }] },
      approvalTimeout: '10m',
    };
    worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) });
    qdrant = new QdrantClient({ url: fixture.qdrant.url, apiKey: fixture.qdrant.apiKey, checkCompatibility: false });
  });
  after(async () => {
    await worker?.stop();
    await checks?.stop();
    await haproxy?.stop();
    await backends?.stop();
    await fixture?.stop();
    await store?.remove();
  });

  test('plan: refuses without a drilled backup, then picks the newest whose restore drill passed, never one whose drill failed, and `at` picks by time; nothing changes', async () => {
    assert.match((await failureOf((await dr({ mode: 'plan' })).result())).message, /no complete backup/);
    for (let i = 0; i < 3; i++) backups.push(await (await startBackup(fixture.temporal.client, { stack: 'prod' }, { taskQueue })).result());
    const [oldest, middle, newest] = backups as [BackupReport, BackupReport, BackupReport];
    assert.match((await failureOf((await dr({ mode: 'plan' })).result())).message, /no backup has passed a restore drill/);

    for (const backup of [oldest, middle]) {
      const drill = await (await startVerify(fixture.temporal.client, { stack: 'prod', backupId: backup.backupId, depth: 'restore' }, { taskQueue })).result();
      assert.equal(drill.passed, true);
    }
    // The newest backup's dump corrupted: its checksum drill fails, so it is never chosen, even with allowUnverified.
    const dump = join(store.path, newest.artifacts.find((a) => a.component === 'postgres')!.key);
    const bytes = await readFile(dump);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(dump, bytes);
    await failureOf((await startVerify(fixture.temporal.client, { stack: 'prod', backupId: newest.backupId, depth: 'checksum' }, { taskQueue })).result());

    const before = { counts: await exactCounts(fixture.db.name), qdrant: await collections() };
    const planned = (await (await dr({ mode: 'plan', allowUnverified: true })).result()) as DrReport;
    assert.equal(planned.outcome, 'planned');
    assert.equal(planned.plan?.backup.backupId, middle.backupId);
    assert.equal(planned.plan?.backup.verified, true);
    assert.deepEqual(planned.phasePlan?.map((entry) => entry.phase), ['assess', 'approve', 'stop writers', 'restore data', 'verify dependencies', 'deploy services', 'traffic', 'validate', 'report']);
    assert.match(planned.phasePlan![3]!.what, new RegExp(`database ${fixture.db.name}.*collection docs_v1`));
    assert.deepEqual(planned.plan?.probes.map((probe) => [probe.component, probe.answers]), [['postgres app', true], ['qdrant', true]]);
    const atOldest = (await (await dr({ mode: 'plan', at: await finishedAtOf(oldest) })).result()) as DrReport;
    assert.equal(atOldest.plan?.backup.backupId, oldest.backupId);
    assert.deepEqual({ counts: await exactCounts(fixture.db.name), qdrant: await collections() }, before, 'plan mode changed nothing');
  });

  async function finishedAtOf(backup: BackupReport): Promise<string> {
    const manifest = JSON.parse(await readFile(join(store.path, backup.manifestKey), 'utf8')) as { finishedAt: string };
    return manifest.finishedAt;
  }

  test('recover with manual approval sent by `temporal workflow update`: exact counts, collections and aliases back; RTO and RPO reported', async () => {
    const expected = { counts: await exactCounts(fixture.db.name), qdrant: await collections() };
    const chosen = backups[1]!;
    const db = await fixture.db.client();
    const newestEvent = ((await db.query<{ newest: Date }>('SELECT max(at) AS newest FROM audit.events')).rows[0]!.newest).toISOString();
    await db.end();
    // The disaster: the database dropped, the collections and aliases deleted.
    await dropDatabaseIfExists(fixture.db.name);
    for (const alias of (await qdrant.getAliases()).aliases) await qdrant.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: alias.alias_name } }] });
    for (const name of expected.qdrant.names) await qdrant.deleteCollection(name);
    const incidentAt = new Date().toISOString();

    const handle = await dr({ mode: 'recover', incidentAt });
    let phase = '';
    for (let i = 0; i < 300 && phase !== 'approve'; i++) {
      phase = ((await handle.query('status')) as DrReport).phase;
      if (phase !== 'approve') await sleep(100);
    }
    assert.equal(phase, 'approve');
    const cli = await execa(findTemporalCli(), ['workflow', 'update', 'execute', '--address', fixture.temporal.address, '--workflow-id', handle.workflowId, '--name', 'approve', '--input', '{"by":"alice@ops"}']);
    assert.match(cli.stdout, /alice@ops/);
    const report = (await handle.result()) as DrReport;
    assert.equal(report.outcome, 'recovered');
    assert.equal(report.approvedBy, 'alice@ops');
    assert.deepEqual({ counts: await exactCounts(fixture.db.name), qdrant: await collections() }, expected);
    assert.deepEqual(report.phases.map((p) => [p.phase, p.outcome]), [
      ['assess', 'done'], ['approve', 'done'], ['stop writers', 'skipped'], ['restore data', 'done'], ['verify dependencies', 'done'],
      ['deploy services', 'skipped'], ['traffic', 'done'], ['validate', 'done'], ['report', 'done'],
    ]);
    backends.reset();
    const tally = await sendThrough(haproxy.url, 20);
    assert.deepEqual([tally.stable, tally.canary], [0, 20], 'the traffic step sent everything to the recovered side');
    const manifest = JSON.parse(await readFile(join(store.path, chosen.manifestKey), 'utf8')) as { startedAt: string };
    // The stack is as old as its oldest part: the collections are as of the backup's start, the database as of its newest event.
    assert.ok(newestEvent < manifest.startedAt, `${newestEvent} < ${manifest.startedAt}`);
    assert.deepEqual(report.dependencies.map((d) => [d.name, d.type, d.passed]), [['postgres', 'tcp', true], ['resolver', 'dns', true]]);
    assert.match(report.dependencies[1]!.detail, /^localhost → .*(127\.0\.0\.1|::1)/);
    assert.deepEqual(report.freshness, [{ label: 'app', database: fixture.db.name, at: newestEvent, basis: 'max(audit.events.at)' }]);
    assert.equal(report.rpo?.dataAsOf, newestEvent);
    assert.equal(report.rpo?.seconds, (Date.parse(incidentAt) - Date.parse(newestEvent)) / 1000);
    assert.equal(report.rpo?.met, true);
    const validated = report.phases.find((p) => p.phase === 'validate')!;
    assert.ok(Math.abs(report.rto!.seconds - (Date.parse(validated.startedAt) + validated.durationMs - Date.parse(incidentAt)) / 1000) < 1, JSON.stringify(report.rto));
    const evidence = JSON.parse(await readFile(join(store.path, report.evidenceKey!), 'utf8')) as DrReport;
    assert.equal(evidence.outcome, 'recovered');
    assert.ok(report.evidenceKey!.startsWith(`prod/${chosen.backupId}/dr/`));
    // backup list shows the last recovery's RTO and RPO on the backup it used.
    const listings = await withStore({ type: 'fs', path: store.path }, (opened) => listBackupsIn(opened, 'prod'));
    const listed = listings.find((listing) => listing.backupId === chosen.backupId)!;
    assert.deepEqual([listed.lastDr?.mode, listed.lastDr?.rto?.seconds, listed.lastDr?.rpo?.seconds], ['recover', report.rto!.seconds, report.rpo!.seconds]);
    assert.match(formatBackupListing(listings), new RegExp(`${chosen.backupId}.*DR recover: RTO ${report.rto!.seconds} s of 1800, RPO ${report.rpo!.seconds} s of 3600`));
  });

  test('validation failing: the run fails at validate with the evidence and every component\'s state; nothing is rolled back', async () => {
    checks.answer('/health', 500);
    const failure = await failureOf((await dr({ mode: 'recover', approve: 'auto' })).result());
    checks.answer('/health', 200);
    assert.equal(failure.type, 'DisasterRecoveryFailed');
    assert.match(failure.message, /failed at validate: end-to-end checks failing: .*\/health: 500/);
    const report = (failure.details as DrReport[])[0]!;
    assert.equal(report.failure?.phase, 'validate');
    assert.match(report.failure!.whatNow, /nothing was rolled back/);
    const data = Object.entries(report.components).filter(([component]) => /^(postgres|qdrant|redis) /.test(component));
    assert.ok(data.length === 3 && data.every(([, state]) => state === 'restored'), JSON.stringify(report.components));
    assert.equal(report.components['traffic (haproxy)'], '100 % to the recovered side');
  });
});
