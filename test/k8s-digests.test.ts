// Kubernetes deploys record what runs by digest and roll back by digest (issue 9): the
// activities driven through MockActivityEnvironment, with the real kubectl against the API
// stand-in (test/support/k8s). The tests share one stand-in and run in order.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import type { KubernetesTarget } from '../src/config/stacks/deploy.js';
import { kubectlCommands } from '../src/activities/kubernetes/commands.js';
import { canonicalRepository, pinnedFromReference, pinnedReference, repositoryOf } from '../src/activities/kubernetes/digests.js';
import { createKubernetesActivities, type DeploymentState } from '../src/activities/kubernetes/index.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';

const NS = 'digests';
const TAG_V1 = 'ragops-test/api:v1';
const D = (c: string) => `sha256:${c.repeat(64)}`;
const k8s = createKubernetesActivities();
let kube: KubeStandin;
let target: KubernetesTarget;

/** Expected failures (injected faults) are not logged as warnings. */
const quiet = new DefaultLogger('ERROR');
/** MockActivityEnvironment.run does not infer the result type. */
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment(undefined, { logger: quiet }).run(fn, ...args) as Promise<R>;
const state = (deployment = 'api') => run(k8s.k8sDeploymentState, { target, deployment, container: 'api' });
const setImage = (image: string, deployment = 'api') => run(k8s.k8sSetImage, { target, deployment, container: 'api', image });
const rolloutStatus = (deployment = 'api') => run(k8s.k8sRolloutStatus, { target, deployment, timeoutSeconds: 10 });

function deployment(name: string, image: string, replicas: number): object {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'api', image, ports: [{ containerPort: 8080 }] }] } } },
  };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The imageIDs of the running containers of a Deployment's pods (any ReplicaSet), sorted. */
const runningImageIds = (app: string): string[] =>
  kube.list('pod', NS)
    .filter((pod) => pod.metadata.labels?.app === app && pod.status?.phase === 'Running')
    .map((pod) => pod.status.containerStatuses[0].imageID)
    .sort();
const replicaSetCount = (app: string) => kube.list('replicaset', NS).filter((rs) => rs.metadata.labels?.app === app).length;
const revisionOf = (app: string) => kube.get('deployment', NS, app).metadata.annotations?.['deployment.kubernetes.io/revision'];
const patchesOf = (app: string, from: number) => kube.requests.slice(from).filter((r) => r.method === 'PATCH' && r.path.endsWith(`/deployments/${app}`));

before(async () => {
  kube = await startKubeStandin({ readyDelayMs: 200 });
  target = { type: 'kubernetes', kubeconfig: kube.kubeconfigPath, context: kube.context, namespace: NS };
  kube.apply(deployment('api', TAG_V1, 2));
  await until('the first rollout', () => kube.get('deployment', NS, 'api').status?.availableReplicas === 2);
});
after(() => kube?.stop());

describe('pinned references (pure)', () => {
  test('runtime prefixes go; the template spelling of the same repository is kept; a bare digest takes the template repository', () => {
    const d = D('a');
    assert.equal(pinnedReference(`docker.io/team/api@${d}`, 'team/api:v1'), `team/api@${d}`);
    assert.equal(pinnedReference(`docker-pullable://nginx@${d}`, 'nginx:1.27'), `nginx@${d}`);
    assert.equal(pinnedReference(`docker.io/library/nginx@${d}`, 'docker.io/nginx'), `docker.io/nginx@${d}`);
    assert.equal(pinnedReference(`docker://${d}`, 'registry.local:5000/team/api:v2'), `registry.local:5000/team/api@${d}`);
    assert.equal(pinnedReference(d, 'ghcr.io/o/a:v1@' + D('b')), `ghcr.io/o/a@${d}`);
    assert.equal(pinnedReference(`mirror.example.com/team/api@${d}`, 'team/api:v1'), `mirror.example.com/team/api@${d}`, 'another repository: the one the runtime names');
    for (const bad of ['', 'docker://', 'team/api:v1', `team/api@sha256:${'a'.repeat(10)}`, 'sha512:abc', `@${d}`]) {
      assert.equal(pinnedReference(bad, 'team/api:v1'), null, bad);
    }
    assert.equal(pinnedReference(null, 'team/api:v1'), null);
    assert.equal(pinnedFromReference(`team/api:v1@${d}`), `team/api@${d}`);
    assert.equal(pinnedFromReference('team/api:v1'), null);
    assert.equal(repositoryOf('localhost:5000/api:v1'), 'localhost:5000/api');
    assert.equal(repositoryOf('localhost:5000/api'), 'localhost:5000/api');
    assert.equal(canonicalRepository('index.docker.io/library/nginx'), 'docker.io/library/nginx');
  });
});

