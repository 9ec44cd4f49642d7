// The kubernetes-service-selector shifter: a Service's spec.selector switched whole between the
// stable and the canary (for disaster recovery: the recovered) pods, with the real kubectl
// against the API stand-in (test/support/k8s); its schema, and the stacks-file checks that keep
// it out of canary steps and DR traffic steps with a weight other than 0 or 100.
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { ConfigError, parseStacksFile } from '../src/config/load.js';
import type { KubernetesTarget } from '../src/config/stacks/deploy.js';
import { trafficShifterSchema } from '../src/config/stacks/traffic.js';
import type { KubernetesServiceSelectorShifter } from '../src/config/stacks/trafficKubernetes.js';
import { shifterDrivers } from '../src/activities/traffic/index.js';
import { kubernetesContextDrivers, kubernetesDrivers, kubernetesDriversFor } from '../src/activities/traffic/kubernetes.js';
import { selectorFor, selectorOps, selectorWeight } from '../src/activities/traffic/kubernetesSelector.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';

const NS = 'selector';
let kube: KubeStandin;
let target: KubernetesTarget;

const STABLE = { app: 'api', 'ragops.io/side': 'primary' };
const RECOVERED = { app: 'api', 'ragops.io/side': 'recovered', 'topology.kubernetes.io/zone': 'eu-west-1b' };
const shifter: KubernetesServiceSelectorShifter = { type: 'kubernetes-service-selector', service: 'api', stableSelector: STABLE, canarySelector: RECOVERED };

const service = (name: string, spec: object) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS, labels: { team: 'search' } }, spec });

/** The Service as the stand-in's API answers it (plain HTTP, the bearer token), not the store's copy. */
async function fetchService(name: string): Promise<any> {
  const response = await fetch(`${kube.url}/api/v1/namespaces/${NS}/services/${name}`, { headers: { authorization: `Bearer ${kube.token}` } });
  assert.equal(response.status, 200, `GET service/${name}`);
  return response.json();
}

/** Writes (POST, PUT, PATCH, DELETE) to Services sent since request `from`. */
const serviceWrites = (from: number) => kube.requests.slice(from).filter((r) => r.method !== 'GET' && r.path.includes('/services'));

const failure = (type: string, message?: RegExp) => (error: unknown) => {
  assert.ok(error instanceof ApplicationFailure, `an ApplicationFailure, got ${String(error)}`);
  assert.equal(error.type, type, error.message);
  assert.equal(error.nonRetryable, true);
  if (message) assert.match(error.message, message);
  return true;
};

before(async () => {
  kube = await startKubeStandin({ readyDelayMs: 100 });
  target = { type: 'kubernetes', kubeconfig: kube.kubeconfigPath, context: kube.context, namespace: NS };
  kube.apply(service('api', { selector: STABLE, ports: [{ port: 80, targetPort: 8080 }] }));
  kube.apply(service('legacy', { ports: [{ port: 80 }] }));
  kube.apply(service('external', { type: 'ExternalName', externalName: 'api.example.com' }));
});
after(() => kube?.stop());

