// The caddy traffic shifter against a real Caddy (.venv/bin/caddy) started by the test: the
// weights go through its admin API into the reverse_proxy handler's weighted_round_robin
// policy, are visible in its config, and split real requests to two loopback versions. Plus
// the pure handler builders, and what happens on a wrong @id, a concurrent config change, and
// a dead admin endpoint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { caddyDriver, caddyHandlerHas, caddyHandlerUrl, caddyShareOf, caddyWeightedHandler } from '../src/activities/traffic/caddy.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { trafficShifterSchema, type CaddyShifter, type TrafficShifter } from '../src/config/stacks/traffic.js';
import { startCaddy, type TestCaddy } from './support/caddy.js';
import { failureOf, trafficRunner } from './support/traffic.js';
import { canaryPercent, sendThrough, startWeightedBackends, type WeightedBackends } from './support/weighted-backends.js';

const { set, read } = trafficRunner();

describe('caddy shifter: handler builders (pure)', () => {
  const shifter = { adminUrl: 'http://127.0.0.1:2019/', routeId: 'api-proxy', stable: '10.0.0.1:8080', canary: '10.0.0.2:8080' };

  test('the admin URL of the handler', () => {
    assert.equal(caddyHandlerUrl(shifter), 'http://127.0.0.1:2019/id/api-proxy');
  });

  test('upstreams [stable, canary] and weighted_round_robin [100 - w, w]; other settings kept', () => {
    const handler = {
      '@id': 'api-proxy',
      handler: 'reverse_proxy',
      upstreams: [{ dial: '10.0.0.1:8080', max_requests: 100 }],
      load_balancing: { retries: 2, selection_policy: { policy: 'round_robin' } },
      transport: { protocol: 'http' },
    };
    assert.deepEqual(caddyWeightedHandler(handler, shifter, 10), {
      '@id': 'api-proxy',
      handler: 'reverse_proxy',
      upstreams: [{ dial: '10.0.0.1:8080', max_requests: 100 }, { dial: '10.0.0.2:8080' }],
      load_balancing: { retries: 2, selection_policy: { policy: 'weighted_round_robin', weights: [90, 10] } },
      transport: { protocol: 'http' },
    });
    const weighted = caddyWeightedHandler(handler, shifter, 10);
    assert.equal(caddyHandlerHas(weighted, shifter, 10), true);
    assert.equal(caddyHandlerHas(weighted, shifter, 11), false);
    assert.equal(caddyHandlerHas(handler, shifter, 10), false);
  });

  test('reading the share: by weight, by presence, or null with the reason', () => {
    const withWeights = (weights: number[], dials = ['10.0.0.1:8080', '10.0.0.2:8080']) => ({ handler: 'reverse_proxy', upstreams: dials.map((dial) => ({ dial })), load_balancing: { selection_policy: { policy: 'weighted_round_robin', weights } } });
    assert.equal(caddyShareOf(withWeights([75, 25]), shifter).weight, 25);
    assert.equal(caddyShareOf(withWeights([1, 3]), shifter).weight, 75);
    assert.equal(caddyShareOf(withWeights([25, 75], ['10.0.0.2:8080', '10.0.0.1:8080']), shifter).weight, 25, 'found by dial, not by position');
    assert.equal(caddyShareOf({ handler: 'reverse_proxy', upstreams: [{ dial: '10.0.0.1:8080' }] }, shifter).weight, 0);
    assert.equal(caddyShareOf({ handler: 'reverse_proxy', upstreams: [{ dial: '10.0.0.2:8080' }] }, shifter).weight, 100);
    const unweighted = caddyShareOf({ handler: 'reverse_proxy', upstreams: [{ dial: '10.0.0.1:8080' }, { dial: '10.0.0.2:8080' }] }, shifter);
    assert.equal(unweighted.weight, null);
    assert.match(unweighted.detail, /does not split by weight/);
    assert.equal(caddyShareOf(withWeights([50, 25, 25], ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']), shifter).weight, null);
  });

  test('the schema: host:port upstreams, an @id without path characters, strict', () => {
    const base = { type: 'caddy', adminUrl: 'http://127.0.0.1:2019', routeId: 'api-proxy', stable: 'api:8080', canary: 'api-canary:8080' };
    assert.ok(trafficShifterSchema.safeParse(base).success);
    assert.ok(trafficShifterSchema.safeParse({ ...base, stable: '[::1]:8080' }).success);
    for (const bad of [{ routeId: '../config' }, { routeId: 'a/b' }, { stable: 'api' }, { canary: 'api:8080' }, { adminUrl: 'unix:///run/caddy.sock' }, { weights: [1, 2] }]) {
      assert.equal(trafficShifterSchema.safeParse({ ...base, ...bad }).success, false, JSON.stringify(bad));
    }
  });
});

describe('caddy shifter: a real Caddy', () => {
  let backends: WeightedBackends;
  let caddy: TestCaddy;
  let shifter: TrafficShifter;

  before(async () => {
    backends = await startWeightedBackends();
    caddy = await startCaddy({ upstreams: [backends.stable] });
    shifter = trafficShifterSchema.parse({ type: 'caddy', adminUrl: caddy.adminUrl, routeId: caddy.routeId, stable: backends.stable, canary: backends.canary });
  });
  after(async () => {
    await caddy?.stop();
    await backends?.stop();
  });

  test('before any change: the canary is not an upstream, so its share is 0', async () => {
    const reading = await read(shifter);
    assert.equal(reading.weight, 0, reading.detail);
  });

  test("10, 50, 100, 0 %: in Caddy's config, read back, and the canary share of 200 real requests (±10 points)", async () => {
    for (const weight of [10, 50, 100, 0]) {
      const result = await set(shifter, weight);
      assert.equal(result.weight, weight, result.detail);
      const handler = await caddy.handler();
      assert.deepEqual(handler.upstreams, [{ dial: backends.stable }, { dial: backends.canary }]);
      assert.deepEqual((handler.load_balancing as { selection_policy: unknown }).selection_policy, { policy: 'weighted_round_robin', weights: [100 - weight, weight] });
      assert.equal((await read(shifter)).weight, weight);
      const tally = await sendThrough(caddy.url, 200);
      assert.deepEqual(tally.other, [], 'every request answered by one of the two versions');
      const share = canaryPercent(tally);
      assert.ok(Math.abs(share - weight) <= 10, `at ${weight} % the canary answered ${share.toFixed(1)} % (${tally.canary}/${tally.stable + tally.canary})`);
    }
  });

  test('setting the weight in force again writes nothing', async () => {
    await set(shifter, 30);
    const before = await fetch(`${caddy.adminUrl}/id/${caddy.routeId}`, { headers: { origin: caddy.adminUrl } });
    const again = await set(shifter, 30);
    const after = await fetch(`${caddy.adminUrl}/id/${caddy.routeId}`, { headers: { origin: caddy.adminUrl } });
    assert.equal(again.weight, 30);
    assert.match(again.detail, /already in force/);
    assert.equal(after.headers.get('etag'), before.headers.get('etag'), 'the config is unchanged');
  });

  test('a change made by someone else between read and write is not overwritten: If-Match refuses the write, which is redone on the new config', async () => {
    // The driver beats just before its PATCH: there, another writer (a separate process, run to
    // completion synchronously) changes the handler's transport. Caddy answers the PATCH 412,
    // the driver reads again and writes again; both changes survive.
    const beats: Record<string, unknown>[] = [];
    const ctx = {
      signal: new AbortController().signal,
      beat(details: Record<string, unknown>) {
        beats.push(details);
        if (beats.length > 1) return;
        const script = `fetch(process.argv[1], { method: 'PUT', headers: { 'content-type': 'application/json', origin: process.argv[2] }, body: JSON.stringify({ protocol: 'http', dial_timeout: 3000000000 }) }).then(async (r) => { if (!r.ok) { console.error(r.status, await r.text()); process.exit(1); } })`;
        const other = spawnSync(process.execPath, ['-e', script, `${caddy.adminUrl}/id/${caddy.routeId}/transport`, caddy.adminUrl], { encoding: 'utf8', timeout: 10_000 });
        assert.equal(other.status, 0, other.stderr);
      },
    };
    const result = await caddyDriver.set(shifter as CaddyShifter, 40, ctx);
    assert.equal(result.weight, 40, result.detail);
    assert.deepEqual(beats.map((b) => b.attempt), [1, 2], 'the first write was refused and redone');
    const handler = await caddy.handler();
    assert.deepEqual(handler.transport, { protocol: 'http', dial_timeout: 3_000_000_000 });
    assert.deepEqual((handler.load_balancing as { selection_policy: unknown }).selection_policy, { policy: 'weighted_round_robin', weights: [60, 40] });
  });

  test('an @id that is not in the config fails at once with a ConfigError', async () => {
    const failure = await failureOf(set({ ...shifter, routeId: 'no-such-route' } as TrafficShifter, 10));
    assert.equal(failure.type, 'ConfigError');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /no-such-route/);
  });

  test('an admin endpoint where nothing listens fails retryable', async () => {
    const port = await findFreePort();
    const failure = await failureOf(set({ ...shifter, adminUrl: `http://127.0.0.1:${port}` } as TrafficShifter, 10));
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  });
});
