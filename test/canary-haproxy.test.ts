// The canary on Docker Compose behind a real HAProxy, judged by a real Prometheus: the stable
// service and ragops' `api-canary` are real containers (the real engine, docker-compose v1) of
// images built here (test/support/canary-images.ts: busybox, counting what they answer and
// exporting http_requests_total{version,code}), each on a loopback port; HAProxy balances
// between them with the weights the haproxy shifter sets through its runtime API; Prometheus
// scrapes both every second; probe traffic goes through HAProxy the whole time.
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { canaryCommands, canaryDefinition, launchComposeCanary, removeComposeCanary } from '../src/activities/compose/canary.js';
import { readOverride, overrideFileOf } from '../src/activities/compose/override.js';
import type { CanaryInput } from '../src/config/inputs.js';
import type { CanaryReport } from '../src/workflows/canary/report.js';
import { composeBehindHaproxy, startProbe, type ComposeBehindHaproxy, type ProbeTally } from './support/canary-compose.js';
import { ensureCanaryAppImages, CANARY_APP_IMAGES } from './support/canary-images.js';
import { TEST_API_IMAGES } from './support/docker-images.js';
import { startPrometheus, type TestPrometheus } from './support/prometheus.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const INTERVAL_S = 3;
/** The canary's error rate over the analysis interval, from the series of the canary's scrape target. */
const ERROR_RATE = `sum(increase(http_requests_total{role="canary",code="500"}[{{interval}}])) / sum(increase(http_requests_total{role="canary"}[{{interval}}]))`;
const REQUESTS = `sum(increase(http_requests_total{role="canary"}[{{interval}}]))`;

let env: ComposeBehindHaproxy;
let prometheus: TestPrometheus;
let temporal: TestTemporal;
let worker: RunningWorker;
let store: { path: string; remove(): Promise<void> };
const taskQueue = uniqueName('canary-haproxy');

before(async () => {
  await ensureCanaryAppImages();
  [env, temporal, store] = await Promise.all([composeBehindHaproxy(CANARY_APP_IMAGES.c1), startTestTemporal(), tempDir('canary-haproxy-store')]);
  prometheus = await startPrometheus([
    { address: env.stableAddress, labels: { role: 'stable' } },
    { address: env.canaryAddress, labels: { role: 'canary' } },
  ]);
  const stacks = {
    stacks: {
      prod: {
        store: { type: 'fs', path: store.path },
        deploy: {
          target: env.target,
          services: {
            api: {
              health: [{ url: `${env.project.url}/health`, timeoutSeconds: 15, intervalMs: 300 }],
              canary: { ports: [`${env.canaryAddress}:8080`] },
              rolloutTimeoutSeconds: 30,
            },
          },
        },
        canary: {
          api: {
            traffic: env.shifter,
            steps: [{ setWeight: 10 }, { pause: { duration: '7s' } }, { setWeight: 50 }, { pause: { duration: '7s' } }, { setWeight: 100 }, { pause: { duration: '7s' } }],
            analysis: { metrics: ['error-rate'], interval: `${INTERVAL_S}s`, count: 1 },
            metrics: [
              {
                name: 'error-rate',
                provider: { type: 'prometheus', url: prometheus.url, query: ERROR_RATE, minRequestsQuery: REQUESTS, minRequests: 2 },
                thresholdRange: { max: 0.05 },
              },
            ],
          },
        },
      },
    },
  };
  worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
});

after(async () => {
  await worker?.stop();
  await Promise.allSettled([env?.stop(), prometheus?.stop(), temporal?.stop(), store?.remove()]);
});

function startCanary(image: string, steps?: CanaryInput['steps']) {
  const input: CanaryInput = { stack: 'prod', service: 'api', image, ...(steps ? { steps } : {}) };
  return temporal.client.workflow.start('canary', { taskQueue, workflowId: uniqueName('canary-prod-api'), args: [input] });
}

/** The canary's share of the probe answers at `weight`, in percent, and how many there were. */
function share(tally: ProbeTally, weight: number, canaryVersion: string): { percent: number; answered: number; counts: Record<string, number> } {
  const counts = tally.byWeight.get(weight) ?? {};
  const answered = Object.values(counts).reduce((a, b) => a + b, 0);
  const canary = Object.entries(counts).filter(([answer]) => answer.endsWith(canaryVersion)).reduce((a, [, n]) => a + n, 0);
  return { percent: answered === 0 ? NaN : (canary / answered) * 100, answered, counts };
}

