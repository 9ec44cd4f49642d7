// Canary metrics from a real Prometheus (Debian's, started here on a free loopback port,
// scraping the test applications every second): a canary serving 20 % errors measures ~0.2
// and fails a 5 % threshold, a healthy one passes, a canary with no traffic (no series) and
// one below minRequests are inconclusive — never passed —, a bad query is a ConfigError
// naming it, an unreachable Prometheus a retryable error. Also the pure parts: the judge, the
// query templating (no injection into label matchers) and the schema.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMetricsActivities, judgeMeasurement, type Measurement, type MetricContext } from '../src/activities/metrics/index.js';
import { prometheusAuthorization } from '../src/activities/metrics/prometheus.js';
import { renderQuery } from '../src/activities/metrics/template.js';
import { metricSchema, type MetricConfig, type MetricConfigInput } from '../src/config/stacks/metrics.js';
import { startMetricsApp, startTraffic, type MetricsApp, type Traffic } from './support/metrics-app.js';
import { startPrometheus, type TestPrometheus } from './support/prometheus.js';
import { failureOf } from './support/failures.js';

const ERROR_RATE =
  '(sum(increase(http_requests_total{service="{{service}}",version="{{canary}}",code=~"5.."}[{{interval}}])) or vector(0))' +
  ' / sum(increase(http_requests_total{service="{{service}}",version="{{canary}}"}[{{interval}}]))';
const REQUESTS = 'sum(increase(http_requests_total{service="{{service}}",version="{{canary}}"}[{{interval}}]))';

const context = (service: string): MetricContext => ({ service, canary: 'canary', stable: 'stable', interval: '10s' });


describe('judgeMeasurement', () => {
  const metric = { name: 'error-rate', thresholdRange: { max: 0.05 } };
  const at = new Date('2026-12-06T06:00:00Z');

  test('inside the range passes, outside fails, with the value and range in the detail', () => {
    assert.deepEqual(judgeMeasurement(metric, { value: 0.01, samples: 120 }, at), {
      metric: 'error-rate',
      value: 0.01,
      samples: 120,
      outcome: 'passed',
      detail: 'passed: 0.01 is within <= 0.05',
      at: '2026-12-06T06:00:00.000Z',
    });
    const failed = judgeMeasurement(metric, { value: 0.2, samples: 120 }, at);
    assert.equal(failed.outcome, 'failed');
    assert.match(failed.detail, /0\.2 is outside <= 0\.05/);
    assert.equal(judgeMeasurement({ ...metric, thresholdRange: { min: 1, max: 2 } }, { value: 0.5, samples: 1 }, at).outcome, 'failed');
    assert.equal(judgeMeasurement({ ...metric, thresholdRange: { min: 1 } }, { value: 1, samples: 1 }, at).outcome, 'passed');
  });

  test('no value, NaN, Inf, too few samples or requests are inconclusive with the reason — even when the value is bad', () => {
    const none = judgeMeasurement(metric, { value: null, samples: 0, missing: 'the query returned no series' }, at);
    assert.equal(none.outcome, 'inconclusive');
    assert.match(none.detail, /no series/);
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const odd = judgeMeasurement(metric, { value, samples: 1 }, at);
      assert.equal(odd.outcome, 'inconclusive');
      assert.equal(odd.value, null, 'NaN / Inf are not recorded as values (JSON cannot carry them)');
    }
    const few = judgeMeasurement({ ...metric, minSamples: 50 }, { value: 0.5, samples: 3 }, at);
    assert.equal(few.outcome, 'inconclusive');
    assert.match(few.detail, /3 samples, fewer than minSamples 50/);
    const unknown = judgeMeasurement({ ...metric, minSamples: 50 }, { value: 0.01, samples: null }, at);
    assert.equal(unknown.outcome, 'inconclusive');
    const requests = judgeMeasurement(metric, { value: 0.5, samples: 7, requests: { count: 7, minimum: 100 } }, at);
    assert.equal(requests.outcome, 'inconclusive');
    assert.match(requests.detail, /7 requests, fewer than minRequests 100/);
    assert.equal(judgeMeasurement(metric, { value: 0.01, samples: null, requests: { count: null, minimum: 1 } }, at).outcome, 'inconclusive');
  });
});

