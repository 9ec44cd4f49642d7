// The http traffic shifter against an application's own admin endpoint on loopback: the body
// carries the weight, a header from a secret reference authenticates it and its value never
// appears in a detail or an error (even when the endpoint echoes it), the share is read back
// when the shifter has a readUrl and said to be unreadable when it has none. Plus the pure
// request builders and the schema's refusals.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { httpWeightRequest, shareFrom, valueAtPath } from '../src/activities/traffic/http.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { renderWeightBody, trafficShifterSchema, type TrafficShifter } from '../src/config/stacks/traffic.js';
import { startCanaryAdmin, type CanaryAdmin } from './support/canary-admin.js';
import { failureOf, trafficRunner } from './support/traffic.js';

const TOKEN = `adm-${randomBytes(16).toString('hex')}`;
const ENV = 'TEST_CANARY_ADMIN_TOKEN';
const { set, read } = trafficRunner();

describe('http shifter: request builders (pure)', () => {
  test('the body template with the weight, JSON content-type unless the shifter sets one', () => {
    assert.equal(renderWeightBody('{"canary_weight": {{weight}}, "also": {{weight}}}', 25), '{"canary_weight": 25, "also": 25}');
    const shifter = { method: 'PATCH' as const, url: 'http://app:8080/admin/canary', body: '{"canary_weight": {{weight}}}' };
    assert.deepEqual(httpWeightRequest(shifter, 5, { 'x-admin-token': 't' }), {
      method: 'PATCH',
      url: 'http://app:8080/admin/canary',
      headers: { 'content-type': 'application/json', 'x-admin-token': 't' },
      body: '{"canary_weight": 5}',
    });
    assert.deepEqual(httpWeightRequest(shifter, 5, { 'Content-Type': 'application/merge-patch+json' }).headers, { 'Content-Type': 'application/merge-patch+json' });
  });

  test('reading a share at a dotted path', () => {
    const answer = { canary: { weight: 25 }, routers: [{ share: '40' }], text: 'x' };
    assert.equal(valueAtPath(answer, 'canary.weight'), 25);
    assert.equal(valueAtPath(answer, 'routers.0.share'), '40');
    assert.equal(valueAtPath(answer, 'canary.nope'), undefined);
    assert.equal(valueAtPath(answer, 'text.length'), undefined);
    assert.equal(valueAtPath(answer, 'constructor'), undefined);
    assert.equal(valueAtPath(12, undefined), 12);
    assert.equal(shareFrom(25), 25);
    assert.equal(shareFrom('40'), 40);
    for (const bad of [undefined, null, '', 'abc', 101, -1, {}, NaN]) assert.equal(shareFrom(bad), null, String(bad));
  });

  test('the schema: a JSON body with {{weight}}, credentials only by reference, readPath with readUrl', () => {
    const base = { type: 'http', url: 'http://app:8080/admin/canary', body: '{"canary_weight": {{weight}}}', headers: { 'x-admin-token': { env: 'ADMIN_TOKEN' }, 'x-client': 'ragops' } };
    const parsed = trafficShifterSchema.parse(base);
    assert.equal(parsed.type === 'http' && parsed.method, 'PUT', 'PUT by default');
    assert.ok(trafficShifterSchema.safeParse({ ...base, method: 'POST', readUrl: 'http://app:8080/admin/canary', readPath: 'canary.weight' }).success);
    const refusals: Record<string, unknown>[] = [
      { body: '{"canary_weight": 5}' },
      { body: '{"canary_weight": {{weight}}, "who": "{{service}}"}' },
      { body: '{"canary_weight": {{weight}}' },
      { url: 'http://admin:hunter2@app:8080/admin/canary' },
      { headers: { Authorization: 'Bearer plain-text-token' } },
      { readPath: 'canary.weight' },
      { method: 'DELETE' },
      { url: 'ftp://app/admin' },
    ];
    for (const bad of refusals) assert.equal(trafficShifterSchema.safeParse({ ...base, ...bad }).success, false, JSON.stringify(bad));
  });
});

