import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startDeploy } from '../src/client/api/runbooks.js';
import type { DeployReport } from '../src/workflows/deploy/index.js';
import { deployFailure } from './support/deploy.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';
import { imageOf, kubernetesStacks, liveReplicaSets, NAMESPACE, seedCluster } from './support/k8s-stack.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';
import { recordHistory } from './support/histories.js';

describe('deploy on Kubernetes (real kubectl, API stand-in)', () => {
  let kube: KubeStandin;
  let temporal: TestTemporal;
  let worker: RunningWorker;
  let taskQueue: string;

  before(async () => {
    [kube, temporal] = await Promise.all([startKubeStandin(), startTestTemporal()]);
    seedCluster(kube);
    taskQueue = uniqueName('deploy-k8s');
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(kubernetesStacks(kube)) });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([kube?.stop(), temporal?.stop()]);
  });

  test('v1 → v2: migration job, set image, rollout status; one live ReplicaSet on v2', async () => {
    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api', image: 'ragops-test/api:v2' }, { taskQueue });
    const report = (await handle.result()) as DeployReport;
    await recordHistory(temporal, handle.workflowId, 'deploy-k8s-rolling');
    assert.equal(report.outcome, 'deployed');
    assert.equal(report.previous?.image, 'ragops-test/api:v1');
    assert.ok((report.previous?.revision ?? 0) >= 1);
    assert.ok(report.migrationOutput !== undefined);
    assert.equal(imageOf(kube, 'api'), 'ragops-test/api:v2');
    assert.deepEqual(liveReplicaSets(kube, 'api').map((rs) => rs.image), ['ragops-test/api:v2']);
    assert.deepEqual(kube.list('job', NAMESPACE), [], 'the migration job is deleted');
  });

  test('v2 → bad: rollout status times out, `rollout undo` to the recorded revision, healthy on v2, the run fails naming the rollout', async () => {
    // No migration here: a Job of a bad image would never start either (ImagePullBackOff).
    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api-no-migration', image: 'ragops-test/api:bad' }, { taskQueue });
    const { message, report } = await deployFailure(handle.result());
    await recordHistory(temporal, handle.workflowId, 'deploy-k8s-rolled-back');
    assert.match(message, /failed at rollout: kubectl rollout status: .*rolled back to ragops-test\/api:v2, healthy/);
    assert.equal(report.outcome, 'rolled back');
    assert.equal(imageOf(kube, 'api'), 'ragops-test/api:v2');
    const live = liveReplicaSets(kube, 'api');
    assert.deepEqual(live.map((rs) => rs.image), ['ragops-test/api:v2']);
    assert.equal(live[0]?.ready, live[0]?.replicas);
  });

  test('a failing migration job stops the deploy before any rollout', async () => {
    const { message } = await deployFailure(
      (await startDeploy(temporal.client, { stack: 'prod', service: 'api-failing-migration', image: 'ragops-test/api:v3' }, { taskQueue })).result(),
    );
    assert.match(message, /migrate: sh -c migrate --fail failed: migration job .* failed/);
    assert.equal(imageOf(kube, 'api'), 'ragops-test/api:v2');
  });

  test('blue-green: the idle colour gets the image, the Service switches, the old colour is scaled to zero after the window', async () => {
    const report = (await (
      await startDeploy(temporal.client, { stack: 'prod', service: 'web', image: 'ragops-test/api:v2', strategy: 'blueGreen', rollbackWindowSeconds: 1 }, { taskQueue })
    ).result()) as DeployReport;
    assert.equal(report.outcome, 'deployed');
    assert.deepEqual(report.blueGreen && { live: report.blueGreen.live, idle: report.blueGreen.idle }, { live: 'blue', idle: 'green' });
    assert.equal(kube.get('service', NAMESPACE, 'api-bg').spec.selector.color, 'green');
    assert.equal(imageOf(kube, 'api-green'), 'ragops-test/api:v2');
    assert.equal(kube.get('deployment', NAMESPACE, 'api-blue').spec.replicas, 0);
  });

  test('blue-green: a rollback signal inside the window switches back', async () => {
    const handle = await startDeploy(
      temporal.client,
      { stack: 'prod', service: 'web', image: 'ragops-test/api:v3', strategy: 'blueGreen', rollbackWindowSeconds: 600 },
      { taskQueue },
    );
    for (let i = 0; i < 200; i += 1) {
      const status = (await handle.query('status').catch(() => undefined)) as DeployReport | undefined;
      if (status?.blueGreen?.switchedAt) break;
      await sleep(100);
    }
    assert.equal(kube.get('service', NAMESPACE, 'api-bg').spec.selector.color, 'blue', 'switched to blue (idle) first');
    await handle.signal('rollback');
    const report = (await handle.result()) as DeployReport;
    assert.equal(report.outcome, 'rolled back');
    assert.ok(report.blueGreen?.rolledBackAt);
    assert.equal(kube.get('service', NAMESPACE, 'api-bg').spec.selector.color, 'green');
    assert.equal(kube.get('deployment', NAMESPACE, 'api-blue').spec.replicas, 0);
    assert.equal(imageOf(kube, 'api-green'), 'ragops-test/api:v2');
  });
});