describe('query templating and the schema', () => {
  test('placeholders take safe values; quotes, braces and spaces are refused, not escaped into the query', () => {
    assert.equal(
      renderQuery('x{service="{{service}}",version=~"{{canary}}|{{stable}}"}[{{ interval }}]', { service: 'api', canary: 'registry/api@sha256:ab12', stable: '1.4.2', interval: '1m' }),
      'x{service="api",version=~"registry/api@sha256:ab12|1.4.2"}[1m]',
    );
    for (const canary of ['x"} or vector(1) or x{a="', 'a b', 'a\\"', '']) {
      assert.throws(() => renderQuery('x{version="{{canary}}"}', { ...context('api'), canary }), (error: ApplicationFailure) => error.type === 'InvalidInput' && error.nonRetryable === true && /\{\{canary\}\}/.test(error.message));
    }
  });

  test('the schema: defaults, at least one bound, known placeholders only, minRequests with its query', () => {
    const parsed = metricSchema.parse({ name: 'error-rate', provider: { type: 'prometheus', url: 'http://prom:9090', query: ERROR_RATE }, thresholdRange: { max: 0.05 } });
    assert.equal(parsed.failureLimit, 0);
    assert.equal(parsed.inconclusiveLimit, 1);
    const bad = (input: unknown, message: RegExp) => {
      const result = metricSchema.safeParse(input);
      assert.equal(result.success, false);
      assert.match(JSON.stringify(result.error!.issues), message);
    };
    const base = { name: 'm', provider: { type: 'prometheus', url: 'http://prom:9090', query: 'up' }, thresholdRange: { max: 1 } };
    bad({ ...base, thresholdRange: {} }, /give min, max or both/);
    bad({ ...base, thresholdRange: { min: 2, max: 1 } }, /min is above max/);
    bad({ ...base, provider: { ...base.provider, query: 'x{a="{{version}}"}' } }, /unknown placeholder \{\{version\}\}/);
    bad({ ...base, provider: { ...base.provider, minRequests: 10 } }, /minRequestsQuery and minRequests go together/);
    bad({ ...base, provider: { ...base.provider, auth: { bearer: 'plain-token' } } }, /auth/);
    bad({ ...base, provider: { type: 'http-json', url: 'http://x/stats', path: 'a..b' } }, /a path like/);
    bad({ ...base, minSamples: 5, provider: { type: 'http-json', url: 'http://x/stats', path: 'a.b' } }, /samplesPath/);
    bad({ ...base, provider: { type: 'probe', url: 'http://x/', measure: 'p99' } }, /measure/);
    const probe = metricSchema.parse({ ...base, provider: { type: 'probe', url: 'http://x/', measure: 'errorRate' } });
    assert.deepEqual(probe.provider, { type: 'probe', url: 'http://x/', requests: 20, concurrency: 5, expectStatus: 200, timeoutMs: 10_000, measure: 'errorRate' });
  });

  test('Prometheus credentials are read from their references inside the activity', async () => {
    process.env.TEST_PROM_TOKEN = 'prom-token-0123456789';
    process.env.TEST_PROM_PASSWORD = 's3cret-pass';
    assert.deepEqual(await prometheusAuthorization({ bearer: { env: 'TEST_PROM_TOKEN' } }), { headers: { authorization: 'Bearer prom-token-0123456789' }, secrets: ['prom-token-0123456789'] });
    const basic = await prometheusAuthorization({ username: 'ops', password: { env: 'TEST_PROM_PASSWORD' } });
    assert.equal(basic.headers.authorization, `Basic ${Buffer.from('ops:s3cret-pass').toString('base64')}`);
    const missing = await failureOf(prometheusAuthorization({ bearer: { env: 'TEST_PROM_UNSET_TOKEN' } }));
    assert.equal(missing.type, 'ConfigError');
    assert.match(missing.message, /TEST_PROM_UNSET_TOKEN is not set/);
  });
});