describe('the Compose canary version: argv and definition (pure)', () => {
  const project = { flavor: 'v1' as const, directory: '/srv/rag', files: ['/srv/rag/docker-compose.yml'], projectName: 'rag', overrideFile: '/srv/rag/.ragops/rag.images.yml' };
  test('compose config, rm --stop, and the leftover containers by label', () => {
    assert.deepEqual(canaryCommands.config(project).argv, ['docker-compose', '--project-directory', '/srv/rag', '-f', '/srv/rag/docker-compose.yml', '-f', '/srv/rag/.ragops/rag.images.yml', '-p', 'rag', 'config']);
    assert.deepEqual(canaryCommands.remove({ ...project, flavor: 'v2' }, 'api-canary').argv.slice(0, 2), ['docker', 'compose']);
    assert.deepEqual(canaryCommands.remove(project, 'api-canary').argv.slice(-5), ['rm', '--stop', '--force', '-v', 'api-canary']);
    assert.deepEqual(canaryCommands.leftovers('rag', 'api-canary').argv, [
      'docker', 'ps', '-aq', '--filter', 'label=com.docker.compose.project=rag', '--filter', 'label=com.docker.compose.service=api-canary',
    ]);
  });
  test("derived from the stable definition: environment, volumes, networks, healthcheck kept; name, ports, build and depends_on not; the canary's own ports and image", () => {
    const stable = {
      image: 'registry/api:1.4',
      container_name: 'api',
      build: { context: '.' },
      ports: ['127.0.0.1:8080:8080'],
      depends_on: ['db'],
      environment: { DATABASE_URL: 'postgres://db/app' },
      volumes: ['/srv/data:/data:ro'],
      networks: { backend: null },
      healthcheck: { test: ['CMD', '/app/healthcheck'], interval: '1s' },
      labels: ['team=search'],
    };
    const canary = canaryDefinition(stable, { service: 'api', image: 'registry/api@sha256:' + 'a'.repeat(64), ports: ['127.0.0.1:18081:8080'] });
    assert.deepEqual(canary, {
      image: 'registry/api@sha256:' + 'a'.repeat(64),
      environment: stable.environment,
      volumes: stable.volumes,
      networks: stable.networks,
      healthcheck: stable.healthcheck,
      labels: { team: 'search', 'org.ragops.canary-of': 'api' },
      ports: ['127.0.0.1:18081:8080'],
    });
    assert.equal('ports' in canaryDefinition(stable, { service: 'api', image: 'x', ports: [] }), false, 'no ports unless the stack gives some');
  });
});

describe('the Compose canary version on the real engine', () => {
  test('launch and removal are idempotent: twice each leaves one container, then none, and the override entry goes', async () => {
    const input = { target: env.target, service: 'api', image: CANARY_APP_IMAGES.c1, ports: [`${env.canaryAddress}:8080`], timeoutSeconds: 30 };
    const first = await launchComposeCanary(input);
    const second = await launchComposeCanary(input);
    assert.deepEqual([first.created, second.created], [true, false]);
    assert.equal((await env.containersOf('api-canary')).length, 1);
    assert.equal((await (await fetch(`http://${env.canaryAddress}/`)).text()).trim(), 'c1', 'the canary answers on its own port');
    assert.deepEqual(await removeComposeCanary({ target: env.target, service: 'api' }), { service: 'api-canary', removed: true });
    assert.deepEqual(await removeComposeCanary({ target: env.target, service: 'api' }), { service: 'api-canary', removed: false });
    assert.deepEqual(await env.containersOf('api-canary'), []);
    assert.equal((await readOverride(overrideFileOf(env.target))).services['api-canary'], undefined);
  });

  test('a canary that does not come up (healthcheck failing) fails CanaryUnhealthy and is removed again', async () => {
    const error = await launchComposeCanary({ target: env.target, service: 'api', image: TEST_API_IMAGES.bad, ports: [], timeoutSeconds: 30 }).then(
      () => assert.fail('the unhealthy canary was launched'),
      (e: unknown) => e as ApplicationFailure,
    );
    assert.equal(error.type, 'CanaryUnhealthy', String(error));
    assert.match(error.message, /api-canary .* did not come up: .*unhealthy/);
    assert.deepEqual(await env.containersOf('api-canary'), []);
    assert.equal((await readOverride(overrideFileOf(env.target))).services['api-canary'], undefined);
  });
});

