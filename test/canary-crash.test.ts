// A canary whose worker process is killed with SIGKILL, once during a timed pause and once
// while an analysis measurement is in flight: a new worker process carries on from the same
// step and weight, and no weight is shifted twice (the stand-in's request log counts the
// PATCHes to the canary Deployment).
import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { canaryStatus, startCanary } from '../src/client/api/canary.js';
import type { CanaryReport } from '../src/workflows/canary/report.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';
import { canaryReplicasOf, canaryStacks, CANARY_NAMESPACE, imageOf, seedStableDeployment, STABLE_REPLICAS, until } from './support/canary-stack.js';
import { startMetricsApp, startTraffic, type MetricsApp, type Traffic } from './support/metrics-app.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

let kube: KubeStandin;
let temporal: TestTemporal;
let client: Client;
let dir: { path: string; remove(): Promise<void> };
let app: MetricsApp;
let traffic: Traffic;
let configPath: string;
const workers: WorkerProcess[] = [];

before(async () => {
  [kube, temporal, dir, app] = await Promise.all([startKubeStandin({ readyDelayMs: 200 }), startTestTemporal(), tempDir('canary-crash'), startMetricsApp({ version: 'canary' })]);
  client = temporal.client;
  traffic = startTraffic(app.url('/'), 10);
  for (const name of ['paused', 'measuring']) seedStableDeployment(kube, name);
  await until('stable pods ready', () => ['paused', 'measuring'].every((s) => kube.get('deployment', CANARY_NAMESPACE, s)?.status?.readyReplicas === STABLE_REPLICAS), 20_000);
  configPath = await writeStacksFile(
    dir.path,
    canaryStacks(kube, {
      paused: {
        deployment: 'paused',
        statsUrl: app.url('/stats'),
        steps: [{ setWeight: 10 }, { pause: { duration: '6s' } }, { setWeight: 50 }, { analysis: { metrics: ['error-rate'], interval: '1s', count: 1 } }],
      },
      measuring: {
        deployment: 'measuring',
        statsUrl: app.url('/stats'),
        // The probe's requests are slow (the app answers after 1 s, one at a time): the
        // measurement lasts seconds, long enough to kill the worker in the middle of it.
        provider: { type: 'probe', url: app.url('/probe'), requests: 4, concurrency: 1, measure: 'errorRate', timeoutMs: 5_000 },
        steps: [{ setWeight: 10 }, { analysis: { metrics: ['error-rate'], interval: '1s', count: 2 } }, { setWeight: 50 }],
      },
    }),
  );
});

after(async () => {
  await Promise.allSettled(workers.map((worker) => worker.stop()));
  await traffic?.stop();
  await Promise.allSettled([app?.stop(), kube?.stop(), temporal?.stop(), dir?.remove()]);
});

function startWorkerProcess(taskQueue: string): WorkerProcess {
  const worker = spawnWorkerProcess({ address: temporal.address, taskQueue, configPath });
  workers.push(worker);
  return worker;
}

/** PATCHes (weights) and DELETEs to `<deployment>-canary` from request index `from`, in order. */
const canaryWrites = (deployment: string, from: number) =>
  kube.requests
    .slice(from)
    .filter((r) => r.method !== 'GET' && r.path.endsWith(`/deployments/${deployment}-canary`))
    .map((r) => r.method);

async function scheduledActivities(workflowId: string, type: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
}

async function retriedActivities(workflowId: string, type: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
  }
  return (history.events ?? []).filter(
    (e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1 && scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) === type,
  ).length;
}