describe('digests with the real kubectl', () => {
  let recorded: DeploymentState;

  test('a running Deployment: imageId is what its pods report, pinned is repo@sha256 of that digest', async () => {
    recorded = await state();
    const digest = kube.images.digestOf(TAG_V1);
    assert.deepEqual(recorded, {
      revision: 1,
      image: TAG_V1,
      replicas: 2,
      imageId: `docker.io/ragops-test/api@${digest}`,
      pinned: `ragops-test/api@${digest}`,
    });
    assert.deepEqual(runningImageIds('api'), [recorded.imageId, recorded.imageId], 'both pods run that digest');
  });

  test('the tag moves after the pods started: they keep their digest, and so does the recorded state', async () => {
    const moved = kube.images.push(TAG_V1);
    assert.notEqual(`ragops-test/api@${moved}`, recorded.pinned);
    // Any change makes the controller look at every pod again.
    kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nudge', namespace: NS }, data: { at: String(Date.now()) } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(runningImageIds('api'), [recorded.imageId, recorded.imageId]);
    const again = await state();
    assert.equal(again.pinned, recorded.pinned);
    assert.equal(again.imageId, recorded.imageId);
  });

  test('setting the pinned reference twice is one new revision, and the new pods run the pinned digest, not the moved tag', async () => {
    const [rs0, rev0] = [replicaSetCount('api'), Number(revisionOf('api'))];
    const from = kube.requests.length;
    await setImage(recorded.pinned!);
    assert.equal((await rolloutStatus()).complete, true);
    const [rs1, rev1, generation1] = [replicaSetCount('api'), Number(revisionOf('api')), kube.get('deployment', NS, 'api').metadata.generation];
    assert.equal(rev1, rev0 + 1);
    assert.equal(rs1, rs0 + 1);
    const mid = kube.requests.length;
    await setImage(recorded.pinned!);
    assert.equal((await rolloutStatus()).complete, true);
    assert.equal(Number(revisionOf('api')), rev1, 'no new revision');
    assert.equal(replicaSetCount('api'), rs1, 'no new ReplicaSet');
    assert.equal(kube.get('deployment', NS, 'api').metadata.generation, generation1, 'the spec did not change');
    assert.equal(patchesOf('api', from).length, 1, 'the second set image found nothing to patch');
    assert.equal(patchesOf('api', mid).length, 0);
    await until('the old pods gone', () => runningImageIds('api').length === 2);
    assert.deepEqual(runningImageIds('api'), [recorded.imageId, recorded.imageId], 'the pinned digest runs (the tag now points elsewhere)');
    const now = await state();
    assert.deepEqual({ image: now.image, imageId: now.imageId, pinned: now.pinned }, { image: recorded.pinned, imageId: recorded.imageId, pinned: recorded.pinned });
  });

  test('why not `rollout undo --to-revision`: the undone-to revision is renumbered, so a retried undo fails', async () => {
    await setImage('ragops-test/api:v2');
    assert.equal((await rolloutStatus()).complete, true);
    const pinnedRevision = Number(revisionOf('api')) - 1;
    const undo = kubectlCommands.rolloutUndo(target, 'api', pinnedRevision);
    const first = await execa(undo.argv[0], undo.argv.slice(1), { reject: false });
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal(kube.get('deployment', NS, 'api').spec.template.spec.containers[0].image, recorded.pinned);
    const retried = await execa(undo.argv[0], undo.argv.slice(1), { reject: false });
    assert.notEqual(retried.exitCode, 0);
    assert.match(retried.stderr, /unable to find specified revision/);
    assert.equal((await rolloutStatus()).complete, true);
  });

  test('a PATCH failing once then succeeding (retried activity): the Deployment ends at the pinned image, one new revision', async () => {
    await setImage('ragops-test/api:v2');
    assert.equal((await rolloutStatus()).complete, true);
    const rev0 = Number(revisionOf('api'));
    const from = kube.requests.length;
    kube.faults.failNext({ method: 'PATCH', pathIncludes: '/deployments/api', status: 500, count: 1 });
    await assert.rejects(setImage(recorded.pinned!), (error: Error) => {
      assert.match(error.message, /set image deployment\/api .*InternalError|injected fault/);
      assert.notEqual((error as { nonRetryable?: boolean }).nonRetryable, true, 'a server error is retried');
      return true;
    });
    assert.equal(kube.get('deployment', NS, 'api').spec.template.spec.containers[0].image, 'ragops-test/api:v2', 'the failed PATCH changed nothing');
    await setImage(recorded.pinned!); // the retry
    assert.equal((await rolloutStatus()).complete, true);
    const patches = patchesOf('api', from);
    assert.deepEqual(patches.map((p) => [p.status, p.injected ?? false]), [[500, true], [200, false]]);
    assert.equal(kube.get('deployment', NS, 'api').spec.template.spec.containers[0].image, recorded.pinned);
    assert.equal(Number(revisionOf('api')), rev0 + 1);
    await until('the old pods gone', () => runningImageIds('api').length === 2);
    assert.equal((await state()).pinned, recorded.pinned);
  });

  test('a PATCH that always fails: every attempt fails and the Deployment stays where it was', async () => {
    await setImage('ragops-test/api:v2');
    assert.equal((await rolloutStatus()).complete, true);
    const rev0 = revisionOf('api');
    kube.faults.failNext({ method: 'PATCH', pathIncludes: '/deployments/api', status: 503, count: Infinity });
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) await assert.rejects(setImage(recorded.pinned!), /ServiceUnavailable|injected fault/);
    } finally {
      kube.faults.clear();
    }
    assert.equal(kube.get('deployment', NS, 'api').spec.template.spec.containers[0].image, 'ragops-test/api:v2');
    assert.equal(revisionOf('api'), rev0);
    await setImage(recorded.pinned!);
    assert.equal(kube.get('deployment', NS, 'api').spec.template.spec.containers[0].image, recorded.pinned, 'cleared: the next one goes through');
  });

  test('nothing runs: imageId null; pinned null for a tag, the reference itself when the template names a digest', async () => {
    kube.apply(deployment('idle', 'ragops-test/api:v3', 0));
    kube.apply(deployment('idle-pinned', `ragops-test/api:v3@${D('c')}`, 0));
    await until('the idle deployments numbered', () => revisionOf('idle') && revisionOf('idle-pinned'));
    const idle = await state('idle');
    assert.deepEqual({ imageId: idle.imageId, pinned: idle.pinned, replicas: idle.replicas }, { imageId: null, pinned: null, replicas: 0 });
    const idlePinned = await state('idle-pinned');
    assert.deepEqual({ imageId: idlePinned.imageId, pinned: idlePinned.pinned }, { imageId: null, pinned: `ragops-test/api@${D('c')}` });
  });

  test('a digest reference runs that digest; during a rollout to an image that never starts, imageId is null', async () => {
    kube.apply(deployment('bydigest', `ragops-test/api@${D('d')}`, 1));
    await until('bydigest available', () => kube.get('deployment', NS, 'bydigest').status?.availableReplicas === 1);
    const byDigest = await state('bydigest');
    assert.deepEqual({ imageId: byDigest.imageId, pinned: byDigest.pinned }, { imageId: `docker.io/ragops-test/api@${D('d')}`, pinned: `ragops-test/api@${D('d')}` });
    await setImage('ragops-test/api:bad', 'bydigest');
    await until('the bad pod created', () => kube.list('pod', NS).some((p) => p.metadata.labels?.app === 'bydigest' && p.spec.containers[0].image.endsWith(':bad')));
    const midRollout = await state('bydigest');
    assert.deepEqual({ image: midRollout.image, imageId: midRollout.imageId, pinned: midRollout.pinned }, { image: 'ragops-test/api:bad', imageId: null, pinned: null });
  });
});
