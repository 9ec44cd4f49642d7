// The Kubernetes traffic shifters (kubernetes-replicas, ingress-nginx, gateway-api) and the
// canary Deployment's launch and removal, with the real kubectl against the API stand-in
// (test/support/k8s). The tests share one stand-in and run in order.
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubernetesTarget } from '../src/config/stacks/deploy.js';
import { trafficShifterSchema } from '../src/config/stacks/traffic.js';
import type { GatewayApiShifter, IngressNginxShifter, KubernetesReplicasShifter } from '../src/config/stacks/trafficKubernetes.js';
import { kubernetesContextDrivers, kubernetesDrivers, kubernetesDriversFor, launchCanary, removeCanary } from '../src/activities/traffic/kubernetes.js';
import { kubectlCommands } from '../src/activities/kubernetes/commands.js';
import { canaryDeploymentFrom } from '../src/activities/traffic/kubernetesCanary.js';
import { httpRouteWeight, httpRouteWeightOps } from '../src/activities/traffic/kubernetesGateway.js';
import { canaryIngressFrom } from '../src/activities/traffic/kubernetesIngress.js';
import { canaryReplicas } from '../src/activities/traffic/kubernetesReplicas.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';

const NS = 'traffic';
const STEPS = [10, 50, 100, 0];
let kube: KubeStandin;
let target: KubernetesTarget;

const replicasShifter: KubernetesReplicasShifter = { type: 'kubernetes-replicas', deployment: 'api' };
const ingressShifter: IngressNginxShifter = { type: 'ingress-nginx', ingress: 'api-canary', stableIngress: 'api', canaryService: 'api-canary' };
const routeShifter: GatewayApiShifter = { type: 'gateway-api', route: 'api', stableBackend: 'api', canaryBackend: 'api-canary' };

function deployment(name: string, image: string, replicas: number): any {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS, labels: { app: name, team: 'search' } },
    spec: {
      replicas, selector: { matchLabels: labels }, minReadySeconds: 1,
      template: { metadata: { labels }, spec: { containers: [{ name: 'api', image, ports: [{ containerPort: 8080 }] }, { name: 'sidecar', image: 'ragops-test/proxy:1' }] } },
    },
  };
}

const stableIngress = {
  apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
  metadata: { name: 'api', namespace: NS, annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
  spec: {
    ingressClassName: 'nginx',
    rules: [{ host: 'api.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } } }] } }],
  },
};

const httpRoute = (name: string, backend: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: NS },
  spec: {
    parentRefs: [{ name: 'gw' }],
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/search' } }], backendRefs: [{ name: backend, port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/static' } }], backendRefs: [{ name: 'cdn', port: 80 }] },
    ],
  },
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Writes (POST, PUT, PATCH, DELETE) sent since request `from` to paths ending in `suffix`. */
const writesTo = (suffix: string, from: number) =>
  kube.requests.slice(from).filter((r) => r.method !== 'GET' && (r.path.endsWith(suffix) || r.path.includes(`${suffix}/`)));

const isConfigError = (error: unknown) => {
  assert.ok(error instanceof ApplicationFailure, `an ApplicationFailure, got ${String(error)}`);
  assert.equal(error.type, 'ConfigError');
  assert.equal(error.nonRetryable, true);
  return true;
};

const runningCanaryPods = () => kube.list('pod', NS).filter((p) => p.metadata.labels?.['ragops.io/track'] === 'canary' && !p.metadata.deletionTimestamp).length;

before(async () => {
  kube = await startKubeStandin({ readyDelayMs: 100 });
  target = { type: 'kubernetes', kubeconfig: kube.kubeconfigPath, context: kube.context, namespace: NS };
  kube.apply(deployment('api', 'ragops-test/api:v1', 4));
  kube.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: NS }, spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] } });
  kube.apply(stableIngress);
  kube.apply(httpRoute('api', 'api'));
  await until('the stable rollout', () => kube.get('deployment', NS, 'api').status?.availableReplicas === 4);
});
after(() => kube?.stop());

