// The Kubernetes stand-in (test/support/k8s) driven by the real kubectl, through the exact
// command lines ragops builds (src/activities/commands/kubectl.ts), plus raw HTTP checks of
// discovery, auth, errors and watches. The tests share one stand-in and run in order.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { kubectlCommands, type KubeTarget } from '../src/activities/kubernetes/commands.js';
import type { CommandSpec } from '../src/activities/runtime/exec.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';

const NS = 'ragops-test';
const REVISION = 'deployment.kubernetes.io/revision';
const labels = { app: 'api' };
let standin: KubeStandin;
let target: KubeTarget;

const run = async (spec: CommandSpec, input?: string) => {
  const { exitCode, stdout, stderr } = await execa(spec.argv[0]!, spec.argv.slice(1), { input, reject: false, timeout: 60_000 });
  return { exitCode, stdout, stderr };
};
const runOk = async (spec: CommandSpec, input?: string) => {
  const result = await run(spec, input);
  assert.equal(result.exitCode, 0, `${spec.purpose} failed: ${result.stderr}`);
  return result.stdout;
};
const json = async (spec: CommandSpec) => JSON.parse(await runOk(spec));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** fetch on the stand-in's plain-HTTP side, with the bearer token unless `token: null`. */
async function api(path: string, init: RequestInit & { token?: string | null } = {}) {
  const token = init.token === undefined ? standin.token : init.token;
  const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) };
  const response = await fetch(`${standin.url}${path}`, { ...init, headers });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined; // plain text, or a watch stream (one JSON event per line)
  }
  return { status: response.status, type: response.headers.get('content-type'), text, body };
}

const replicaSets = async () => (await json(kubectlCommands.listReplicaSets(target, 'app=api'))).items as any[];
const imageOf = (obj: any) => obj.spec.template.spec.containers[0].image;

before(async () => {
  standin = await startKubeStandin({ readyDelayMs: 200 });
  target = { kubeconfig: standin.kubeconfigPath, context: standin.context, namespace: NS };
  standin.apply({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: NS, labels },
    spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: 'ragops/api:1', ports: [{ containerPort: 8080 }] }] } } },
  });
  standin.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: NS }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } });
  await until('the first rollout', () => standin.get('deployment', NS, 'api').status?.availableReplicas === 2);
});
after(() => standin?.stop());

