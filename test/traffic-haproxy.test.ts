// The haproxy traffic shifter against a real HAProxy started by the test: its runtime API over
// a TCP stats socket and a unix one, and real requests through its frontend to two loopback
// servers, so the share the shifter sets is the share of traffic the canary answers. Plus
// the pure command builders, and the schema's refusals.
import { CancelledFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  getWeightCommand,
  haproxyCommand,
  haproxyWeightCommands,
  parseGetWeight,
  parseHaproxySocket,
  setWeightCommand,
} from '../src/activities/traffic/haproxy.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { trafficShifterSchema, type TrafficShifter } from '../src/config/stacks/traffic.js';
import { startHaproxy, type TestHaproxy } from './support/haproxy.js';
import { failureOf, trafficRunner } from './support/traffic.js';
import { canaryPercent, sendThrough, startWeightedBackends, type WeightedBackends } from './support/weighted-backends.js';

const { set, read } = trafficRunner();

function shifterOf(haproxy: TestHaproxy, overrides: Partial<Record<'backend' | 'stableServer' | 'canaryServer' | 'socket', string>> = {}): TrafficShifter {
  return trafficShifterSchema.parse({
    type: 'haproxy',
    socket: haproxy.socket,
    backend: haproxy.backend,
    stableServer: haproxy.stableServer,
    canaryServer: haproxy.canaryServer,
    ...overrides,
  });
}

describe('haproxy shifter: command builders (pure)', () => {
  test('sockets: tcp://host:port, [v6]:port, or an absolute unix path', () => {
    assert.deepEqual(parseHaproxySocket('tcp://127.0.0.1:9999'), { kind: 'tcp', host: '127.0.0.1', port: 9999 });
    assert.deepEqual(parseHaproxySocket('tcp://[::1]:9999'), { kind: 'tcp', host: '::1', port: 9999 });
    assert.deepEqual(parseHaproxySocket('/run/haproxy/admin.sock'), { kind: 'unix', path: '/run/haproxy/admin.sock' });
    assert.throws(() => parseHaproxySocket('tcp://127.0.0.1:99999'), /out of range/);
  });

  test('get and set commands', () => {
    assert.equal(getWeightCommand('app', 'canary'), 'get weight app/canary');
    assert.equal(setWeightCommand('app', 'canary', 10), 'set server app/canary weight 10');
    assert.throws(() => setWeightCommand('app', 'canary', 257), RangeError);
    assert.throws(() => setWeightCommand('app', 'canary', 1.5), RangeError);
  });

  test("get weight's answer, and HAProxy's refusals", () => {
    assert.deepEqual(parseGetWeight('10 (initial 1)\n\n'), { current: 10, initial: 1 });
    assert.deepEqual(parseGetWeight('No such server.\n\n'), { error: 'No such server.' });
  });

  test('the weight that rises is set first, so both servers are never at 0 together; nothing to send when in force', () => {
    const names = { backend: 'app', stableServer: 'stable', canaryServer: 'canary' };
    assert.deepEqual(haproxyWeightCommands(names, { stable: 100, canary: 0 }, 100), ['set server app/canary weight 100', 'set server app/stable weight 0']);
    assert.deepEqual(haproxyWeightCommands(names, { stable: 0, canary: 100 }, 0), ['set server app/stable weight 100', 'set server app/canary weight 0']);
    assert.deepEqual(haproxyWeightCommands(names, { stable: 90, canary: 10 }, 50), ['set server app/canary weight 50', 'set server app/stable weight 50']);
    assert.deepEqual(haproxyWeightCommands(names, { stable: 50, canary: 50 }, 10), ['set server app/stable weight 90', 'set server app/canary weight 10']);
    assert.deepEqual(haproxyWeightCommands(names, { stable: 90, canary: 10 }, 10), []);
    assert.deepEqual(haproxyWeightCommands(names, { stable: 1, canary: 1 }, 10), ['set server app/stable weight 90', 'set server app/canary weight 10']);
  });

  test('the schema refuses names that could chain a command, a server twice, and other sockets', () => {
    const base = { type: 'haproxy', socket: 'tcp://127.0.0.1:9999', backend: 'app', stableServer: 'stable', canaryServer: 'canary' };
    assert.ok(trafficShifterSchema.safeParse(base).success);
    assert.ok(trafficShifterSchema.safeParse({ ...base, socket: '/var/run/haproxy.sock' }).success);
    for (const bad of [{ backend: 'app; disable server app/stable' }, { canaryServer: 'canary\nshutdown sessions' }, { canaryServer: 'stable' }, { socket: 'ipv4@127.0.0.1:9999' }, { socket: 'relative.sock' }, { extra: 1 }]) {
      assert.equal(trafficShifterSchema.safeParse({ ...base, ...bad }).success, false, JSON.stringify(bad));
    }
  });
});