describe('canary on Compose behind HAProxy, judged by Prometheus (real containers, real proxy, real Prometheus)', () => {
  test('a good canary goes 10 → 50 → 100 % with analysis passing each step and ends promoted: the stable service runs the new digest, api-canary is gone, HAProxy 100 % stable', async () => {
    const probe = startProbe(`${env.haproxy.url}`, () => env.canaryWeight());
    try {
      const handle = await startCanary(CANARY_APP_IMAGES.c2);
      // While it runs: api-canary in ragops' override file, derived from the stable definition.
      let entry: Record<string, unknown> | undefined;
      for (let i = 0; i < 100 && !entry; i++) {
        entry = (await readOverride(overrideFileOf(env.target))).services['api-canary'] as Record<string, unknown> | undefined;
        if (!entry) await sleep(100);
      }
      assert.ok(entry, "api-canary appears in ragops' override file");
      assert.match(String(entry.image), /^ragops-pinned\/api-canary:sha256-[a-f0-9]{64}$/, 'the pinned new image (a local image id, tagged)');
      assert.deepEqual(entry.ports, [`${env.canaryAddress}:8080`], "only the stack's canary ports");
      assert.equal(entry.container_name, undefined);
      assert.deepEqual((entry.healthcheck as { test?: unknown } | undefined)?.test, ['CMD', '/app/healthcheck'], "the stable service's healthcheck");
      assert.equal((entry.labels as Record<string, string>)['org.ragops.canary-of'], 'api');
      const report = (await handle.result()) as CanaryReport;
      await sleep(500);
      await probe.stop();

      assert.equal(report.outcome, 'promoted', JSON.stringify(report));
      for (const weight of [10, 50, 100]) {
        const seen = share(probe, weight, 'c2');
        console.log(`probe at ${weight} %: canary answered ${seen.percent.toFixed(1)} % of ${seen.answered}`);
        assert.ok(seen.answered >= 30, `enough probe answers at ${weight} %: ${JSON.stringify(seen.counts)}`);
        assert.ok(Math.abs(seen.percent - weight) <= 10, `at ${weight} % the canary answered ${seen.percent.toFixed(1)} % of ${seen.answered} (${JSON.stringify(seen.counts)})`);
      }
      const measured = report.measurements.filter((m) => m.metric === 'error-rate');
      assert.ok(measured.length >= 6, `two analyses per step at least: ${JSON.stringify(measured)}`);
      assert.ok(measured.every((m) => m.outcome === 'passed' && m.value === 0), JSON.stringify(measured));

      // Promoted: the stable container runs c2's image id, the canary is removed, all traffic on the stable server.
      const { stdout: expectedId } = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', CANARY_APP_IMAGES.c2]);
      const [stableContainer] = await env.containersOf('api');
      const { stdout: runningId } = await execa('docker', ['inspect', '--format', '{{.Image}}', stableContainer!]);
      assert.equal(runningId.trim(), expectedId.trim(), 'the stable service runs the new image');
      assert.equal(report.canary?.pinned, expectedId.trim());
      assert.deepEqual(await env.containersOf('api-canary'), [], 'api-canary is removed');
      assert.equal((await readOverride(overrideFileOf(env.target))).services['api-canary'], undefined, "api-canary is dropped from ragops' override file");
      assert.deepEqual(await env.serverWeights(), { stable: 100, canary: 0 });
      const after = await fetch(env.haproxy.url);
      assert.equal((await after.text()).trim(), 'c2', 'traffic through HAProxy is answered by the (promoted) stable service');
    } finally {
      await probe.stop();
    }
  });

  test('a canary serving 20 % errors is rolled back at the first analysis: weight 0 within one analysis interval of the breach, api-canary removed, the report holds the measurements', async () => {
    const probe = startProbe(`${env.haproxy.url}`, () => env.canaryWeight());
    try {
      const handle = await startCanary(CANARY_APP_IMAGES.c2bad);
      const query = ERROR_RATE.replaceAll('{{interval}}', `${INTERVAL_S}s`);
      // When the breach becomes visible in Prometheus, and when HAProxy's canary weight is back at 0.
      let watching = true;
      const breachSeen = (async () => {
        while (watching) {
          const value = await prometheus.queryValue(query).catch(() => null);
          if (value !== null && value > 0.05) return Date.now();
          await sleep(100);
        }
        return Number.NaN;
      })();
      const outcome = await handle.result().then(
        () => assert.fail('the canary was promoted'),
        (error: unknown) => error,
      );
      watching = false;
      const breachAt = await breachSeen;
      await probe.stop();

      assert.ok(outcome instanceof WorkflowFailedError, String(outcome));
      assert.ok(outcome.cause instanceof ApplicationFailure && outcome.cause.type === 'CanaryRolledBack', String(outcome.cause));
      const report = outcome.cause.details?.[0] as CanaryReport;
      assert.equal(report.outcome, 'rolled back');
      assert.equal(report.weight, 0);
      assert.match(report.reason ?? '', /analysis failed: error-rate/);
      assert.equal(report.measurements.length, 1, `rolled back at the first analysis: ${JSON.stringify(report.measurements)}`);
      const [breach] = report.measurements;
      assert.equal(breach?.outcome, 'failed');
      assert.ok((breach?.value ?? 0) > 0.05, JSON.stringify(breach));

      assert.ok(Number.isFinite(breachAt), 'the breach was seen in Prometheus before the run ended');
      const zeroAt = probe.zeroAfter(10);
      assert.ok(zeroAt !== undefined, 'the weight went back to 0 after 10 %');
      console.log(`breach visible in Prometheus → HAProxy canary weight 0: ${zeroAt - breachAt} ms (measured ${breach?.value})`);
      assert.ok(zeroAt - breachAt <= INTERVAL_S * 1000 + 1000, `weight 0 ${zeroAt - breachAt} ms after the breach was visible (interval ${INTERVAL_S} s)`);
      assert.deepEqual(await env.serverWeights(), { stable: 100, canary: 0 });
      assert.deepEqual(await env.containersOf('api-canary'), [], 'api-canary is removed');
      const stillStable = await fetch(env.haproxy.url);
      assert.equal((await stillStable.text()).trim(), 'c2', 'the stable service (c2 since the first test) serves');
    } finally {
      await probe.stop();
    }
  });

  test('no traffic at all to the canary (probes off): the run pauses as inconclusive at 10 % and does not promote; resume after traffic starts carries on to promotion', async () => {
    const handle = await startCanary(CANARY_APP_IMAGES.c1, [{ setWeight: 10 }, { pause: { duration: '7s' } }, { setWeight: 50 }, { pause: { duration: '4s' } }]);
    const status = () => handle.query<CanaryReport>('status');
    let paused: CanaryReport | undefined;
    for (let i = 0; i < 150 && !paused; i++) {
      const report = await status().catch(() => undefined);
      if (report?.paused) paused = report;
      else await sleep(200);
    }
    assert.ok(paused, 'the run paused');
    assert.match(paused.paused!.reason, /inconclusive, not enough data: error-rate/);
    assert.equal(paused.weight, 10);
    assert.ok(paused.measurements.every((m) => m.outcome === 'inconclusive'), JSON.stringify(paused.measurements));

    await sleep(INTERVAL_S * 2 * 1000 + 1000); // well past the 7 s pause step, two intervals more
    const held = await status();
    assert.equal(held.outcome, 'running', 'no promotion on missing data');
    assert.ok(held.paused && held.stepIndex === 1 && held.weight === 10, JSON.stringify(held));
    assert.deepEqual(await env.serverWeights(), { stable: 90, canary: 10 }, 'HAProxy holds the weight while paused');

    const probe = startProbe(`${env.haproxy.url}`, () => env.canaryWeight());
    try {
      const requests = REQUESTS.replaceAll('{{interval}}', `${INTERVAL_S}s`);
      for (let i = 0; i < 100 && ((await prometheus.queryValue(requests).catch(() => null)) ?? 0) < 2; i++) await sleep(200);
      await handle.signal('resume');
      const report = (await handle.result()) as CanaryReport;
      assert.equal(report.outcome, 'promoted', JSON.stringify(report));
      const outcomes = report.measurements.map((m) => m.outcome);
      assert.ok(outcomes.indexOf('passed') > outcomes.lastIndexOf('inconclusive'), `inconclusive before resume, passing after: ${outcomes.join(', ')}`);
      assert.deepEqual(await env.serverWeights(), { stable: 100, canary: 0 });
    } finally {
      await probe.stop();
    }
  });
  test('cancelled while the canary version starts (its health check not passing yet): the rollback removes the half-launched api-canary', async () => {
    const handle = await startCanary(TEST_API_IMAGES.bad);
    for (let i = 0; i < 300 && (await env.containersOf('api-canary')).length === 0; i++) await sleep(100);
    assert.notDeepEqual(await env.containersOf('api-canary'), [], 'compose up created api-canary');
    await handle.cancel();
    const error = await handle.result().then(() => assert.fail('the cancelled canary completed'), (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError && /cancel/i.test(String(error.cause)), String(error));
    assert.deepEqual(await env.containersOf('api-canary'), [], 'api-canary is removed although its launch never finished');
    assert.equal((await readOverride(overrideFileOf(env.target))).services['api-canary'], undefined);
    const history = JSON.stringify((await handle.fetchHistory()).events);
    assert.ok(history.includes('removeCanaryVersion'), 'the rollback ran the removal');
    assert.deepEqual(await env.serverWeights(), { stable: 100, canary: 0 });
  });
});