describe('kubernetes-service-selector: schema and builders (pure)', () => {
  test('parses in the traffic union; empty selectors, bad label keys or values, equal selectors and unknown fields are refused', () => {
    assert.deepEqual(trafficShifterSchema.parse(shifter), shifter);
    const with_ = (fields: object) => ({ ...shifter, ...fields });
    for (const bad of [
      with_({ stableSelector: {} }),
      with_({ canarySelector: {} }),
      with_({ canarySelector: { ...STABLE } }),
      with_({ canarySelector: { 'ragops.io/side': 'primary', app: 'api' } }),
      with_({ stableSelector: { 'app name': 'api' } }),
      with_({ stableSelector: { '-app': 'api' } }),
      with_({ stableSelector: { 'Example.COM/app': 'api' } }),
      with_({ stableSelector: { '/app': 'api' } }),
      with_({ stableSelector: { ['a'.repeat(64)]: 'api' } }),
      with_({ stableSelector: { app: 'api primary' } }),
      with_({ stableSelector: { app: 'api-' } }),
      with_({ stableSelector: { app: 'a'.repeat(64) } }),
      with_({ stableSelector: { app: 1 } }),
      with_({ service: 'Api_1' }),
      with_({ namespace: 'prod' }),
      { type: 'kubernetes-service-selector', service: 'api', stableSelector: STABLE },
    ]) {
      assert.equal(trafficShifterSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.equal(trafficShifterSchema.safeParse(with_({ stableSelector: { 'app.kubernetes.io/name': 'api', tier: '' } })).success, true, 'prefixed keys and empty values are valid labels');
  });

  test('0 is the stable selector, 100 the canary one; any other weight is InvalidWeight; the selector in force needs no patch; the patch tests what was read', () => {
    assert.deepEqual(selectorFor(shifter, 0), STABLE);
    assert.deepEqual(selectorFor(shifter, 100), RECOVERED);
    for (const weight of [1, 50, 99]) assert.throws(() => selectorFor(shifter, weight), failure('InvalidWeight', /a Service selector switches all traffic or none; use 0 or 100/));
    assert.throws(() => selectorFor(shifter, 101), failure('InvalidWeight'));
    const svc = { metadata: { name: 'api', resourceVersion: '42' }, spec: { selector: { 'ragops.io/side': 'primary', app: 'api' } } };
    assert.deepEqual(selectorOps(svc, STABLE), [], 'the same labels in another order are the same selector');
    assert.deepEqual(selectorOps(svc, RECOVERED), [
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'replace', path: '/spec/selector', value: RECOVERED },
    ]);
    assert.deepEqual(selectorOps({ metadata: { name: 'api' }, spec: svc.spec }, RECOVERED)[0], { op: 'test', path: '/spec/selector', value: svc.spec.selector });
    assert.equal(selectorWeight(svc, shifter).weight, 0);
    const other = selectorWeight({ metadata: { name: 'api' }, spec: { selector: { app: 'api' } } }, shifter);
    assert.equal(other.weight, null);
    assert.match(other.detail, /selector app=api: neither/);
  });
});

describe('kubernetes-service-selector with the real kubectl', () => {
  const driver = kubernetesDrivers['kubernetes-service-selector'];

  test('is registered: in the traffic registry, the context drivers and the target-bound ones', () => {
    assert.equal(typeof shifterDrivers['kubernetes-service-selector'].set, 'function');
    assert.equal(typeof kubernetesDriversFor(target)['kubernetes-service-selector'].read, 'function');
  });

  test('read on the stable selector is 0', async () => {
    const read = await driver.read({ target, shifter });
    assert.equal(read.weight, 0, read.detail);
  });

  test('set 100: the selector becomes exactly the canary one (read back through the API), read says 100; set 100 again writes nothing', async () => {
    const from = kube.requests.length;
    const set = await driver.set({ target, shifter, weight: 100 });
    assert.equal(set.weight, 100, set.detail);
    assert.match(set.detail, /was app=api,ragops.io\/side=primary/);
    assert.equal(serviceWrites(from).length, 1, 'one patch');
    const live = await fetchService('api');
    assert.deepEqual(live.spec.selector, RECOVERED);
    assert.deepEqual(live.spec.ports.map((p: any) => p.port), [80], 'the rest of the Service is untouched');
    assert.deepEqual(live.metadata.labels, { team: 'search' });
    assert.equal((await driver.read({ target, shifter })).weight, 100);

    const again = kube.requests.length;
    const second = await driver.set({ target, shifter, weight: 100 });
    assert.equal(second.weight, 100);
    assert.match(second.detail, /unchanged/);
    assert.deepEqual(serviceWrites(again), [], 'the weight in force writes nothing');
  });

  test('set 0: back to the stable selector exactly, no canary label left over', async () => {
    const from = kube.requests.length;
    const set = await driver.set({ target, shifter, weight: 0 });
    assert.equal(set.weight, 0, set.detail);
    assert.equal(serviceWrites(from).length, 1);
    const live = await fetchService('api');
    assert.deepEqual(live.spec.selector, STABLE);
    assert.equal(live.spec.selector['topology.kubernetes.io/zone'], undefined);
    assert.equal((await driver.read({ target, shifter })).weight, 0);
  });

  test('set 50 is refused InvalidWeight, nothing written (nothing even read)', async () => {
    const from = kube.requests.length;
    await assert.rejects(driver.set({ target, shifter, weight: 50 }), failure('InvalidWeight', /use 0 or 100/));
    await assert.rejects(driver.set({ target, shifter, weight: 2.5 }), failure('InvalidWeight'));
    assert.deepEqual(kube.requests.slice(from), []);
    assert.deepEqual((await fetchService('api')).spec.selector, STABLE);
  });

  test('a selector that is neither reads null with the selector in the detail; set takes it to the one asked for', async () => {
    kube.apply(service('api', { selector: { app: 'api', 'ragops.io/side': 'primary', extra: 'x' }, ports: [{ port: 80, targetPort: 8080 }] }));
    const read = await driver.read({ target, shifter });
    assert.equal(read.weight, null);
    assert.match(read.detail, /selector app=api,extra=x,ragops.io\/side=primary: neither/);
    await driver.set({ target, shifter, weight: 0 });
    assert.deepEqual((await fetchService('api')).spec.selector, STABLE, 'the extra label is gone');
  });

  test('an absent Service is a ConfigError naming it, for set and read; one without a selector or an ExternalName is not taken over', async () => {
    const missing = { ...shifter, service: 'api-missing' };
    await assert.rejects(driver.set({ target, shifter: missing, weight: 100 }), failure('ConfigError', /service\/api-missing not found in namespace selector/));
    await assert.rejects(driver.read({ target, shifter: missing }), failure('ConfigError', /service\/api-missing not found/));
    const from = kube.requests.length;
    await assert.rejects(driver.set({ target, shifter: { ...shifter, service: 'legacy' }, weight: 100 }), failure('ConfigError', /service\/legacy .* has no selector/));
    await assert.rejects(driver.set({ target, shifter: { ...shifter, service: 'external' }, weight: 100 }), failure('ConfigError', /ExternalName/));
    assert.deepEqual(serviceWrites(from), []);
    assert.equal((await driver.read({ target, shifter: { ...shifter, service: 'legacy' } })).weight, null);
  });

  test('through the registry form: the target comes from the context', async () => {
    const registry = kubernetesContextDrivers['kubernetes-service-selector'];
    assert.equal((await registry.set(shifter, 100, { target })).weight, 100);
    assert.deepEqual((await fetchService('api')).spec.selector, RECOVERED);
    assert.equal((await registry.read(shifter, { target })).weight, 100);
    await assert.rejects(registry.read(shifter, {}), failure('ConfigError', /kubernetes-service-selector shifter acts on the service's Kubernetes deploy target/));
  });
});

describe('kubernetes-service-selector in the stacks file', () => {
  const stacks = (extra: object) =>
    stringify({
      stacks: {
        prod: {
          store: { type: 'fs', path: '/tmp/ragops-store' },
          deploy: { target: { type: 'kubernetes', namespace: 'prod' }, services: { api: { health: [{ url: 'http://api.prod.svc/health' }] } } },
          ...extra,
        },
      },
    });
  const problems = (extra: object): string => {
    try {
      parseStacksFile(stacks(extra), 'ragops.yaml');
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.message;
    }
    return 'accepted';
  };
  const dr = (traffic: object) => ({ dr: { targets: { rtoMinutes: 30, rpoMinutes: 60 }, writers: ['api'], traffic, validation: { checks: [{ url: 'http://api.prod.svc/health' }] } } });

  test("a DR section's traffic step takes the shifter: switched to the recovered side (100, the default) or back (0); another weight is refused", () => {
    const parsed = parseStacksFile(stacks(dr({ shifter })), 'ragops.yaml');
    assert.deepEqual(parsed.stacks.prod!.dr!.traffic, { shifter, weight: 100 });
    assert.equal(problems(dr({ shifter, weight: 0 })), 'accepted');
    assert.match(problems(dr({ shifter, weight: 50 })), /dr\.traffic\.weight.*50 %: a Service selector switches all traffic or none; use 0 or 100/s);
    assert.match(problems(dr({ shifter: { ...shifter, canarySelector: {} } })), /dr\.traffic\.shifter\.canarySelector/);
  });

  test('a canary over the shifter may switch (setWeight 0 or 100) but a step that splits traffic is refused at parse time', () => {
    const canary = (steps: object[]) => ({ canary: { api: { traffic: shifter, steps } } });
    assert.equal(problems(canary([{ setWeight: 100 }, { pause: { duration: '10m' } }])), 'accepted');
    const refused = problems(canary([{ setWeight: 10 }, { pause: { duration: '10m' } }, { setWeight: 100 }]));
    assert.match(refused, /canary\.api\.steps\[0\]\.setWeight/);
    assert.match(refused, /10 %: a Service selector switches all traffic or none; use 0 or 100 .*a canary over it switches: setWeight 0 or 100/s);
    assert.doesNotMatch(refused, /steps\[2\]/);
  });
});
