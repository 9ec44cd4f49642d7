// Blue-green on Docker Compose through the HAProxy shifter (real engine, docker-compose v1, a
// real HAProxy on loopback): the new version starts as `api-canary` on its own loopback port,
// is checked there, and only then does HAProxy's canary server go 0 → 100 %; the `rollback`
// update inside the window switches back; after the window the stable service runs the new
// digest and takes the traffic back, and api-canary is removed.
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { readOverride, overrideFileOf } from '../src/activities/compose/override.js';
import { requestRollback, startDeploy } from '../src/client/api/runbooks.js';
import type { DeployReport } from '../src/workflows/deploy/index.js';
import { composeBehindHaproxy, type ComposeBehindHaproxy } from './support/canary-compose.js';
import { deployFailure } from './support/deploy.js';
import { ensureTestImages, TEST_API_IMAGES } from './support/docker-images.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

let env: ComposeBehindHaproxy;
let temporal: TestTemporal;
let worker: RunningWorker;
let store: { path: string; remove(): Promise<void> };
const taskQueue = uniqueName('deploy-compose-bg');

before(async () => {
  await ensureTestImages();
  [env, temporal, store] = await Promise.all([composeBehindHaproxy(TEST_API_IMAGES.v1), startTestTemporal(), tempDir('compose-bg-store')]);
  const check = (url: string) => ({ url, timeoutSeconds: 15, intervalMs: 300 });
  const stacks = {
    stacks: {
      prod: {
        store: { type: 'fs', path: store.path },
        deploy: {
          target: env.target,
          services: {
            api: {
              health: [check(`${env.project.url}/health`)],
              canary: { ports: [`${env.canaryAddress}:8080`] },
              blueGreen: { health: [check(`http://${env.canaryAddress}/health`)] },
              rolloutTimeoutSeconds: 20,
            },
          },
        },
        // The blue-green switch is the canary runbook's shifter.
        canary: { api: { traffic: env.shifter, steps: [{ setWeight: 100 }] } },
      },
    },
  };
  worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
});

after(async () => {
  await worker?.stop();
  await Promise.allSettled([env?.stop(), temporal?.stop(), store?.remove()]);
});

const deploy = (image: string, rollbackWindowSeconds: number) =>
  startDeploy(temporal.client, { stack: 'prod', service: 'api', image, strategy: 'blueGreen', rollbackWindowSeconds }, { taskQueue, workflowId: uniqueName('deploy-prod-api') });

/** The version answering through HAProxy (`/version` of whichever server it picked). */
async function versionThroughHaproxy(): Promise<string> {
  const response = await fetch(new URL('/version', env.haproxy.url), { headers: { connection: 'close' } });
  return `${response.status} ${(await response.text()).trim()}`;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Watches HAProxy's canary weight while a run goes: every distinct value in order. */
function watchWeights(): { seen: Array<number | null>; stop(): Promise<void> } {
  const seen: Array<number | null> = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const weight = await env.canaryWeight().catch(() => null);
      if (seen.at(-1) !== weight) seen.push(weight);
      await sleep(50);
    }
  })();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

const imageIdOf = async (image: string) => (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image])).stdout.trim();
async function stableImageId(): Promise<string> {
  const [container] = await env.containersOf('api');
  return (await execa('docker', ['inspect', '--format', '{{.Image}}', container!])).stdout.trim();
}