describe('haproxy shifter: a real HAProxy, runtime API on TCP', () => {
  let backends: WeightedBackends;
  let haproxy: TestHaproxy;

  before(async () => {
    backends = await startWeightedBackends();
    haproxy = await startHaproxy({ stable: backends.stable, canary: backends.canary, socket: 'tcp' });
  });
  after(async () => {
    await haproxy?.stop();
    await backends?.stop();
  });

  test('10, 50, 100, 0 %: the weight read back and the canary share of 200 real requests agree (±10 points)', async () => {
    const shifter = shifterOf(haproxy);
    assert.equal((await read(shifter)).weight, 0, 'haproxy.cfg starts with all traffic on stable');
    for (const weight of [10, 50, 100, 0]) {
      const result = await set(shifter, weight);
      assert.equal(result.weight, weight, result.detail);
      assert.match(result.detail, new RegExp(`stable ${100 - weight}, canary ${weight}`));
      const reading = await read(shifter);
      assert.equal(reading.weight, weight, reading.detail);
      const tally = await sendThrough(haproxy.url, 200);
      assert.deepEqual(tally.other, [], 'every request answered by one of the two versions');
      const share = canaryPercent(tally);
      assert.ok(Math.abs(share - weight) <= 10, `at ${weight} % the canary answered ${share.toFixed(1)} % (${tally.canary}/${tally.stable + tally.canary})`);
    }
  });

  test('setting the weight in force again changes nothing', async () => {
    const shifter = shifterOf(haproxy);
    await set(shifter, 25);
    const again = await set(shifter, 25);
    assert.equal(again.weight, 25);
    assert.match(again.detail, /already in force/);
  });

  test('a backend or server that is not in haproxy.cfg fails at once with a ConfigError naming it', async () => {
    for (const overrides of [{ backend: 'nosuch' }, { canaryServer: 'nosuch' }]) {
      const failure = await failureOf(set(shifterOf(haproxy, overrides), 10));
      assert.equal(failure.type, 'ConfigError');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /nosuch/);
      assert.match(failure.message, /No such (backend|server)/);
    }
    const reading = await failureOf(read(shifterOf(haproxy, { stableServer: 'nosuch' })));
    assert.equal(reading.type, 'ConfigError');
  });

  test('a weight outside 0..100 is refused before anything is sent', async () => {
    const before = await read(shifterOf(haproxy));
    for (const weight of [101, -1, 12.5]) {
      const failure = await failureOf(set(shifterOf(haproxy), weight));
      assert.equal(failure.type, 'ConfigError');
    }
    assert.equal((await read(shifterOf(haproxy))).weight, before.weight);
  });

  test('a socket where nothing listens fails retryable, naming where it looked', async () => {
    const port = await findFreePort();
    const failure = await failureOf(set(shifterOf(haproxy, { socket: `tcp://127.0.0.1:${port}` }), 10));
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.type, 'TrafficShifterUnreachable');
    assert.match(failure.message, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
  });
});

describe('haproxy shifter: a real HAProxy, runtime API on a unix socket', () => {
  let backends: WeightedBackends;
  let haproxy: TestHaproxy;
  let operatorOnly: TestHaproxy;

  before(async () => {
    backends = await startWeightedBackends();
    haproxy = await startHaproxy({ stable: backends.stable, canary: backends.canary, socket: 'unix' });
    operatorOnly = await startHaproxy({ stable: backends.stable, canary: backends.canary, socket: 'unix', level: 'operator' });
  });
  after(async () => {
    await haproxy?.stop();
    await operatorOnly?.stop();
    await backends?.stop();
  });

  test('50 % over the unix socket: read back and seen in real traffic', async () => {
    const shifter = shifterOf(haproxy);
    assert.equal((await set(shifter, 50)).weight, 50);
    assert.equal((await read(shifter)).weight, 50);
    const share = canaryPercent(await sendThrough(haproxy.url, 200));
    assert.ok(Math.abs(share - 50) <= 10, `canary answered ${share.toFixed(1)} %`);
  });

  test('a stats socket below level admin: refused as a ConfigError that says to declare it admin', async () => {
    const failure = await failureOf(set(shifterOf(operatorOnly), 10));
    assert.equal(failure.type, 'ConfigError');
    assert.match(failure.message, /Permission denied/);
    assert.match(failure.message, /level admin/);
  });
});

describe('haproxy shifter: a stats socket that accepts and never answers (a hung HAProxy)', () => {
  let silent: Server;
  let port: number;
  const held: Socket[] = [];

  before(async () => {
    silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as { port: number }).port;
  });
  after(async () => {
    held.forEach((socket) => socket.destroy());
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  test('a command without an answer fails retryable at its timeout, naming the command', async () => {
    const started = Date.now();
    const failure = await failureOf(haproxyCommand({ kind: 'tcp', host: '127.0.0.1', port }, 'get weight app/canary', new AbortController().signal, 300));
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /no answer to "get weight app\/canary" within 300 ms/);
    assert.ok(Date.now() - started < 2_000);
  });

  test('cancelling the activity ends the wait at once: reported as cancelled, not as a failure', async () => {
    const runner = trafficRunner();
    const environment = runner.environment();
    const shifter = trafficShifterSchema.parse({ type: 'haproxy', socket: `tcp://127.0.0.1:${port}`, backend: 'app', stableServer: 'stable', canaryServer: 'canary' });
    const started = Date.now();
    const running = environment.run(runner.activities.setTrafficWeight, { shifter, weight: 10 });
    setTimeout(() => environment.cancel(), 200);
    const error = await running.then(
      () => assert.fail('expected a cancellation'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CancelledFailure, `a CancelledFailure, got ${String(error)}`);
    assert.ok(Date.now() - started < 2_000, `cancelled after ${Date.now() - started} ms`);
  });
});