describe('measureMetric against a real Prometheus', { timeout: 60_000 }, () => {
  const apps: MetricsApp[] = [];
  const traffic: Traffic[] = [];
  let prometheus: TestPrometheus;
  const { measureMetric } = createMetricsActivities();
  const measure = (metric: MetricConfigInput, service: string): Promise<Measurement> =>
    new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(measureMetric, { metric: metricSchema.parse(metric) as MetricConfig, context: context(service) }) as Promise<Measurement>;
  const errorRate = (extra: Partial<MetricConfigInput['provider']> = {}): MetricConfigInput => ({
    name: 'error-rate',
    provider: { type: 'prometheus', url: prometheus.url, query: ERROR_RATE, ...extra } as MetricConfigInput['provider'],
    thresholdRange: { max: 0.05 },
  });

  before(async () => {
    // api-bad: stable healthy, canary 20 % errors; api-good: a healthy canary; api-idle: stable only, its canary gets nothing.
    const layout = [
      { service: 'api-bad', version: 'stable', errorRate: 0, traffic: true },
      { service: 'api-bad', version: 'canary', errorRate: 0.2, traffic: true },
      { service: 'api-good', version: 'canary', errorRate: 0, traffic: true },
      { service: 'api-idle', version: 'stable', errorRate: 0, traffic: true },
      { service: 'api-idle', version: 'canary', errorRate: 0, traffic: false },
    ];
    const started = await Promise.all(layout.map((entry) => startMetricsApp({ version: entry.version, errorRate: entry.errorRate })));
    apps.push(...started);
    prometheus = await startPrometheus(layout.map((entry, index) => ({ address: started[index]!.address, labels: { service: entry.service } })));
    layout.forEach((entry, index) => entry.traffic && traffic.push(startTraffic(started[index]!.url('/search'), 40)));
    // Enough scrapes for a 10 s window on both versions with traffic.
    for (const service of ['api-bad', 'api-good']) {
      await prometheus.waitFor(`sum(count_over_time(http_requests_total{service="${service}",version="canary",code="200"}[10s]))`, (value) => (value ?? 0) >= 6, 30_000);
    }
  });

  after(async () => {
    await Promise.all(traffic.map((t) => t.stop()));
    await prometheus?.stop();
    await Promise.all(apps.map((app) => app.stop()));
  });

  test('a canary serving 20 % errors measures ~0.2 and fails a 5 % threshold', async () => {
    const measurement = await measure(errorRate(), 'api-bad');
    assert.equal(measurement.outcome, 'failed', measurement.detail);
    assert.ok(measurement.value !== null && Math.abs(measurement.value - 0.2) <= 0.05, `~0.2, got ${measurement.value}`);
    assert.equal(measurement.samples, 1, 'one series');
    assert.match(measurement.detail, /is outside <= 0\.05/);
    assert.ok(!Number.isNaN(Date.parse(measurement.at)));
  });

  test('a healthy canary passes, and with enough requests counted says how many', async () => {
    const measurement = await measure({ ...errorRate({ minRequestsQuery: REQUESTS, minRequests: 20 }) }, 'api-good');
    assert.equal(measurement.outcome, 'passed', measurement.detail);
    assert.equal(measurement.value, 0);
    assert.ok((measurement.samples ?? 0) >= 20, `requests counted: ${measurement.samples}`);
    assert.match(measurement.detail, /requests counted/);
  });

  test('no traffic to the canary: no series, inconclusive — not passed', async () => {
    const measurement = await measure(errorRate(), 'api-idle');
    assert.equal(measurement.outcome, 'inconclusive', measurement.detail);
    assert.equal(measurement.value, null);
    assert.match(measurement.detail, /no series/);
  });

  test('fewer requests than minRequests: inconclusive, even for a bad value', async () => {
    const measurement = await measure(errorRate({ minRequestsQuery: REQUESTS, minRequests: 1_000_000 }), 'api-bad');
    assert.equal(measurement.outcome, 'inconclusive', measurement.detail);
    assert.match(measurement.detail, /fewer than minRequests 1000000/);
  });

  test('a bad PromQL query is a non-retryable ConfigError naming the query', async () => {
    const query = 'sum(rate(http_requests_total{service="{{service}}"}[{{interval}}])';
    const failure = await failureOf(measure({ ...errorRate(), provider: { type: 'prometheus', url: prometheus.url, query } }, 'api-bad'));
    assert.equal(failure.type, 'ConfigError');
    assert.equal(failure.nonRetryable, true);
    assert.ok(failure.message.includes('sum(rate(http_requests_total{service="api-bad"}[10s])'), failure.message);
  });

  test('a query giving several series is inconclusive and says to aggregate; a range vector is a ConfigError', async () => {
    const several = await measure({ ...errorRate(), provider: { type: 'prometheus', url: prometheus.url, query: 'http_requests_total{service="{{service}}"}' } }, 'api-bad');
    assert.equal(several.outcome, 'inconclusive');
    assert.match(several.detail, /series.*aggregate/);
    const range = await failureOf(measure({ ...errorRate(), provider: { type: 'prometheus', url: prometheus.url, query: 'http_requests_total{service="{{service}}"}[{{interval}}]' } }, 'api-bad'));
    assert.equal(range.type, 'ConfigError');
    assert.match(range.message, /returned a matrix/);
  });

  test('Prometheus unreachable: a retryable error', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const failure = await failureOf(measure({ ...errorRate(), provider: { type: 'prometheus', url: `http://127.0.0.1:${port}/`, query: 'up' } }, 'api-bad'));
    assert.equal(failure.type, 'MetricsUnavailable');
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /cannot be reached \(connect ECONNREFUSED/);
  });
});
