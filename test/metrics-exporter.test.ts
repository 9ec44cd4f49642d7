// The worker's metrics as an operator's Prometheus sees them: a real `ragops worker` process
// with RAGOPS_METRICS_ADDRESS and RAGOPS_HEALTH_ADDRESS, scraped by Debian's Prometheus, which
// evaluates a copy of the shipped alert rules (`for: 0s`, every second) against a stack whose
// backup SLO is 1s. A real backup of a database on the machine's PostgreSQL into an fs store.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { ApplicationFailure, CancelledFailure, type MetricMeter } from '@temporalio/common';
import { startBackup, startVerify } from '../src/client/api/runbooks.js';
import { createRunbookSchedule, scheduleIdFor } from '../src/client/api/schedules.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { backupKeys } from '../src/core/storeKeys.js';
import { manifestSchema, verificationSchema, type Manifest } from '../src/config/manifest.js';
import { NO_PLAN_LABEL, startRagopsGauges, type ScheduleState } from '../src/activities/exporter/gauges.js';
import { parseStacksFile } from '../src/config/load.js';
import { healthAnswer, listenAddressSchema } from '../src/activities/exporter/health.js';
import { outcomeOfError } from '../src/workflows/lib/runOutcomes.js';
import { createTestDatabase, seedRagDatabase, type TestDatabase } from './support/postgres.js';
import { startPrometheus, type TestPrometheus } from './support/prometheus.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const RULES = new URL('../deploy/prometheus/ragops-rules.yml', import.meta.url).pathname;
const PROMTOOL = process.env.RAGOPS_PROMTOOL_BIN ?? '/usr/bin/promtool';
const run = promisify(execFile);

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

let temporal: TestTemporal;
let db: TestDatabase;
let dir: { path: string; remove(): Promise<void> };
let worker: WorkerProcess | undefined;
let prometheus: TestPrometheus | undefined;
let metricsAddress: string;
let healthAddress: string;
const taskQueue = uniqueName('metrics-exporter');
const pausedSchedule = scheduleIdFor('verifyBackup', 'prod');
let backupManifest: Manifest | undefined;

/** The shipped rules with every `for` at 0s and the group evaluated every second: the test copy. */
async function testRules(path: string): Promise<void> {
  const rules = parse(await readFile(RULES, 'utf8')) as { groups: Array<{ interval?: string; rules: Array<{ for?: string }> }> };
  for (const group of rules.groups) {
    group.interval = '1s';
    for (const rule of group.rules) rule.for = '0s';
  }
  await writeFile(path, stringify(rules));
}