test('a worker killed with SIGKILL during a timed pause: a new worker carries on from the pause at 10 %, shifts to 50 % once, promotes', async () => {
  const taskQueue = uniqueName('canary-crash-pause');
  const first = startWorkerProcess(taskQueue);
  const from = kube.requests.length;
  const handle = await startCanary(client, { stack: 'prod', service: 'paused', image: 'ragops-test/api:v2' }, { taskQueue });
  const pausing = await until(
    `the timed pause at 10 %; worker output:\n${first.output()}`,
    async () => {
      const report = await canaryStatus(client, handle.workflowId);
      return report.stepIndex === 1 && report.weight === 10 ? report : undefined;
    },
    60_000,
  );
  assert.equal(pausing.paused, null, 'a timed pause, not an operator pause');
  assert.deepEqual(canaryWrites('paused', from), ['PATCH'], 'one shift to 10 % before the kill');
  first.kill('SIGKILL');
  assert.equal((await first.process).signal, 'SIGKILL');
  assert.equal(canaryReplicasOf(kube, 'paused'), 1);

  await sleep(1_000);
  startWorkerProcess(taskQueue);
  const resumed = await until('the new worker answering status', () => canaryStatus(client, handle.workflowId), 30_000);
  assert.equal(resumed.stepIndex >= 1, true);
  const report = (await handle.result()) as CanaryReport;
  assert.equal(report.outcome, 'promoted', JSON.stringify(report));
  assert.deepEqual(canaryWrites('paused', from), ['PATCH', 'PATCH', 'PATCH', 'DELETE'], '10 %, 50 %, 0 %, deleted: nothing shifted twice');
  assert.equal(await scheduledActivities(handle.workflowId, 'setTrafficWeight'), 3, 'three weights asked for: 10, 50, 0');
  assert.equal(await scheduledActivities(handle.workflowId, 'launchCanaryVersion'), 1, 'the canary launched once');
  assert.equal(imageOf(kube, 'paused'), `ragops-test/api@${kube.images.digestOf('ragops-test/api:v2')}`, 'promoted by the digest the canary ran');
  assert.equal(canaryReplicasOf(kube, 'paused'), undefined);
});

test('a worker killed with SIGKILL while an analysis measures: the measurement is retried on a new worker at the same step and weight; each round recorded once, nothing shifted twice', async () => {
  app.setLatency(1_000);
  const taskQueue = uniqueName('canary-crash-measure');
  const first = startWorkerProcess(taskQueue);
  const from = kube.requests.length;
  const handle = await startCanary(client, { stack: 'prod', service: 'measuring', image: 'ragops-test/api:v2' }, { taskQueue });
  let measuring = false;
  for (let i = 0; i < 600 && !measuring; i += 1) {
    const description = await handle.describe();
    measuring = (description.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'measureMetric' && a.state === 2 /* STARTED */);
    if (!measuring) await sleep(100);
  }
  assert.ok(measuring, `no measurement started; worker output:\n${first.output()}`);
  await sleep(500);
  const before = await canaryStatus(client, handle.workflowId);
  assert.equal(before.stepIndex, 1);
  assert.equal(before.weight, 10);
  first.kill('SIGKILL');
  assert.equal((await first.process).signal, 'SIGKILL');

  startWorkerProcess(taskQueue);
  const report = (await handle.result()) as CanaryReport;
  app.setLatency(0);
  assert.equal(report.outcome, 'promoted', JSON.stringify(report));
  assert.ok((await retriedActivities(handle.workflowId, 'measureMetric')) >= 1, 'the measurement in flight was retried after the kill');
  assert.equal(report.measurementCount, 2, 'two rounds, each recorded once');
  assert.equal(report.measurements.length, 2);
  assert.ok(report.measurements.every((m) => m.outcome === 'passed'), JSON.stringify(report.measurements));
  assert.deepEqual(canaryWrites('measuring', from), ['PATCH', 'PATCH', 'PATCH', 'DELETE'], '10 %, 50 %, 0 %, deleted: nothing shifted twice');
  assert.equal(await scheduledActivities(handle.workflowId, 'setTrafficWeight'), 3);
  assert.equal(imageOf(kube, 'measuring'), `ragops-test/api@${kube.images.digestOf('ragops-test/api:v2')}`, 'promoted by the digest the canary ran');
});