describe('schemas and builders (pure)', () => {
  test('the three shifters parse in the traffic union; a missing half of stableIngress/canaryService, a canary equal to the stable one, unknown fields are refused', () => {
    assert.deepEqual(trafficShifterSchema.parse(replicasShifter), replicasShifter);
    assert.deepEqual(trafficShifterSchema.parse(ingressShifter), ingressShifter);
    assert.deepEqual(trafficShifterSchema.parse({ type: 'ingress-nginx', ingress: 'c' }), { type: 'ingress-nginx', ingress: 'c' });
    assert.deepEqual(trafficShifterSchema.parse(routeShifter), routeShifter);
    for (const bad of [
      { type: 'ingress-nginx', ingress: 'c', stableIngress: 'api' },
      { type: 'ingress-nginx', ingress: 'api', stableIngress: 'api', canaryService: 's' },
      { type: 'gateway-api', route: 'r', stableBackend: 'a', canaryBackend: 'a' },
      { type: 'kubernetes-replicas', deployment: 'api', canaryDeployment: 'api' },
      { type: 'kubernetes-replicas', deployment: 'a'.repeat(60) },
      { type: 'kubernetes-replicas', deployment: 'api', namespace: 'x' },
      { type: 'gateway-api', route: 'R_1', stableBackend: 'a', canaryBackend: 'b' },
    ]) {
      assert.equal(trafficShifterSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });

  test('argv: kubectl get/patch/delete as argument arrays, the patch as one JSON argument, never a shell', () => {
    const t = { kubeconfig: '/k/config', context: 'prod', namespace: 'web' };
    const base = ['kubectl', '--kubeconfig=/k/config', '--context=prod', '--namespace=web'];
    assert.deepEqual(kubectlCommands.findObject(t, 'ingress/api-canary').argv, [...base, 'get', 'ingress/api-canary', '--ignore-not-found=true', '-o', 'json']);
    assert.deepEqual(kubectlCommands.mergePatch(t, 'deployment/api-canary', { spec: { replicas: 2 } }).argv, [...base, 'patch', 'deployment/api-canary', '--type=merge', '-p', '{"spec":{"replicas":2}}', '-o', 'json']);
    const ops = [{ op: 'add', path: '/spec/rules/0/backendRefs/0/weight', value: 90 }];
    assert.deepEqual(kubectlCommands.jsonPatch({ namespace: 'web' }, 'httproute.gateway.networking.k8s.io/api', ops).argv, ['kubectl', '--namespace=web', 'patch', 'httproute.gateway.networking.k8s.io/api', '--type=json', '-p', JSON.stringify(ops), '-o', 'json']);
    assert.deepEqual(kubectlCommands.deleteDeployment(t, 'api-canary').argv, [...base, 'delete', 'deployment/api-canary', '--ignore-not-found=true', '--wait=false']);
    assert.match(kubectlCommands.deleteDeployment(t, 'api-canary').purpose, /namespace web/);
  });

  test('replicas round up; a route already at the weight needs no patch; a rule without the canary gets one on the stable port', () => {
    assert.deepEqual([0, 1, 10, 25, 50, 99, 100].map((w) => canaryReplicas(w, 4)), [0, 1, 1, 1, 2, 4, 4]);
    const route = { metadata: { name: 'r' }, spec: { rules: [{ backendRefs: [{ name: 'api', port: 80, weight: 90 }, { name: 'api-canary', port: 80, weight: 10 }] }] } };
    assert.deepEqual(httpRouteWeightOps(route, routeShifter, 10), []);
    assert.deepEqual(httpRouteWeight(route, routeShifter).weight, 10);
    const fresh = { metadata: { name: 'r' }, spec: { rules: [{ backendRefs: [{ name: 'api', port: 8080 }] }] } };
    assert.deepEqual(httpRouteWeightOps(fresh, routeShifter, 30), [
      { op: 'test', path: '/spec/rules/0/backendRefs/0/name', value: 'api' },
      { op: 'add', path: '/spec/rules/0/backendRefs/0/weight', value: 70 },
      { op: 'test', path: '/spec/rules/0/backendRefs/0/name', value: 'api' },
      { op: 'add', path: '/spec/rules/0/backendRefs/-', value: { name: 'api-canary', port: 8080, weight: 30 } },
    ]);
    assert.equal(httpRouteWeight(fresh, routeShifter).weight, 0, 'no canary backendRef: no canary traffic');
    const split = { metadata: { name: 'r' }, spec: { rules: [{ backendRefs: [{ name: 'api', weight: 1 }, { name: 'api-canary', weight: 1 }] }, { backendRefs: [{ name: 'api', weight: 0 }] }] } };
    assert.equal(httpRouteWeight(split, routeShifter).weight, null, 'rules that disagree give no single weight');
    assert.throws(() => httpRouteWeightOps({ metadata: { name: 'r' }, spec: { rules: [{ backendRefs: [{ name: 'cdn' }] }] } }, routeShifter, 10), isConfigError);
  });

  test('the canary Ingress switches every backend to the canary service, keeps other annotations but not kubectl\'s last-applied one', () => {
    const made: any = canaryIngressFrom(stableIngress as any, 'api-canary', 'api-canary', 10);
    assert.equal(made.spec.rules[0].http.paths[0].backend.service.name, 'api-canary');
    assert.deepEqual(made.spec.rules[0].http.paths[0].backend.service.port, { number: 80 });
    assert.equal(stableIngress.spec.rules[0]!.http.paths[0]!.backend.service.name, 'api', 'the stable one is not modified');
    assert.equal(made.metadata.annotations['nginx.ingress.kubernetes.io/canary'], 'true');
    assert.equal(made.metadata.annotations['nginx.ingress.kubernetes.io/canary-weight'], '10');
    assert.equal(made.metadata.annotations['nginx.ingress.kubernetes.io/rewrite-target'], '/');
    assert.equal(made.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], undefined);
  });

  test('the canary Deployment: new image in the named container only, app label kept, track label in its selector and pods, 0 replicas', () => {
    const made: any = canaryDeploymentFrom(deployment('api', 'ragops-test/api:v1', 4), 'api-canary', 'api', 'ragops-test/api:v2');
    assert.deepEqual(made.spec.template.spec.containers.map((c: any) => c.image), ['ragops-test/api:v2', 'ragops-test/proxy:1']);
    assert.deepEqual(made.spec.selector.matchLabels, { app: 'api', 'ragops.io/track': 'canary' });
    assert.deepEqual(made.spec.template.metadata.labels, { app: 'api', 'ragops.io/track': 'canary' });
    assert.equal(made.spec.replicas, 0);
    assert.equal(made.spec.minReadySeconds, 1);
    assert.equal(made.metadata.annotations['ragops.io/canary-total'], '4');
    assert.throws(() => canaryDeploymentFrom(deployment('api', 'x:1', 1), 'api-canary', 'nope', 'x:2'), isConfigError);
  });
});

describe('kubernetes-replicas with the real kubectl', () => {
  const driver = kubernetesDrivers['kubernetes-replicas'];

  test('a weight before the canary is launched is a ConfigError; weight 0 without a canary is already in place', async () => {
    await assert.rejects(driver.set({ target, shifter: replicasShifter, weight: 10 }), isConfigError);
    assert.deepEqual((await driver.set({ target, shifter: replicasShifter, weight: 0 })).weight, 0);
    assert.equal((await driver.read({ target, shifter: replicasShifter })).weight, 0);
  });

  test('launchCanary creates <deployment>-canary at 0 replicas from the stable template; launching the same image again writes nothing', async () => {
    const from = kube.requests.length;
    assert.deepEqual(await launchCanary({ target, deployment: 'api', container: 'api', image: 'ragops-test/api:v2' }), { deployment: 'api-canary', created: true, updated: false });
    const canary = kube.get('deployment', NS, 'api-canary');
    assert.equal(canary.spec.replicas, 0);
    assert.equal(canary.spec.template.spec.containers[0].image, 'ragops-test/api:v2');
    assert.equal(canary.spec.template.metadata.labels.app, 'api', 'the Service selecting app=api picks the canary pods too');
    assert.equal(canary.spec.template.metadata.labels['ragops.io/track'], 'canary');
    assert.equal(canary.metadata.annotations['ragops.io/canary-total'], '4');
    assert.equal(kube.get('deployment', NS, 'api').spec.template.spec.containers[0].image, 'ragops-test/api:v1', 'the stable one is untouched');
    const again = kube.requests.length;
    assert.deepEqual(await launchCanary({ target, deployment: 'api', container: 'api', image: 'ragops-test/api:v2' }), { deployment: 'api-canary', created: false, updated: false });
    assert.deepEqual(writesTo('/deployments/api-canary', again), []);
    assert.equal(writesTo('/deployments/api', from).length, 0, 'nothing written to the stable Deployment');
  });

  test('10 → 50 → 100 → 0: the canary runs ceil(weight × 4 / 100) pods and read agrees', async () => {
    for (const [weight, replicas] of [[10, 1], [50, 2], [100, 4], [0, 0]] as const) {
      const result = await driver.set({ target, shifter: replicasShifter, weight });
      assert.equal(result.weight, (replicas * 100) / 4, `set ${weight}: ${result.detail}`);
      assert.equal(kube.get('deployment', NS, 'api-canary').spec.replicas, replicas);
      assert.equal((await driver.read({ target, shifter: replicasShifter })).weight, (replicas * 100) / 4);
      await until(`${replicas} canary pods at weight ${weight}`, () => runningCanaryPods() === replicas);
      assert.equal(kube.get('deployment', NS, 'api').spec.replicas, 4, 'the stable Deployment keeps its replicas');
    }
  });

  test('setting the same weight twice sends one PATCH', async () => {
    const from = kube.requests.length;
    await driver.set({ target, shifter: replicasShifter, weight: 50 });
    assert.equal(writesTo('/deployments/api-canary', from).length, 1);
    const again = kube.requests.length;
    const second = await driver.set({ target, shifter: replicasShifter, weight: 50 });
    assert.deepEqual(writesTo('/deployments/api-canary', again), [], second.detail);
    assert.equal(second.weight, 50);
  });

  test('the drivers with the target bound, as the registry calls them', async () => {
    const bound = kubernetesDriversFor(target)['kubernetes-replicas'];
    assert.equal((await bound.read(replicasShifter, { signal: new AbortController().signal })).weight, 50);
    const fromContext = kubernetesContextDrivers['kubernetes-replicas'];
    assert.equal((await fromContext.read(replicasShifter, { signal: new AbortController().signal, target })).weight, 50);
    const compose = { type: 'compose' as const, directory: '/srv', files: ['docker-compose.yml'], projectName: 'p' };
    await assert.rejects(fromContext.set(replicasShifter, 10, { target: compose }), isConfigError);
    await assert.rejects(fromContext.read(replicasShifter, {}), isConfigError);
  });

  test('a relaunch with another image updates the template and keeps the replicas and the total', async () => {
    const from = kube.requests.length;
    assert.deepEqual(await launchCanary({ target, deployment: 'api', container: 'api', image: 'ragops-test/api:v3' }), { deployment: 'api-canary', created: false, updated: true });
    assert.equal(writesTo('/deployments/api-canary', from).length, 1);
    const canary = kube.get('deployment', NS, 'api-canary');
    assert.equal(canary.spec.template.spec.containers[0].image, 'ragops-test/api:v3');
    assert.equal(canary.spec.replicas, 2);
    assert.equal(canary.metadata.annotations['ragops.io/canary-total'], '4');
  });

  test('a breach: 50, then 0, then removeCanary leaves weight 0 and no canary Deployment; repeating both changes nothing', async () => {
    await driver.set({ target, shifter: replicasShifter, weight: 50 });
    assert.equal((await driver.set({ target, shifter: replicasShifter, weight: 0 })).weight, 0);
    assert.equal(kube.get('deployment', NS, 'api-canary').spec.replicas, 0);
    assert.deepEqual(await removeCanary({ target, deployment: 'api' }), { deployment: 'api-canary', removed: true });
    assert.equal(kube.get('deployment', NS, 'api-canary'), undefined);
    await until('the canary pods gone', () => runningCanaryPods() === 0);
    const from = kube.requests.length;
    assert.deepEqual(await removeCanary({ target, deployment: 'api' }), { deployment: 'api-canary', removed: false });
    assert.equal((await driver.set({ target, shifter: replicasShifter, weight: 0 })).weight, 0);
    assert.equal((await driver.read({ target, shifter: replicasShifter })).weight, 0);
    assert.deepEqual(writesTo('/deployments/api-canary', from), []);
    assert.equal(kube.get('deployment', NS, 'api').spec.replicas, 4, 'the stable Deployment is untouched');
  });

  test('a Deployment ragops did not make is neither updated nor removed as a canary; an unknown stable Deployment is a ConfigError', async () => {
    kube.apply({ ...deployment('other', 'x:1', 1), metadata: { name: 'other-canary', namespace: NS } });
    await assert.rejects(launchCanary({ target, deployment: 'other', container: 'api', image: 'x:2' }), isConfigError);
    kube.apply(deployment('other', 'x:1', 1));
    await assert.rejects(launchCanary({ target, deployment: 'other', container: 'api', image: 'x:2' }), isConfigError);
    await assert.rejects(removeCanary({ target, deployment: 'other' }), isConfigError);
    assert.ok(kube.get('deployment', NS, 'other-canary'));
    await assert.rejects(launchCanary({ target, deployment: 'missing', container: 'api', image: 'x:2' }), isConfigError);
  });
});

describe('ingress-nginx with the real kubectl', () => {
  const driver = kubernetesDrivers['ingress-nginx'];
  const annotations = () => kube.get('ingress', NS, 'api-canary')?.metadata.annotations ?? {};

  test('an unknown canary Ingress without stableIngress to make it from is a ConfigError, for set and read', async () => {
    const shifter: IngressNginxShifter = { type: 'ingress-nginx', ingress: 'nope' };
    await assert.rejects(driver.set({ target, shifter, weight: 10 }), isConfigError);
    await assert.rejects(driver.read({ target, shifter }), isConfigError);
    await assert.rejects(driver.set({ target, shifter: { ...ingressShifter, stableIngress: 'missing' }, weight: 10 }), isConfigError);
  });

  test('10 → 50 → 100 → 0: the canary Ingress is made from the stable one at the first step, then its weight annotation follows; read agrees', async () => {
    assert.equal((await driver.read({ target, shifter: ingressShifter })).weight, 0, 'absent: no canary traffic yet');
    for (const weight of STEPS) {
      const result = await driver.set({ target, shifter: ingressShifter, weight });
      assert.equal(result.weight, weight, result.detail);
      assert.equal(annotations()['nginx.ingress.kubernetes.io/canary'], 'true');
      assert.equal(annotations()['nginx.ingress.kubernetes.io/canary-weight'], String(weight));
      assert.equal((await driver.read({ target, shifter: ingressShifter })).weight, weight);
    }
    const made = kube.get('ingress', NS, 'api-canary');
    assert.equal(made.spec.rules[0].http.paths[0].backend.service.name, 'api-canary');
    assert.equal(made.spec.rules[0].host, 'api.example.com');
    assert.equal(kube.get('ingress', NS, 'api').metadata.annotations['nginx.ingress.kubernetes.io/canary'], undefined, 'the stable Ingress is untouched');
  });

  test('setting the same weight twice sends one PATCH', async () => {
    const from = kube.requests.length;
    await driver.set({ target, shifter: ingressShifter, weight: 50 });
    assert.equal(writesTo('/ingresses/api-canary', from).length, 1);
    const again = kube.requests.length;
    assert.equal((await driver.set({ target, shifter: ingressShifter, weight: 50 })).weight, 50);
    assert.deepEqual(writesTo('/ingresses/api-canary', again), []);
    assert.deepEqual(writesTo('/ingresses', from).filter((r) => r.method === 'POST'), [], 'not created twice');
  });

  test('a breach: 50 then 0 leaves canary-weight 0; an existing canary Ingress (no stableIngress given) is driven as well', async () => {
    assert.equal((await driver.set({ target, shifter: ingressShifter, weight: 0 })).weight, 0);
    const bare: IngressNginxShifter = { type: 'ingress-nginx', ingress: 'api-canary' };
    assert.equal((await driver.set({ target, shifter: bare, weight: 25 })).weight, 25);
    assert.equal((await driver.read({ target, shifter: bare })).weight, 25);
    assert.equal((await driver.set({ target, shifter: bare, weight: 0 })).weight, 0);
    assert.equal(annotations()['nginx.ingress.kubernetes.io/canary-weight'], '0');
  });

  test('permission refused (403) is a non-retryable ConfigError; a 500 stays retryable', async () => {
    kube.faults.failNext({ method: 'GET', pathIncludes: '/ingresses/api-canary', status: 403 });
    await assert.rejects(driver.read({ target, shifter: ingressShifter }), isConfigError);
    kube.faults.failNext({ method: 'PATCH', pathIncludes: '/ingresses/api-canary', status: 500 });
    await assert.rejects(driver.set({ target, shifter: ingressShifter, weight: 5 }), (e) => !(e instanceof ApplicationFailure) && /exit code/.test((e as Error).message));
    assert.equal(annotations()['nginx.ingress.kubernetes.io/canary-weight'], '0', 'the failed PATCH changed nothing');
  });

  test('a weight that is not a whole 0–100 is refused before anything is sent', async () => {
    const from = kube.requests.length;
    for (const weight of [-1, 101, 12.5, Number.NaN]) {
      await assert.rejects(driver.set({ target, shifter: ingressShifter, weight }), (e) => e instanceof ApplicationFailure && e.type === 'InvalidWeight' && e.nonRetryable);
    }
    assert.equal(kube.requests.length, from);
  });
});

describe('gateway-api with the real kubectl', () => {
  const driver = kubernetesDrivers['gateway-api'];
  const refs = () => kube.get('httproute', NS, 'api').spec.rules.map((r: any) => r.backendRefs.map((b: any) => `${b.name}=${b.weight}`));

  test('an unknown route, or one with no rule routing to the stable backend, is a ConfigError', async () => {
    await assert.rejects(driver.set({ target, shifter: { ...routeShifter, route: 'nope' }, weight: 10 }), isConfigError);
    await assert.rejects(driver.read({ target, shifter: { ...routeShifter, route: 'nope' } }), isConfigError);
    kube.apply(httpRoute('elsewhere', 'search'));
    await assert.rejects(driver.set({ target, shifter: { ...routeShifter, route: 'elsewhere' }, weight: 10 }), isConfigError);
  });

  test('10 → 50 → 100 → 0: the stable and canary backendRefs weigh 100 − n and n in the rule that routes to stable, other rules untouched; read agrees', async () => {
    assert.equal((await driver.read({ target, shifter: routeShifter })).weight, 0);
    for (const weight of STEPS) {
      const result = await driver.set({ target, shifter: routeShifter, weight });
      assert.equal(result.weight, weight, result.detail);
      assert.deepEqual(refs(), [[`api=${100 - weight}`, `api-canary=${weight}`], ['cdn=1']]);
      assert.equal((await driver.read({ target, shifter: routeShifter })).weight, weight);
    }
  });

  test('setting the same weight twice sends one PATCH', async () => {
    const from = kube.requests.length;
    await driver.set({ target, shifter: routeShifter, weight: 50 });
    assert.equal(writesTo('/httproutes/api', from).length, 1);
    const again = kube.requests.length;
    assert.equal((await driver.set({ target, shifter: routeShifter, weight: 50 })).weight, 50);
    assert.deepEqual(writesTo('/httproutes/api', again), []);
  });

  test('a breach: 50 then 0 leaves the canary at weight 0 and the stable at 100', async () => {
    assert.equal((await driver.set({ target, shifter: routeShifter, weight: 0 })).weight, 0);
    assert.deepEqual(refs(), [['api=100', 'api-canary=0'], ['cdn=1']]);
    assert.equal((await driver.read({ target, shifter: routeShifter })).weight, 0);
  });
});