async function alerts(): Promise<Alert[]> {
  const answer = (await (await fetch(`${prometheus!.url}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } };
  return answer.data.alerts;
}

async function waitForAlert(accept: (alerts: Alert[]) => boolean, what: string, timeoutMs = 20_000): Promise<Alert[]> {
  const until = Date.now() + timeoutMs;
  let seen: Alert[] = [];
  while (Date.now() < until) {
    seen = await alerts();
    if (accept(seen)) return seen;
    await sleep(250);
  }
  throw new Error(`after ${timeoutMs} ms, ${what}; alerts: ${JSON.stringify(seen.map((a) => [a.labels.alertname, a.labels.stack, a.state]))}`);
}

const firing = (list: Alert[], name: string) => list.find((alert) => alert.labels.alertname === name && alert.labels.stack === 'prod' && alert.state === 'firing');

before(async () => {
  [temporal, db, dir] = await Promise.all([startTestTemporal(), createTestDatabase('metrics'), tempDir('metrics-exporter')]);
  await seedRagDatabase(db.name, { documents: 200 });
  // A paused schedule of the stack, there before the worker's first round of gauges.
  const schedule = await createRunbookSchedule(temporal.client, 'verifyBackup', { input: { stack: 'prod', depth: 'checksum' }, cron: '0 3 * * *', taskQueue });
  await schedule.pause('paused by the metrics test');
  const configPath = await writeStacksFile(dir.path, {
    stacks: {
      prod: {
        postgres: [{ name: 'app', host: '127.0.0.1', port: 5432, database: db.name, user: 'postgres' }],
        store: { type: 'fs', path: join(dir.path, 'store') },
        slo: { backupMaxAge: '1s', drillMaxAge: '7d' },
      },
    },
  });
  [metricsAddress, healthAddress] = [`127.0.0.1:${await findFreePort()}`, `127.0.0.1:${await findFreePort()}`];
  // A refresh far beyond the test's length: the figures after the backup come from the refresh its manifest's write triggers.
  worker = spawnWorkerProcess({
    address: temporal.address,
    taskQueue,
    configPath,
    env: { RAGOPS_METRICS_ADDRESS: metricsAddress, RAGOPS_HEALTH_ADDRESS: healthAddress, RAGOPS_METRICS_REFRESH: '1h' },
  });
  const rulesPath = join(dir.path, 'rules.yml');
  await testRules(rulesPath);
  prometheus = await startPrometheus([{ address: metricsAddress }], { ruleFiles: [rulesPath] });
});

after(async () => {
  await Promise.allSettled([worker?.stop(), prometheus?.stop()]);
  await Promise.allSettled([temporal?.stop(), db?.drop()]);
  await dir?.remove();
});

test('promtool accepts the shipped rules file and the test copy', async () => {
  const { stdout } = await run(PROMTOOL, ['check', 'rules', RULES]);
  assert.match(stdout, /SUCCESS: \d+ rules found/);
  const copy = join(dir.path, 'rules.yml');
  assert.match((await run(PROMTOOL, ['check', 'rules', copy])).stdout, /SUCCESS/);
});

test('GET /healthz answers 200 with the task queue while the worker runs', async () => {
  let answer: { status: number; body: Record<string, unknown> } | undefined;
  // The worker process bundles its workflows first: tens of seconds on a busy machine.
  for (const until = Date.now() + 120_000; Date.now() < until && answer?.status !== 200; ) {
    const response = await fetch(`http://${healthAddress}/healthz`).catch(() => undefined);
    answer = response ? { status: response.status, body: (await response.json()) as Record<string, unknown> } : undefined;
    if (answer?.status !== 200) await sleep(250);
  }
  assert.deepEqual(answer, { status: 200, body: { status: 'ok', taskQueue, workerState: 'RUNNING' } }, `worker output:\n${worker!.output()}`);
  assert.equal((await fetch(`http://${healthAddress}/metrics`)).status, 404);
});

test('before any backup: the SLO gauges and the paused schedule are served, and "no backup at all" fires', async () => {
  const p = prometheus!;
  assert.equal(await p.waitFor('ragops_slo_backup_max_age_seconds{stack="prod"}', (v) => v !== null, 60_000), 1);
  assert.equal(await p.queryValue('ragops_slo_drill_max_age_seconds{stack="prod"}'), 7 * 86_400);
  assert.equal(await p.queryValue('ragops_exporter_store_readable{stack="prod"}'), 1);
  assert.equal(await p.queryValue(`ragops_schedule_paused{stack="prod",schedule="${pausedSchedule}"}`), 1);
  assert.equal(await p.queryValue('ragops_backup_last_success_timestamp_seconds'), null);
  const list = await waitForAlert((list) => Boolean(firing(list, 'RagopsBackupMissing') && firing(list, 'RagopsSchedulePaused')), 'no backup and a paused schedule should fire');
  assert.equal(firing(list, 'RagopsBackupTooOld'), undefined);
  assert.equal(firing(list, 'RagopsSchedulePaused')!.labels.schedule, pausedSchedule);
  assert.match(firing(list, 'RagopsBackupMissing')!.annotations.summary!, /Stack prod/);
});

test('after a backup: its finish time and size are the gauges, the run is counted, and "backup too old" fires', async () => {
  const p = prometheus!;
  const handle = await startBackup(temporal.client, { stack: 'prod', components: ['postgres'] }, { taskQueue });
  const report = await handle.result();
  const manifest = manifestSchema.parse(JSON.parse(await readFile(join(dir.path, 'store', report.manifestKey), 'utf8')));
  backupManifest = manifest;
  const finishedAt = Date.parse(manifest.finishedAt) / 1000;
  const labels = `{stack="prod",plan="${NO_PLAN_LABEL}"}`;
  assert.equal(await p.waitFor(`ragops_backup_last_success_timestamp_seconds${labels}`, (v) => v !== null), finishedAt);
  assert.equal(await p.queryValue(`ragops_backup_size_bytes${labels}`), manifest.artifacts.reduce((sum, artifact) => sum + artifact.size, 0));
  assert.equal(await p.waitFor('sum(ragops_runbook_runs_total{runbook="backup",outcome="completed"})', (v) => v !== null), 1);
  assert.equal(await p.queryValue('sum(ragops_runbook_runs_total{runbook="backup",outcome!="completed"})'), null);

  const list = await waitForAlert((list) => Boolean(firing(list, 'RagopsBackupTooOld')) && !firing(list, 'RagopsBackupMissing'), '"backup too old" should fire and "no backup" resolve');
  const tooOld = firing(list, 'RagopsBackupTooOld')!;
  assert.equal(tooOld.labels.severity, 'critical');
  assert.match(tooOld.annotations.summary!, /Stack prod: no complete backup within its RPO/);
  assert.match(tooOld.annotations.description!, /backup SLO is\s+1s/);
});

test('after a checksum drill: the last result is "passed" and the drill run is counted', async () => {
  const p = prometheus!;
  const handle = await startVerify(temporal.client, { stack: 'prod', depth: 'checksum' }, { taskQueue });
  const report = await handle.result();
  const evidence = verificationSchema.parse(JSON.parse(await readFile(join(dir.path, 'store', report.evidenceKey), 'utf8')));
  assert.equal(evidence.passed, true);
  assert.equal(await p.waitFor('ragops_restore_drill_last_result{stack="prod",result="passed"}', (v) => v !== null), 1);
  assert.equal(await p.queryValue('ragops_restore_drill_last_result{stack="prod",result="failed"}'), 0);
  assert.equal(await p.queryValue('ragops_restore_drill_last_result{stack="prod",result="inconclusive"}'), 0);
  // A checksum drill is not a restore: the drill SLO still has no passing restore drill.
  assert.equal(await p.queryValue('ragops_restore_drill_last_pass_timestamp_seconds'), null);
  assert.equal(await p.waitFor('sum(ragops_runbook_runs_total{runbook="verifyBackup",outcome="completed"})', (v) => v !== null), 1);
  assert.equal(firing(await alerts(), 'RagopsRestoreDrillFailed'), undefined);
});

test('a drill of a corrupted backup: the last result turns "failed", the failed run is counted, and "drill failed" fires; DR evidence beside it gives RTO and RPO', async () => {
  const p = prometheus!;
  assert.ok(backupManifest, 'the backup test ran first');
  // Synthetic DR evidence (a disaster recovery needs a whole stack; its own tests write real ones): folded in at the drill's refresh.
  const drKey = backupKeys.drEvidence('prod', backupManifest.backupId, new Date(), 'metrics', 'drill');
  await mkdir(dirname(join(dir.path, 'store', drKey)), { recursive: true });
  const evidence = { mode: 'drill', outcome: 'recovered', rto: { seconds: 2400, targetSeconds: 1800, met: false, from: new Date(Date.now() - 2_400_000).toISOString(), to: new Date().toISOString() }, rpo: { seconds: 12.5, targetSeconds: 900, met: true } };
  await writeFile(join(dir.path, 'store', drKey), JSON.stringify(evidence));
  const dump = join(dir.path, 'store', backupManifest.artifacts[0]!.key);
  const bytes = await readFile(dump);
  const middle = bytes.length >> 1;
  bytes[middle] = bytes[middle]! ^ 0xff;
  await writeFile(dump, bytes);
  const handle = await startVerify(temporal.client, { stack: 'prod', depth: 'checksum' }, { taskQueue });
  await assert.rejects(handle.result());
  assert.equal(await p.waitFor('ragops_restore_drill_last_result{stack="prod",result="failed"}', (v) => v === 1), 1);
  assert.equal(await p.queryValue('ragops_restore_drill_last_result{stack="prod",result="passed"}'), 0);
  assert.equal(await p.waitFor('sum(ragops_runbook_runs_total{runbook="verifyBackup",outcome="failed"})', (v) => v !== null), 1);
  assert.equal(await p.waitFor('ragops_dr_rto_seconds{stack="prod"}', (v) => v !== null), 2400);
  assert.equal(await p.queryValue('ragops_dr_rpo_seconds{stack="prod"}'), 12.5);
  assert.equal(await p.queryValue('ragops_dr_rto_target_seconds{stack="prod"}'), 1800);
  const list = await waitForAlert((list) => Boolean(firing(list, 'RagopsRestoreDrillFailed') && firing(list, 'RagopsDrTargetMissed')), '"drill failed" and "DR target missed" should fire');
  assert.match(firing(list, 'RagopsRestoreDrillFailed')!.annotations.summary!, /Stack prod: the last drill failed/);
  assert.match(firing(list, 'RagopsDrTargetMissed')!.annotations.description!, /measured\s+40m 0s/);
});

test('the series have exactly the names and types the rules use: gauges, and one counter without a unit suffix', async () => {
  const answer = (await (await fetch(`${prometheus!.url}/api/v1/metadata`)).json()) as { data: Record<string, Array<{ type: string }>> };
  const types = Object.fromEntries(Object.entries(answer.data).filter(([name]) => name.startsWith('ragops_')).map(([name, [meta]]) => [name, meta!.type]));
  const gauges = [
    'ragops_backup_last_success_timestamp_seconds',
    'ragops_backup_size_bytes',
    'ragops_restore_drill_last_pass_timestamp_seconds',
    'ragops_restore_drill_last_result',
    'ragops_dr_rto_seconds',
    'ragops_dr_rpo_seconds',
    'ragops_dr_rto_target_seconds',
    'ragops_dr_rpo_target_seconds',
    'ragops_slo_backup_max_age_seconds',
    'ragops_slo_drill_max_age_seconds',
    'ragops_schedule_paused',
    'ragops_exporter_store_readable',
    'ragops_exporter_schedules_readable',
  ];
  // Never set here (no passing restore drill), so never served: the SDK's registry only has series it was given.
  const served = gauges.filter((name) => name !== 'ragops_restore_drill_last_pass_timestamp_seconds');
  assert.deepEqual(types, { ...Object.fromEntries(served.map((name) => [name, 'gauge'])), ragops_runbook_runs_total: 'counter' });
  // Every metric name the shipped rules use is one of them.
  const shipped = parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
  const used = new Set(shipped.groups.flatMap((group) => group.rules.flatMap((rule) => rule.expr.match(/ragops_[a-z_]+/g) ?? [])));
  assert.ok(used.size >= 8, `the rules use only ${[...used].join(', ')}`);
  for (const name of used) assert.ok([...gauges, 'ragops_runbook_runs_total'].includes(name), `the rules use ${name}, which the worker does not serve`);
});

test('a schedule deleted since the last round reads as not paused (a gauge series cannot be removed)', async () => {
  const values = new Map<string, number>();
  const meter = {
    createGauge: (name: string) => ({ set: (value: number, tags: Record<string, string>) => values.set(`${name}${JSON.stringify(tags)}`, value) }),
  } as unknown as MetricMeter;
  let schedules: ScheduleState[] = [{ scheduleId: 'ragops-backup-prod', stack: 'prod', paused: true }];
  const stacks = parseStacksFile(stringify({ stacks: { prod: { postgres: [], store: { type: 'fs', path: join(dir.path, 'unit-store') } } } }), 'unit');
  const gauges = startRagopsGauges(meter, { loadStacks: async () => stacks, listSchedules: async () => schedules }, 3_600_000);
  try {
    await gauges.refresh();
    const key = 'ragops_schedule_paused{"stack":"prod","schedule":"ragops-backup-prod"}';
    assert.equal(values.get(key), 1);
    schedules = [];
    await gauges.refresh();
    assert.equal(values.get(key), 0);
    assert.equal(values.get('ragops_exporter_store_readable{"stack":"prod"}'), 1);
    // No DR section and no slo.backupMaxAge: no backup SLO to alert on; the drill SLO defaults to a week.
    assert.equal(values.has('ragops_slo_backup_max_age_seconds{"stack":"prod"}'), false);
    assert.equal(values.get('ragops_slo_drill_max_age_seconds{"stack":"prod"}'), 7 * 86_400);
  } finally {
    gauges.stop();
  }
});

test('the run outcome a finished workflow is counted under, and the health answer of each worker state', () => {
  assert.equal(outcomeOfError(ApplicationFailure.create({ message: 'drill failed' }), false), 'failed');
  assert.equal(outcomeOfError(new CancelledFailure('cancelled'), true), 'cancelled');
  assert.equal(outcomeOfError(new TypeError('a bug: the workflow task is retried'), false), undefined);
  assert.equal(healthAnswer({ taskQueue: 'q', workerState: 'RUNNING' }).status, 200);
  for (const workerState of ['INITIALIZED', 'DRAINING', 'STOPPING', 'STOPPED', 'FAILED']) assert.equal(healthAnswer({ taskQueue: 'q', workerState }).status, 503);
  assert.deepEqual(listenAddressSchema.parse('[::]:8080'), { host: '::', port: 8080 });
  assert.deepEqual(listenAddressSchema.parse(':9000'), { host: '0.0.0.0', port: 9000 });
  assert.equal(listenAddressSchema.safeParse('8080').success, false);
});
