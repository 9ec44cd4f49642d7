import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
    assert.match(report.previous?.digest ?? '', /sha256:[0-9a-f]{64}$/, 'the running version is recorded by digest');
    assert.match(report.deployed?.digest ?? '', /sha256:[0-9a-f]{64}$/, 'the deployed tag is reported with its digest');
    assert.ok((report.previous?.revision ?? 0) >= 1);
    assert.ok(report.migrationOutput !== undefined);
    assert.equal(imageOf(kube, 'api'), 'ragops-test/api:v2');
    assert.deepEqual(liveReplicaSets(kube, 'api').map((rs) => rs.image), ['ragops-test/api:v2']);
    assert.deepEqual(kube.list('job', NAMESPACE), [], 'the migration job is deleted');
  });

  test('v2 → bad: rollout status times out, the recorded digest is set again, running v2; with no checks configured the run says the rollback is not verified', async () => {
    // No migration here: a Job of a bad image would never start either (ImagePullBackOff).
    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api-no-migration', image: 'ragops-test/api:bad' }, { taskQueue });
    const { message, report } = await deployFailure(handle.result());
    await recordHistory(temporal, handle.workflowId, 'deploy-k8s-rolled-back');
    const pinned = report.previous?.pinned ?? '';
    assert.match(pinned, /^(docker\.io\/)?ragops-test\/api(:v2)?@sha256:[0-9a-f]{64}$/);
    assert.match(message, /failed at rollout: kubectl rollout status: .*rolled back to ragops-test\/api:v2 \(.*@sha256:[0-9a-f]{64}\), not verified: no checks configured/);
    assert.equal(report.outcome, 'rolled back, not verified');
    assert.equal(imageOf(kube, 'api'), pinned, 'rolled back to the digest, not the tag');
    const live = liveReplicaSets(kube, 'api');
    assert.deepEqual(live.map((rs) => rs.image), [pinned]);
    assert.equal(live[0]?.ready, live[0]?.replicas);
  });

  test('a failing migration job stops the deploy before any rollout', async () => {
    const before = imageOf(kube, 'api');
    const { message } = await deployFailure(
      (await startDeploy(temporal.client, { stack: 'prod', service: 'api-failing-migration', image: 'ragops-test/api:v3' }, { taskQueue })).result(),
    );
    assert.match(message, /migrate: sh -c migrate --fail failed: migration job .* failed/);
    assert.match(message, /nothing had been changed/);
    assert.equal(imageOf(kube, 'api'), before);
  });
  /** Arms `arm` once the rollout's own PATCH (to the bad image) is answered, so the fault lands on the rollback's. */
  async function afterRolloutPatch(sinceRequest: number, arm: () => void): Promise<void> {
    for (let i = 0; i < 300; i += 1) {
      if (kube.requests.slice(sinceRequest).some((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/api') && r.status === 200)) return arm();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail('the rollout never patched the Deployment');
  }
  const successfulPatches = (sinceRequest: number) =>
    kube.requests.slice(sinceRequest).filter((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/api') && r.status === 200 && !r.injected).length;

  test('the rollback failing once (the API answers 500), then succeeding: one rollback takes effect, the run ends DeployFailed with its report', async () => {
    const since = kube.requests.length;
    const revisionBefore = Number(kube.get('deployment', NAMESPACE, 'api').metadata.annotations['deployment.kubernetes.io/revision']);
    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api-no-migration', image: 'ragops-test/api:bad' }, { taskQueue });
    await afterRolloutPatch(since, () => kube.faults.failNext({ method: 'PATCH', pathIncludes: '/deployments/api', status: 500, count: 1 }));
    const { type, report } = await deployFailure(handle.result());
    assert.equal(type, 'DeployFailed');
    assert.equal(report.rollback?.ok, true, report.rollback?.evidence);
    assert.equal(imageOf(kube, 'api'), report.previous?.pinned);
    assert.equal(successfulPatches(since), 2, 'the rollout, then exactly one rollback');
    assert.ok(kube.requests.slice(since).some((r) => r.injected), 'the fault was hit');
    const revision = Number(kube.get('deployment', NAMESPACE, 'api').metadata.annotations['deployment.kubernetes.io/revision']);
    assert.ok(revision <= revisionBefore + 2, `one rollout and one rollback: revision ${revisionBefore} → ${revision}`);
    assert.deepEqual(liveReplicaSets(kube, 'api').map((rs) => rs.image), [report.previous?.pinned]);
  });

  test('a rollback that always fails: the run still ends DeployFailed, its report saying the rollback did not complete', async () => {
    const since = kube.requests.length;
    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api-no-migration', image: 'ragops-test/api:bad' }, { taskQueue });
    await afterRolloutPatch(since, () => kube.faults.failNext({ method: 'PATCH', pathIncludes: '/deployments/api', status: 500, count: Infinity }));
    try {
      const { type, message, report } = await deployFailure(handle.result());
      assert.equal(type, 'DeployFailed');
      assert.match(message, /failed at rollout: .*rollback to ragops-test\/api\S+ did NOT complete \(not verified\): roll back to .*FAILED — .*answered 500/);
      assert.equal(report.outcome, 'failed');
      assert.equal(report.rollback?.ok, false);
      assert.equal(report.rollback?.verified, false);
      assert.match(report.rollback?.evidence ?? '', /FAILED/);
    } finally {
      kube.faults.clear();
    }
  });
});
