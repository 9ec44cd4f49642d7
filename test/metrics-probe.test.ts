// The probe metric: ragops' own traffic to a canary (and the stable version for comparison),
// against the loopback metrics app: 20 % errors measure ~0.2 with p50/p95 reported, slow or
// wrong answers count as errors, the stable figures are compared in the detail, a header
// secret authenticates without reaching the detail, a dead canary is inconclusive for a
// latency measure, and the probe heartbeats while it runs.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createMetricsActivities, type Measurement, type MetricContext } from '../src/activities/metrics/index.js';
import { percentile, summarizeProbe } from '../src/activities/metrics/probe.js';
import { metricSchema, type MetricConfig, type MetricConfigInput } from '../src/config/stacks/metrics.js';
import { startMetricsApp, type MetricsApp } from './support/metrics-app.js';

const context: MetricContext = { service: 'api', canary: 'canary', stable: 'stable', interval: '1m' };
const { measureMetric } = createMetricsActivities();

function environment(): MockActivityEnvironment {
  return new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
}
const measure = (metric: MetricConfigInput, env = environment()): Promise<Measurement> =>
  env.run(measureMetric, { metric: metricSchema.parse(metric) as MetricConfig, context }) as Promise<Measurement>;

describe('probe arithmetic', () => {
  test('nearest-rank percentiles and the error rate over every request sent', () => {
    assert.equal(percentile([], 95), null);
    assert.equal(percentile([5], 50), 5);
    const sorted = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 50), 10);
    assert.equal(percentile(sorted, 95), 19);
    const summary = summarizeProbe([{ latencyMs: 3 }, { latencyMs: 9, error: 'status 500' }, { error: 'no answer (ECONNREFUSED)' }, { latencyMs: 1 }]);
    assert.deepEqual(
      { requests: summary.requests, answered: summary.answered, errors: summary.errors, errorRate: summary.errorRate, p50: summary.p50, p95: summary.p95 },
      { requests: 4, answered: 3, errors: 2, errorRate: 0.5, p50: 3, p95: 9 },
    );
  });
});

describe('measureMetric with the probe provider', { timeout: 60_000 }, () => {
  let canary: MetricsApp;
  let stable: MetricsApp;
  const probe = (extra: Record<string, unknown>): MetricConfigInput => ({
    name: 'probe',
    provider: { type: 'probe', url: canary.url('/search'), measure: 'errorRate', ...extra } as MetricConfigInput['provider'],
    thresholdRange: { max: 0.05 },
  });

  before(async () => {
    [canary, stable] = await Promise.all([startMetricsApp({ version: 'canary', errorRate: 0.2 }), startMetricsApp({ version: 'stable' })]);
  });
  after(async () => {
    await Promise.all([canary?.stop(), stable?.stop()]);
  });

  test('a canary serving 20 % errors: errorRate ~0.2, failed, p50 and p95 reported, stable compared', async () => {
    const measurement = await measure(probe({ requests: 50, concurrency: 8, stableUrl: stable.url('/search') }));
    assert.equal(measurement.outcome, 'failed', measurement.detail);
    assert.ok(measurement.value !== null && Math.abs(measurement.value - 0.2) <= 0.1, `~0.2, got ${measurement.value}`);
    assert.equal(measurement.samples, 50);
    assert.match(measurement.detail, /canary http:\/\/127\.0\.0\.1:\d+\/search: 50 requests, \d+ errors \([\d.]+ %: status 500 ×\d+\), p50 [\d.]+ ms, p95 [\d.]+ ms/);
    assert.match(measurement.detail, /stable http:\/\/127\.0\.0\.1:\d+\/search: 50 requests, 0 errors \(0 %\)/);
    assert.match(measurement.detail, /errorRate canary 0\.\d+ vs stable 0/);
    assert.equal(stable.counts()['200'], 50, 'the stable one got its 50 requests');
  });

  test('a healthy version passes; the p95 measure is a latency in ms, over the budget is an error', async () => {
    const healthy = await measure({ ...probe({ url: stable.url('/'), requests: 10 }) });
    assert.equal(healthy.outcome, 'passed', healthy.detail);
    assert.equal(healthy.value, 0);

    stable.setLatency(40);
    try {
      const p95 = await measure({ name: 'p95', provider: { type: 'probe', url: stable.url('/'), requests: 10, measure: 'p95' }, thresholdRange: { max: 20 } });
      assert.equal(p95.outcome, 'failed', p95.detail);
      assert.ok(p95.value !== null && p95.value >= 40, `p95 at least the 40 ms delay, got ${p95.value}`);
      const slow = await measure(probe({ url: stable.url('/'), requests: 10, latencyBudgetMs: 20 }));
      assert.equal(slow.value, 1, 'every answer over the budget is an error');
      assert.match(slow.detail, /over the 20 ms budget ×10/);
    } finally {
      stable.setLatency(0);
    }
  });

  test('a missing body text counts as an error', async () => {
    const measurement = await measure(probe({ url: stable.url('/'), requests: 5, bodyIncludes: 'results' }));
    assert.equal(measurement.value, 1);
    assert.match(measurement.detail, /body without the expected text ×5/);
  });

  test('a header from a secret reference is sent, never shown; a dead canary is inconclusive for latency', async () => {
    const token = 'probe-token-5f1e2d3c4b5a';
    process.env.TEST_PROBE_TOKEN = token;
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(request.headers['x-api-key'] === token ? 200 : 401).end(`you sent ${String(request.headers['x-api-key'])}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const measurement = await measure(probe({ url: `http://127.0.0.1:${port}/search?key=abc`, requests: 4, headers: { 'X-Api-Key': { env: 'TEST_PROBE_TOKEN' } } }));
      assert.equal(measurement.outcome, 'passed', measurement.detail);
      assert.equal(seen.length, 4);
      assert.ok(!JSON.stringify(measurement).includes(token), 'the secret stays out of the measurement');
      assert.ok(!measurement.detail.includes('key=abc'), 'the query string is redacted');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // A port nothing listens on (a fresh one: the closed server's kept-alive sockets would fail differently).
    const deadPort = await new Promise<number>((resolve) => {
      const probeServer = createServer().listen(0, '127.0.0.1', () => {
        const free = (probeServer.address() as AddressInfo).port;
        probeServer.close(() => resolve(free));
      });
    });
    const dead = await measure({ name: 'p50', provider: { type: 'probe', url: `http://127.0.0.1:${deadPort}/`, requests: 3, measure: 'p50' }, thresholdRange: { max: 100 } });
    assert.equal(dead.outcome, 'inconclusive', dead.detail);
    assert.match(dead.detail, /no request to .* was answered/);
    assert.match(dead.detail, /no answer \(ECONNREFUSED\) ×3/);
  });

  test('a long probe heartbeats while it runs', async () => {
    canary.setLatency(300);
    try {
      const env = environment();
      const beats: unknown[] = [];
      env.on('heartbeat', (details: unknown) => beats.push(details));
      const measurement = await measure(probe({ requests: 12, concurrency: 1 }), env);
      assert.equal(measurement.samples, 12);
      assert.ok(beats.length >= 2, `heartbeats during a ~3.6 s probe: ${JSON.stringify(beats)}`);
      assert.ok(beats.some((beat) => typeof (beat as { sent?: number }).sent === 'number'), 'progress figures in the heartbeats');
    } finally {
      canary.setLatency(0);
    }
  });
});