describe('raw HTTP', () => {
  test('discovery: aggregated /api, legacy /apis and group versions, /version', async () => {
    const aggregated = await api('/api', { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
    assert.equal(aggregated.type, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    assert.ok(aggregated.body.items[0].versions[0].resources.some((r: any) => r.resource === 'pods'));
    const groups = await api('/apis');
    assert.equal(groups.body.kind, 'APIGroupList');
    assert.deepEqual(groups.body.groups.map((g: any) => g.name).sort(), ['apps', 'batch', 'gateway.networking.k8s.io', 'networking.k8s.io', 'rbac.authorization.k8s.io']);
    const apps = await api('/apis/apps/v1');
    const scale = apps.body.resources.find((r: any) => r.name === 'deployments/scale');
    assert.deepEqual([scale.group, scale.version, scale.kind], ['autoscaling', 'v1', 'Scale']);
    assert.ok((await api('/api/v1')).body.resources.some((r: any) => r.name === 'pods/log'));
    assert.equal((await api('/version', { token: null })).body.major, '1');
  });

  test('401 Status without the bearer token or with a wrong one', async () => {
    for (const token of [null, 'wrong']) {
      const reply = await api(`/apis/apps/v1/namespaces/${NS}/deployments`, { token });
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    }
  });

  test('404 Status for a missing object; 409 for a stale resourceVersion', async () => {
    const missing = await api(`/apis/apps/v1/namespaces/${NS}/deployments/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'deployments.apps "nope" not found',
      reason: 'NotFound', details: { name: 'nope', group: 'apps', kind: 'deployments' }, code: 404,
    });
    const svc = (await api(`/api/v1/namespaces/${NS}/services/api`)).body;
    const stale = { ...svc, metadata: { ...svc.metadata, resourceVersion: '1' } };
    const put = await api(`/api/v1/namespaces/${NS}/services/api`, { method: 'PUT', body: JSON.stringify(stale), headers: { 'content-type': 'application/json' } });
    assert.equal(put.status, 409);
    assert.equal(put.body.reason, 'Conflict');
  });

  test('strategic merge patch: containers and env merge by name, $patch: delete, $setElementOrder', async () => {
    const l = { app: 'patchy' };
    const env = [{ name: 'A', value: '1' }, { name: 'B', value: '2' }];
    standin.apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'patchy', namespace: NS },
      spec: { replicas: 0, selector: { matchLabels: l }, template: { metadata: { labels: l }, spec: { containers: [{ name: 'a', image: 'x:1', env }, { name: 'b', image: 'y:1' }] } } },
    });
    const patch = { spec: { template: { spec: {
      '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
      containers: [{ name: 'a', env: [{ name: 'A', $patch: 'delete' }, { name: 'C', value: '3' }] }, { name: 'b', image: 'y:2' }],
    } } } };
    const reply = await api(`/apis/apps/v1/namespaces/${NS}/deployments/patchy`, {
      method: 'PATCH', body: JSON.stringify(patch), headers: { 'content-type': 'application/strategic-merge-patch+json' },
    });
    assert.equal(reply.status, 200, reply.text);
    const [b, a] = reply.body.spec.template.spec.containers;
    assert.deepEqual([b.name, b.image, a.name, a.image], ['b', 'y:2', 'a', 'x:1']);
    assert.deepEqual(a.env, [{ name: 'B', value: '2' }, { name: 'C', value: '3' }]);
    assert.equal(reply.body.metadata.generation, 2);
  });

  test('watch: events after a resourceVersion, fieldSelector, timeoutSeconds; replay from an older one', async () => {
    const base = `/api/v1/namespaces/${NS}/configmaps`;
    const from = (await api(base)).body.metadata.resourceVersion;
    const stream = fetch(`${standin.url}${base}?watch=true&resourceVersion=${from}&fieldSelector=metadata.name%3Dwatched&timeoutSeconds=1`, {
      headers: { authorization: `Bearer ${standin.token}` },
    }).then((r) => r.text());
    const send = (method: string, path: string, body?: object, type = 'application/json') =>
      api(path, { method, body: body && JSON.stringify(body), headers: { 'content-type': type } });
    await send('POST', base, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other' }, data: { a: '1' } });
    const created = await send('POST', base, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' }, data: { a: '1' } });
    await send('PATCH', `${base}/watched`, [{ op: 'replace', path: '/data/a', value: '2' }], 'application/json-patch+json');
    await send('DELETE', `${base}/watched`);
    const events = (await stream).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.data.a}`), ['ADDED watched 1', 'MODIFIED watched 2', 'DELETED watched 2']);
    const replay = await api(`${base}?watch=1&resourceVersion=${created.body.metadata.resourceVersion}&fieldSelector=metadata.name%3Dwatched&timeoutSeconds=1`);
    assert.deepEqual(replay.text.trim().split('\n').map((line) => JSON.parse(line).type), ['MODIFIED', 'DELETED']);
  });
});

describe('kubectl, with the command lines ragops builds', () => {
  test('get deployment -o json', async () => {
    const d = await json(kubectlCommands.getDeployment(target, 'api'));
    assert.equal(d.metadata.annotations[REVISION], '1');
    assert.equal(d.status.observedGeneration, d.metadata.generation);
    assert.equal(d.status.availableReplicas, 2);
    assert.ok(d.status.conditions.some((c: any) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable'));
  });

  test('list replicasets by label, with revisions, owners and pod-template-hash', async () => {
    const [rs] = await replicaSets();
    assert.equal(rs.metadata.annotations[REVISION], '1');
    assert.equal(rs.metadata.ownerReferences[0].kind, 'Deployment');
    assert.equal(rs.metadata.name, `api-${rs.metadata.labels['pod-template-hash']}`);
  });

  test('set image makes revision 2, and rollout status succeeds', async () => {
    await runOk(kubectlCommands.setImage(target, 'api', 'api', 'ragops/api:2'));
    await runOk(kubectlCommands.rolloutStatus(target, 'api', 20));
    const byRevision = new Map((await replicaSets()).map((rs) => [rs.metadata.annotations[REVISION], rs]));
    assert.equal(imageOf(byRevision.get('2')), 'ragops/api:2');
    assert.equal(byRevision.get('2').status.availableReplicas, 2);
    assert.equal(byRevision.get('1').spec.replicas, 0);
  });

  test('a :bad image never becomes ready: rollout status times out, the old pods keep serving', async () => {
    await runOk(kubectlCommands.setImage(target, 'api', 'api', 'ragops/api:bad'));
    const status = await run(kubectlCommands.rolloutStatus(target, 'api', 3));
    assert.notEqual(status.exitCode, 0);
    assert.match(status.stderr, /timed out waiting for the condition/);
    const d = await json(kubectlCommands.getDeployment(target, 'api'));
    assert.equal(d.metadata.annotations[REVISION], '3');
    assert.equal(d.status.availableReplicas, 2);
    const waiting = standin.list('pods', NS).filter((p) => p.spec.containers[0].image === 'ragops/api:bad');
    assert.equal(waiting[0].status.containerStatuses[0].state.waiting.reason, 'ImagePullBackOff');
  });

  test('rollout undo --to-revision=2 brings the image back as revision 4', async () => {
    await runOk(kubectlCommands.rolloutUndo(target, 'api', 2));
    await runOk(kubectlCommands.rolloutStatus(target, 'api', 20));
    const d = await json(kubectlCommands.getDeployment(target, 'api'));
    assert.equal(imageOf(d), 'ragops/api:2');
    assert.equal(d.metadata.annotations[REVISION], '4');
    const current = (await replicaSets()).find((rs) => rs.metadata.annotations[REVISION] === '4');
    assert.equal(current.metadata.annotations['deployment.kubernetes.io/revision-history'], '2');
    assert.equal(standin.list('pods', NS).filter((p) => p.spec.containers[0].image === 'ragops/api:bad').length, 0);
  });

  test('scale to 0 and back', async () => {
    await runOk(kubectlCommands.scale(target, 'api', 0));
    await until('no pods', () => standin.list('pods', NS).length === 0);
    const empty = await json(kubectlCommands.getDeployment(target, 'api'));
    assert.equal(empty.status.replicas, undefined); // zero counts are omitted, as Kubernetes does
    await runOk(kubectlCommands.scale(target, 'api', 2));
    await runOk(kubectlCommands.rolloutStatus(target, 'api', 20));
    assert.equal((await json(kubectlCommands.getDeployment(target, 'api'))).status.readyReplicas, 2);
    assert.ok(standin.requests.some((r) => r.verb === 'patch' && r.path.endsWith('/deployments/api/scale')));
  });

  test('get service and patch its selector (merge patch)', async () => {
    assert.deepEqual((await json(kubectlCommands.getService(target, 'api'))).spec.selector, labels);
    await runOk(kubectlCommands.patchServiceSelector(target, 'api', { app: 'api', track: 'green' }));
    assert.deepEqual((await json(kubectlCommands.getService(target, 'api'))).spec.selector, { app: 'api', track: 'green' });
  });

  /** A migration Job made from the deployment's pod template, as ragops makes one. */
  function migrationJob(name: string, script: string): string {
    const template = standin.get('deployment', NS, 'api').spec.template;
    return JSON.stringify({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name, labels: { 'ragops.dev/migration': 'api' } },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { 'ragops.dev/migration': 'api' } },
          spec: { ...template.spec, restartPolicy: 'Never', containers: [{ name: 'migrate', image: imageOf({ spec: { template } }), command: ['sh', '-c', script] }] },
        },
      },
    });
  }
  const jobCondition = async (name: string) => {
    const job = await json(kubectlCommands.getJob(target, name));
    return (job.status.conditions ?? []).find((c: any) => ['Complete', 'Failed'].includes(c.type) && c.status === 'True') ? job : undefined;
  };

  test('create a migration Job from stdin; it completes and its logs show the command', async () => {
    const created = JSON.parse(await runOk(kubectlCommands.createFromStdin(target, 'job/migrate-1'), migrationJob('migrate-1', 'migrate')));
    assert.ok(created.spec.selector.matchLabels['batch.kubernetes.io/controller-uid']);
    const job = await until('the job to finish', () => jobCondition('migrate-1'));
    assert.equal(job.status.succeeded, 1);
    assert.ok(job.status.conditions.some((c: any) => c.type === 'Complete'));
    assert.match(await runOk(kubectlCommands.jobLogs(target, 'migrate-1', 50)), /running: sh -c migrate/);
  });

  test('a Job whose command says fail ends Failed; delete removes it and its pods', async () => {
    await runOk(kubectlCommands.createFromStdin(target, 'job/migrate-2'), migrationJob('migrate-2', 'migrate || fail'));
    const job = await until('the job to finish', () => jobCondition('migrate-2'));
    assert.equal(job.status.failed, 1);
    assert.ok(job.status.conditions.some((c: any) => c.type === 'Failed' && c.reason === 'BackoffLimitExceeded'));
    assert.match(await runOk(kubectlCommands.jobLogs(target, 'migrate-2', 50)), /migration failed/);
    assert.match(await runOk(kubectlCommands.deleteJob(target, 'migrate-2')), /job.batch "migrate-2" deleted/);
    const gone = await run(kubectlCommands.getJob(target, 'migrate-2'));
    assert.match(gone.stderr, /NotFound|not found/);
    assert.equal(standin.list('pods', NS).filter((p) => p.metadata.labels['job-name'] === 'migrate-2').length, 0);
    await runOk(kubectlCommands.deleteJob(target, 'migrate-2')); // --ignore-not-found
  });

  test('a rollout that makes no progress for progressDeadlineSeconds fails rollout status at once', async () => {
    standin.apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'stuck', namespace: NS },
      spec: { progressDeadlineSeconds: 1, selector: { matchLabels: { app: 'stuck' } }, template: { metadata: { labels: { app: 'stuck' } }, spec: { containers: [{ name: 'c', image: 'ragops/stuck:bad' }] } } },
    });
    const status = await run(kubectlCommands.rolloutStatus(target, 'stuck', 20));
    assert.notEqual(status.exitCode, 0);
    assert.match(status.stderr, /exceeded its progress deadline/);
  });
});
