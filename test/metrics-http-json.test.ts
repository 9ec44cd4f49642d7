// The http-json metric: GET a URL and read a number at a path, against the loopback metrics
// app's /stats (behind a token header from the environment): the nested number is measured
// and judged, the token authenticates yet never reaches the detail or an error, and what
// cannot be read — nothing at the path, not a number, not JSON — is inconclusive, not passed.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { numberAt, parseJsonPath } from '../src/activities/metrics/httpJson.js';
import { createMetricsActivities, type Measurement } from '../src/activities/metrics/index.js';
import { metricSchema, type MetricConfig, type MetricConfigInput } from '../src/config/stacks/metrics.js';
import { startMetricsApp, type MetricsApp } from './support/metrics-app.js';
import { failureOf } from './support/failures.js';

const TOKEN = 'stats-token-8c1d0a7e6f5b4a39';
const ENV = 'TEST_STATS_TOKEN';
const { measureMetric } = createMetricsActivities();

const measure = (metric: MetricConfigInput): Promise<Measurement> =>
  new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(measureMetric, {
    metric: metricSchema.parse(metric) as MetricConfig,
    context: { service: 'api', canary: 'canary', stable: 'stable', interval: '1m' },
  }) as Promise<Measurement>;


describe('JSON paths', () => {
  test('a.b[0].c, $-rooted and quoted names; what is missing is named', () => {
    assert.deepEqual(parseJsonPath('a.b[0].c'), ['a', 'b', 0, 'c']);
    assert.deepEqual(parseJsonPath('$.data["x.y"][2]'), ['data', 'x.y', 2]);
    const document = { a: { b: [{ c: 0.25 }, { c: '0.5' }, { c: 'high' }, { c: null }] } };
    assert.deepEqual(numberAt(document, 'a.b[0].c'), { value: 0.25 });
    assert.deepEqual(numberAt(document, 'a.b[1].c'), { value: 0.5 });
    assert.deepEqual(numberAt(document, 'a.b[2].c'), { value: null, why: 'a.b[2].c holds a string, not a number' });
    assert.deepEqual(numberAt(document, 'a.b[3].c'), { value: null, why: 'a.b[3].c holds null, not a number' });
    assert.deepEqual(numberAt(document, 'a.b[9].c'), { value: null, why: 'nothing at $.a.b[9]' });
    assert.deepEqual(numberAt(document, 'a.x.c'), { value: null, why: 'nothing at $.a.x' });
    assert.ok(Number.isNaN(numberAt({ v: 'NaN' }, 'v').value));
  });
});

describe('measureMetric with the http-json provider', { timeout: 60_000 }, () => {
  let app: MetricsApp;
  let echo: Server;
  let echoUrl: string;
  const stats = (extra: Record<string, unknown> = {}): MetricConfigInput => ({
    name: 'stats-error-rate',
    provider: { type: 'http-json', url: app.url('/stats'), path: 'windows[0].errorRate', headers: { 'X-Stats-Token': { env: ENV } }, ...extra } as MetricConfigInput['provider'],
    thresholdRange: { max: 0.05 },
  });

  before(async () => {
    process.env[ENV] = TOKEN;
    app = await startMetricsApp({ version: 'canary', errorRate: 0.25, statsToken: TOKEN });
    for (let i = 0; i < 8; i += 1) await (await fetch(app.url('/search'))).text();
    // A careless endpoint that answers with the token it was sent, in HTML or in the error status.
    echo = createServer((request, response) => {
      const sent = String(request.headers['x-stats-token']);
      if (request.url === '/html') return void response.writeHead(200).end(`${sent}<html>`);
      if (request.url === '/broken') return void response.writeHead(503).end(`overloaded, token ${sent}`);
      response.writeHead(403).end(`denied ${sent}`);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app?.stop();
    await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  });

  test('reads the nested number with the header from the environment; the token is never in the detail', async () => {
    const measurement = await measure(stats({ samplesPath: 'requests.total' }));
    assert.equal(measurement.outcome, 'failed', measurement.detail);
    assert.equal(measurement.value, 0.25);
    assert.equal(measurement.samples, 8);
    assert.match(measurement.detail, /0\.25 is outside <= 0\.05/);
    assert.ok(!JSON.stringify(measurement).includes(TOKEN));

    const count = await measure({ ...stats({ path: 'requests.byCode[0].count' }), thresholdRange: { min: 1 } });
    assert.equal(count.outcome, 'passed', count.detail);
    assert.equal(count.value, 6);
  });

  test('too few samples, nothing at the path, or a string there: inconclusive with the reason', async () => {
    const few = await measure({ ...stats({ samplesPath: 'requests.total' }), minSamples: 100 });
    assert.equal(few.outcome, 'inconclusive');
    assert.match(few.detail, /8 samples, fewer than minSamples 100/);
    const missing = await measure(stats({ path: 'windows[3].errorRate' }));
    assert.equal(missing.outcome, 'inconclusive');
    assert.match(missing.detail, /nothing at \$\.windows\[3\] in the answer of http:\/\/127\.0\.0\.1:\d+\/stats/);
    const text = await measure(stats({ path: 'version' }));
    assert.equal(text.outcome, 'inconclusive');
    assert.match(text.detail, /version holds a string, not a number/);
  });

  test('an answer that is not JSON is inconclusive, and an echoed token is scrubbed from what is shown', async () => {
    const html = await measure(stats({ url: `${echoUrl}/html` }));
    assert.equal(html.outcome, 'inconclusive');
    assert.match(html.detail, /did not answer JSON/);
    assert.ok(!html.detail.includes(TOKEN), html.detail);
    assert.match(html.detail, /\[redacted\]/);
  });

  test('refused credentials are a ConfigError, a 5xx retries, a missing secret fails at once — none quoting the token', async () => {
    const denied = await failureOf(measure(stats({ url: `${echoUrl}/denied` })));
    assert.equal(denied.type, 'ConfigError');
    assert.equal(denied.nonRetryable, true);
    assert.match(denied.message, /HTTP 403.*check the metric's headers/);
    const broken = await failureOf(measure(stats({ url: `${echoUrl}/broken` })));
    assert.equal(broken.type, 'MetricsUnavailable');
    assert.equal(broken.nonRetryable, false);
    for (const failure of [denied, broken]) assert.ok(!failure.message.includes(TOKEN), failure.message);

    const unauthenticated = await failureOf(measure(stats({ headers: { 'X-Stats-Token': { env: 'TEST_STATS_TOKEN_UNSET' } } })));
    assert.equal(unauthenticated.type, 'ConfigError');
    assert.match(unauthenticated.message, /header X-Stats-Token cannot be sent: environment variable TEST_STATS_TOKEN_UNSET is not set/);
  });

  test('a metric as written (defaults applied by the activity) works; an invalid one is InvalidInput', async () => {
    const env = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const context = { service: 'api', canary: 'canary', stable: 'stable', interval: '1m' };
    const raw = { name: 'raw', provider: { type: 'http-json' as const, url: app.url('/stats'), path: 'requests.total', headers: { 'X-Stats-Token': { env: ENV } } }, thresholdRange: { min: 1 } };
    const measured = (await env().run(measureMetric, { metric: raw, context })) as Measurement;
    assert.equal(measured.outcome, 'passed', measured.detail);
    const invalid = await failureOf(env().run(measureMetric, { metric: { ...raw, thresholdRange: {} }, context }));
    assert.equal(invalid.type, 'InvalidInput');
    assert.match(invalid.message, /metric "raw" is not valid: thresholdRange: give min, max or both/);
  });
});
