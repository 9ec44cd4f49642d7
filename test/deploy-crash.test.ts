import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDeploy } from '../src/client/api/runbooks.js';
import type { DeployReport } from '../src/workflows/deploy/index.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';
import { imageOf, kubernetesStacks, liveReplicaSets, NAMESPACE, seedCluster } from './support/k8s-stack.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

let kube: KubeStandin;
let temporal: TestTemporal;
let dir: { path: string; remove(): Promise<void> };
const workers: WorkerProcess[] = [];

before(async () => {
  // Pods take 6 s to become ready: long enough to kill the worker while it waits on the rollout.
  [kube, temporal, dir] = await Promise.all([startKubeStandin({ readyDelayMs: 6_000 }), startTestTemporal(), tempDir('deploy-crash')]);
  seedCluster(kube);
  for (let i = 0; i < 100 && liveReplicaSets(kube, 'api')[0]?.ready !== 2; i += 1) await sleep(100);
});
after(async () => {
  await Promise.allSettled(workers.map((worker) => worker.stop()));
  await Promise.allSettled([kube?.stop(), temporal?.stop(), dir?.remove()]);
});

test('a worker killed with SIGKILL during the rollout: a new worker finishes, the service ends on exactly one version, ready', async () => {
  const configPath = await writeStacksFile(dir.path, kubernetesStacks(kube, 60));
  const taskQueue = uniqueName('deploy-crash');
  const start = () => {
    const worker = spawnWorkerProcess({ address: temporal.address, taskQueue, configPath });
    workers.push(worker);
    return worker;
  };
  const first = start();
  const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api-no-migration', image: 'ragops-test/api:v2' }, { taskQueue });
  let rollingOut = false;
  for (let i = 0; i < 600 && !rollingOut; i += 1) {
    const description = await handle.describe();
    rollingOut = (description.raw.pendingActivities ?? []).some((activity) => activity.activityType?.name === 'k8sRolloutStatus' && activity.state === 2);
    if (!rollingOut) await sleep(100);
  }
  assert.ok(rollingOut, `the rollout never started; worker output:\n${first.output()}`);
  first.kill('SIGKILL');
  assert.equal((await first.process).signal, 'SIGKILL');

  start();
  const report = (await handle.result()) as DeployReport;
  assert.equal(report.outcome, 'deployed');
  assert.equal(imageOf(kube, 'api'), 'ragops-test/api:v2');
  const live = liveReplicaSets(kube, 'api');
  assert.deepEqual(live.map((rs) => rs.image), ['ragops-test/api:v2'], 'exactly one version runs');
  assert.equal(live[0]?.ready, live[0]?.replicas, 'and it is ready');
  const status = kube.get('deployment', NAMESPACE, 'api').status;
  assert.equal(status.updatedReplicas, status.replicas);
});

test('a worker killed with SIGKILL during the migration: the retry attaches to the run\'s Job, exactly one Job ran, the deploy finishes', async () => {
  const configPath = await writeStacksFile(dir.path, kubernetesStacks(kube, 60));
  const taskQueue = uniqueName('deploy-crash-migrate');
  const start = () => {
    const worker = spawnWorkerProcess({ address: temporal.address, taskQueue, configPath });
    workers.push(worker);
    return worker;
  };
  const first = start();
  const jobCreates = () => kube.requests.filter((r) => r.verb === 'create' && r.path.endsWith('/jobs') && r.status === 201).length;
  const createdBefore = jobCreates();
  const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api', image: 'ragops-test/api:v3' }, { taskQueue });
  let migrating = false;
  for (let i = 0; i < 600 && !migrating; i += 1) {
    const description = await handle.describe();
    migrating =
      jobCreates() > createdBefore &&
      (description.raw.pendingActivities ?? []).some((activity) => activity.activityType?.name === 'k8sRunMigration' && activity.state === 2);
    if (!migrating) await sleep(100);
  }
  assert.ok(migrating, `the migration never started; worker output:\n${first.output()}`);
  first.kill('SIGKILL');
  assert.equal((await first.process).signal, 'SIGKILL');

  start();
  const report = (await handle.result()) as DeployReport;
  assert.equal(report.outcome, 'deployed');
  assert.equal(jobCreates() - createdBefore, 1, 'exactly one migration Job was created');
  assert.ok(report.migrationOutput !== undefined, 'the output of the one Job is in the report');
  const attempts = ((await handle.fetchHistory()).events ?? []).filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt! > 1);
  assert.ok(attempts.length >= 1, 'the migration activity was retried after the kill');
  assert.deepEqual(kube.list('job', NAMESPACE), [], 'the Job is deleted once its result is taken');
});