describe('http shifter: an admin endpoint on loopback', () => {
  let admin: CanaryAdmin;
  let shifter: TrafficShifter;

  const shifterWith = (overrides: Record<string, unknown>): TrafficShifter =>
    trafficShifterSchema.parse({ type: 'http', url: admin.url('/admin/canary'), body: '{"canary_weight": {{weight}}}', headers: { 'x-admin-token': { env: ENV }, 'x-client': 'ragops' }, ...overrides });

  before(async () => {
    process.env[ENV] = TOKEN;
    admin = await startCanaryAdmin(TOKEN);
    shifter = shifterWith({ readUrl: admin.url('/admin/canary'), readPath: 'canary.weight' });
  });
  after(async () => {
    delete process.env[ENV];
    await admin?.stop();
  });

  test('10, 50, 100, 0 %: the body carries the weight, the secret header is sent, the share is read back; the secret is in no detail', async () => {
    for (const weight of [10, 50, 100, 0]) {
      admin.requests.length = 0;
      const result = await set(shifter, weight);
      assert.equal(result.weight, weight, result.detail);
      assert.equal(admin.weight, weight);
      const put = admin.requests.find((r) => r.method === 'PUT');
      assert.ok(put, `a PUT was sent at ${weight} %`);
      assert.deepEqual(JSON.parse(put.body), { canary_weight: weight });
      assert.equal(put.headers['x-admin-token'], TOKEN);
      assert.equal(put.headers['x-client'], 'ragops');
      assert.equal(put.headers['content-type'], 'application/json');
      const reading = await read(shifter);
      assert.equal(reading.weight, weight);
      for (const detail of [result.detail, reading.detail]) assert.ok(!detail.includes(TOKEN), `no secret in: ${detail}`);
    }
  });

  test('the weight already in force: read, and nothing written', async () => {
    await set(shifter, 20);
    admin.requests.length = 0;
    const again = await set(shifter, 20);
    assert.equal(again.weight, 20);
    assert.match(again.detail, /already in force/);
    assert.deepEqual(admin.requests.map((r) => r.method), ['GET']);
  });

  test('without readUrl: set reports it was not read back, read says it is not supported', async () => {
    const blind = shifterWith({ method: 'POST' });
    const result = await set(blind, 35);
    assert.equal(result.weight, 35);
    assert.equal(admin.weight, 35);
    assert.match(result.detail, /not read back/);
    const reading = await read(blind);
    assert.equal(reading.weight, null);
    assert.match(reading.detail, /not supported/);
  });

  test('an endpoint that refuses and echoes the token: a ConfigError, the token scrubbed from it', async () => {
    const failure = await failureOf(set(shifterWith({ url: admin.url('/admin/echo') }), 10));
    assert.equal(failure.type, 'ConfigError');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /HTTP 400/);
    assert.match(failure.message, /\[redacted\]/);
    assert.ok(!failure.message.includes(TOKEN), failure.message);
  });

  test('wrong credentials: a ConfigError that says the endpoint refused them; a 503 or a dead endpoint: retryable', async () => {
    process.env[`${ENV}_WRONG`] = 'not-the-token';
    try {
      const refused = await failureOf(set(shifterWith({ headers: { 'x-admin-token': { env: `${ENV}_WRONG` } } }), 10));
      assert.equal(refused.type, 'ConfigError');
      assert.match(refused.message, /HTTP 401.*refused the credentials/);
    } finally {
      delete process.env[`${ENV}_WRONG`];
    }
    const busy = await failureOf(set(shifterWith({ url: admin.url('/admin/busy') }), 10));
    assert.equal(busy.nonRetryable, false);
    assert.match(busy.message, /HTTP 503/);
    const port = await findFreePort();
    const dead = await failureOf(set(shifterWith({ url: `http://127.0.0.1:${port}/admin/canary` }), 10));
    assert.equal(dead.nonRetryable, false);
    assert.match(dead.message, /ECONNREFUSED/);
  });

  test('a header secret that is not set fails at once, naming the variable, before any request', async () => {
    admin.requests.length = 0;
    const failure = await failureOf(set(shifterWith({ headers: { 'x-admin-token': { env: 'TEST_CANARY_ADMIN_TOKEN_UNSET' } } }), 10));
    assert.equal(failure.type, 'ConfigError');
    assert.match(failure.message, /TEST_CANARY_ADMIN_TOKEN_UNSET is not set/);
    assert.deepEqual(admin.requests, []);
  });

  test('a read that finds no number at readPath answers null with what it found', async () => {
    const reading = await read(shifterWith({ readUrl: admin.url('/admin/canary'), readPath: 'canary.collection' }));
    assert.equal(reading.weight, null);
    assert.match(reading.detail, /no share 0-100 at canary\.collection \(found "docs-v2"\)/);
  });
});