describe('blue-green on Compose through the HAProxy shifter (real engine, real HAProxy)', () => {
  test('a new version that fails its checks is never switched to: HAProxy stays 100 % stable, api-canary removed, the deploy rolls back', async () => {
    const watch = watchWeights();
    const handle = await deploy(TEST_API_IMAGES.bad, 5);
    const { report } = await deployFailure(handle.result());
    await watch.stop();
    assert.equal(report.failure?.step, 'rollout', JSON.stringify(report.failure));
    assert.deepEqual(watch.seen.filter((w) => w !== null && w > 0), [], `the canary never got traffic (seen ${JSON.stringify(watch.seen)})`);
    assert.deepEqual(await env.serverWeights(), { stable: 100, canary: 0 });
    assert.deepEqual(await env.containersOf('api-canary'), []);
    assert.equal(await stableImageId(), await imageIdOf(TEST_API_IMAGES.v1));
    assert.equal(await versionThroughHaproxy(), '200 v1');
  });

  test('switch after checks: api-canary (v2) checked on its port, then 0 → 100 %; after the window the stable service runs v2 and takes the traffic back, api-canary removed', async () => {
    const watch = watchWeights();
    const handle = await deploy(TEST_API_IMAGES.v2, 4);
    await until('the switch to api-canary', async () => (await env.canaryWeight()) === 100);
    assert.equal(await versionThroughHaproxy(), '200 v2', 'in the window, traffic goes to the new version');
    assert.equal(await stableImageId(), await imageIdOf(TEST_API_IMAGES.v1), 'the stable service still runs v1 in the window');
    const report = (await handle.result()) as DeployReport;
    await watch.stop();

    assert.equal(report.outcome, 'deployed', JSON.stringify(report));
    assert.ok(report.checks.length > 0 && report.checks.every((c) => c.passed), JSON.stringify(report.checks));
    assert.ok(report.blueGreen?.switchedAt && report.blueGreen.windowClosedAt, JSON.stringify(report.blueGreen));
    // A shift raises one server's weight before lowering the other's (never both at 0), so a poll
    // can catch the moment between the two commands, when both servers share the traffic.
    const settled = watch.seen.filter((w) => w === 0 || w === 100).filter((w, i, all) => i === 0 || all[i - 1] !== w);
    assert.deepEqual(settled, [0, 100, 0], `0 → 100 → 0 % (seen ${JSON.stringify(watch.seen)})`);
    assert.ok(watch.seen.every((w) => w === null || w === 0 || w === 50 || w === 100), `only the two-step shift in between (seen ${JSON.stringify(watch.seen)})`);
    assert.equal(await stableImageId(), await imageIdOf(TEST_API_IMAGES.v2), 'the stable service runs the new digest');
    assert.deepEqual(await env.serverWeights(), { stable: 100, canary: 0 });
    assert.deepEqual(await env.containersOf('api-canary'), [], 'api-canary is removed');
    assert.equal((await readOverride(overrideFileOf(env.target))).services['api-canary'], undefined);
    assert.equal(await versionThroughHaproxy(), '200 v2');
  });

  test('the rollback update inside the window switches back to the stable version, verified; api-canary removed', async () => {
    // The stable service runs v2 now; v1 goes out as the new version and is rolled back.
    const handle = await deploy(TEST_API_IMAGES.v1, 120);
    await until('the switch to api-canary', async () => (await env.canaryWeight()) === 100);
    assert.equal(await versionThroughHaproxy(), '200 v1');
    const started = Date.now();
    const answer = await requestRollback(temporal.client, handle.workflowId);
    assert.ok(answer.accepted, JSON.stringify(answer));
    assert.equal(answer.result.ok, true, answer.result.evidence);
    assert.equal(answer.result.verified, true, answer.result.evidence);
    const report = (await handle.result()) as DeployReport;
    assert.ok(Date.now() - started < 30_000, 'the rollback did not wait for the 120 s window');

    assert.equal(report.outcome, 'rolled back', JSON.stringify(report));
    assert.ok(report.blueGreen?.rolledBackAt);
    assert.deepEqual(await env.serverWeights(), { stable: 100, canary: 0 });
    assert.equal(await versionThroughHaproxy(), '200 v2', 'traffic is back on the stable version');
    assert.equal(await stableImageId(), await imageIdOf(TEST_API_IMAGES.v2), 'the stable service was never touched');
    assert.deepEqual(await env.containersOf('api-canary'), [], 'api-canary is removed');
    const again = await requestRollback(temporal.client, handle.workflowId);
    assert.equal(again.accepted, false);
  });
});
