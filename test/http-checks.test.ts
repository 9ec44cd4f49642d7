// Health and smoke checks with request headers from secret references, run by a real worker
// against the Temporal dev server and a real HTTP server on loopback: the secret authenticates
// the check yet never reaches the workflow's history or the evidence; a missing one fails at
// once; a long interval is heartbeated and a cancellation cuts it short.
import { ActivityFailure, ApplicationFailure, CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createHttpActivities, type HttpEvidence } from '../src/activities/http/index.js';
import { cancellationInterceptor } from '../src/activities/runtime/cancellation.js';
import { redactingActivityInterceptors } from '../src/activities/runtime/redactErrors.js';
import { ConfigError, parseStacksFile } from '../src/config/load.js';
import { httpCheckSchema } from '../src/config/stacks/deploy.js';
import type { HttpChecksInput } from './support/http-checks-workflow.js';
import { quietRuntime, tempDir, uniqueName } from './support/ragops.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';

const TOKEN = `tok-${randomBytes(16).toString('hex')}`;
const AUTHORIZATION = `Bearer ${TOKEN}`;
const ENV = 'TEST_HEALTH_TOKEN';

/** A service on loopback: /health wants the token, /echo repeats it back, /slow and /down misbehave. */
class CheckedService {
  readonly requests: { path: string; at: number; authorization?: string }[] = [];
  private slowAnswers = 0;
  private readonly server: Server = createServer((request, response) => void this.answer(request).then(([status, body]) => response.writeHead(status).end(body)));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  private async answer(request: IncomingMessage): Promise<[number, string]> {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const authorization = request.headers.authorization;
    this.requests.push({ path, at: Date.now(), authorization });
    switch (path) {
      case '/health':
        return authorization === AUTHORIZATION ? [200, 'ok'] : [401, 'who are you?'];
      case '/echo':
        // A careless service that echoes the credential (without its scheme) in its body.
        return [200, `hello ${request.headers['x-client'] ?? ''}, your token is ${(authorization ?? '').replace(/^Bearer /, '')}`];
      case '/slow':
        // Slow answers, the first one "starting up": the second attempt comes an interval later.
        await sleep(2_000);
        this.slowAnswers += 1;
        return this.slowAnswers === 1 ? [503, 'starting'] : [200, 'ready'];
      default:
        return [503, 'down'];
    }
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const check = (input: unknown) => httpCheckSchema.parse(input);
const auth = { Authorization: { env: ENV } };

describe('health and smoke checks: secret headers, bounded interval, heartbeats', () => {
  let temporal: TestTemporal;
  let service: CheckedService;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniqueName('http-checks');

  before(async () => {
    process.env[ENV] = AUTHORIZATION;
    service = new CheckedService();
    quietRuntime();
    const bundle = bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./support/http-checks-workflow.ts', import.meta.url)),
      logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
    });
    [temporal] = await Promise.all([startTestTemporal(), service.start()]);
    connection = await NativeConnection.connect({ address: temporal.address });
    // As the real worker registers them (src/worker.ts), interceptors included.
    worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle: await bundle,
      activities: createHttpActivities(),
      interceptors: { activity: [redactingActivityInterceptors, cancellationInterceptor] },
    });
    running = worker.run();
  });

  after(async () => {
    delete process.env[ENV];
    if (worker) {
      worker.shutdown();
      await running;
    }
    await connection?.close();
    await temporal?.stop();
    await service?.stop();
  });

  const start = (input: HttpChecksInput) => temporal.client.workflow.start('httpChecks', { taskQueue, workflowId: uniqueName('http-checks'), args: [input] });

  async function activityEvents(workflowId: string) {
    const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    return {
      started: events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt),
      timedOut: events.filter((e) => e.activityTaskTimedOutEventAttributes).length,
      cancelRequested: events.filter((e) => e.activityTaskCancelRequestedEventAttributes).length,
      cancelled: events.filter((e) => e.activityTaskCanceledEventAttributes).length,
      failed: events.filter((e) => e.activityTaskFailedEventAttributes).length,
    };
  }

  test('a header from { env } authenticates the check; its value is in neither the history nor the evidence', async () => {
    const unauthenticated = await fetch(`${service.url}/health`);
    assert.equal(unauthenticated.status, 401, 'the service refuses a request without the token (so passing below means the header was sent)');

    const checks = [
      check({ url: `${service.url}/health`, headers: { ...auth, Accept: 'text/plain' }, timeoutSeconds: 10, intervalMs: 200 }),
      check({ url: `${service.url}/echo`, headers: { ...auth, 'X-Client': 'ragops' }, timeoutSeconds: 10, intervalMs: 200 }),
    ];
    const handle = await start({ checks, what: 'health checks', maximumAttempts: 1 });
    const evidence: HttpEvidence[] = await handle.result();

    assert.deepEqual(evidence.map((e) => [e.url, e.passed, e.status, e.attempts]), [
      [`${service.url}/health`, true, 200, 1],
      [`${service.url}/echo`, true, 200, 1],
    ]);
    assert.deepEqual(evidence.map((e) => e.headers), [['Authorization', 'Accept'], ['Authorization', 'X-Client']], 'evidence names the headers sent');
    assert.equal(service.requests.filter((r) => r.path === '/health').at(-1)?.authorization, AUTHORIZATION, 'the resolved value went to the service');
    assert.equal(evidence[1]!.bodyTail, 'hello ragops, your token is [redacted]', 'an echoed credential is scrubbed from the evidence');

    const history = await exportHistoryJson(temporal.client, handle.workflowId);
    assert.ok(history.includes(ENV), 'the reference travelled in the input (so the search below means something)');
    for (const [where, text] of Object.entries({ 'the workflow history': history, 'the evidence': JSON.stringify(evidence) })) {
      assert.ok(!text.includes(TOKEN), `the token appears in ${where}`);
    }
  });

  test('a header whose environment variable is missing fails the run at once: a non-retryable ConfigError naming the header, not a value', async () => {
    const before = service.count('/health');
    delete process.env[ENV];
    try {
      const handle = await start({ checks: [check({ url: `${service.url}/health?key=abc`, headers: auth })], what: 'health checks', maximumAttempts: 5 });
      const failure = await handle.result().then(
        () => assert.fail('the check passed without its header'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      assert.ok(failure.cause instanceof ActivityFailure);
      const cause = failure.cause.cause;
      assert.ok(cause instanceof ApplicationFailure, String(cause));
      assert.equal(cause.type, 'ConfigError');
      assert.equal(cause.nonRetryable, true);
      assert.equal(
        cause.message,
        `health checks: ${service.url}/health?redacted: header Authorization cannot be sent: environment variable ${ENV} is not set; export it in the worker's environment`,
      );
      assert.deepEqual((await activityEvents(handle.workflowId)).started, [1], 'one attempt: no retry of a configuration problem');
      assert.equal(service.count('/health'), before, 'no request went out without its header');
    } finally {
      process.env[ENV] = AUTHORIZATION;
    }
  });

  test('a secret that is not a valid header value fails without being quoted', async () => {
    const dir = await tempDir('http-checks');
    try {
      const file = join(dir.path, 'token');
      const injected = `${TOKEN}\r\nX-Injected: yes`;
      await writeFile(file, `${injected}\n`);
      const handle = await start({ checks: [check({ url: `${service.url}/health`, headers: { 'X-Api-Key': { file } } })], what: 'smoke checks', maximumAttempts: 5 });
      const failure = await handle.result().then(
        () => assert.fail('a value with a line break was sent'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ActivityFailure);
      const cause = failure.cause.cause as ApplicationFailure;
      assert.equal(cause.type, 'ConfigError');
      assert.equal(cause.nonRetryable, true);
      assert.match(cause.message, new RegExp(`header X-Api-Key cannot be sent: the value of secret file ${file} is not a valid header value`));
      const history = await exportHistoryJson(temporal.client, handle.workflowId);
      assert.ok(!history.includes(TOKEN), 'the token appears in the workflow history');
    } finally {
      await dir.remove();
    }
  });

  test('the stacks file refuses an intervalMs above the bound and bad headers, each with the field and the reason', () => {
    const stacks = (health: unknown) =>
      stringify({ stacks: { prod: { store: { type: 'fs', path: '/tmp/ragops-store' }, deploy: { target: { type: 'kubernetes', namespace: 'prod' }, services: { api: { health: [health] } } } } } });
    const problems = (health: unknown): string => {
      try {
        parseStacksFile(stacks(health), 'ragops.yaml');
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error.message;
      }
      return 'accepted';
    };
    const url = 'http://api.prod.svc:8080/health';
    assert.equal(problems({ url, headers: auth, intervalMs: 30_000 }), 'accepted');
    assert.match(problems({ url, intervalMs: 60_000 }), /stacks\.prod\.deploy\.services\.api\.health\[0\]\.intervalMs \(line \d+\): at most 30000 \(ms, 30 s\) between attempts; for a slow service raise timeoutSeconds instead/);
    assert.match(problems({ url, intervalMs: 10 }), /health\[0\]\.intervalMs \(line \d+\): at least 100 \(ms\) between attempts/);
    assert.match(problems({ url, headers: { 'Bad Header': 'x' } }), /health\[0\]\.headers\.Bad Header \(line \d+\): "Bad Header" is not a header name \(an RFC 7230 token/);
    assert.match(problems({ url, headers: { Authorization: AUTHORIZATION } }), /headers\.Authorization \(line \d+\): Authorization carries a credential: give a secret reference/);
    assert.match(problems({ url, headers: { Host: 'api.example.com' } }), /headers\.Host \(line \d+\): Host is set by the HTTP client/);
    assert.match(problems({ url, headers: { Accept: 'a\r\nb' } }), /headers\.Accept \(line \d+\): a header value: printable characters, no line breaks/);
    assert.match(problems({ url, headers: { accept: 'a', Accept: 'b' } }), /Accept repeats accept \(header names ignore case\)/);
    assert.match(problems({ url, headers: { Authorization: { vault: 'x' } } }), /headers\.Authorization/);
  });

  test('a slow service polled every 20 s passes without a heartbeat timeout: the wait is heartbeated', async () => {
    const started = Date.now();
    const handle = await start({ checks: [check({ url: `${service.url}/slow`, headers: auth, intervalMs: 20_000, timeoutSeconds: 60 })], what: 'health checks', maximumAttempts: 1 });
    const [evidence] = await handle.result();
    assert.equal(evidence?.passed, true, JSON.stringify(evidence));
    assert.equal(evidence?.attempts, 2);
    assert.ok(evidence!.elapsedMs >= 22_000, `the second answer came ${evidence!.elapsedMs} ms after the first request`);
    assert.ok(Date.now() - started < 40_000);
    const events = await activityEvents(handle.workflowId);
    assert.deepEqual(events.started, [1], 'one attempt, never timed out and retried');
    assert.equal(events.timedOut, 0);
  });

  test('cancelling the run interrupts the wait between attempts at once, and the activity reports the cancellation', async () => {
    const handle = await start({ checks: [check({ url: `${service.url}/down`, intervalMs: 30_000, timeoutSeconds: 120 })], what: 'health checks', maximumAttempts: 1 });
    while (service.count('/down') === 0) await sleep(50);
    await sleep(3_000); // well inside the 30 s wait, past the activity's first heartbeats
    const cancelledAt = Date.now();
    await handle.cancel();
    const failure = await handle.result().then(
      () => assert.fail('the run ended normally'),
      (error: unknown) => error,
    );
    const took = Date.now() - cancelledAt;
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof CancelledFailure, String(failure));
    // The cancellation rides on a heartbeat's answer (the SDK sends one per 8 s at most):
    // a wait that ignored it would run its 30 s out and try again.
    assert.ok(took < 12_000, `the run took ${took} ms to stop after the cancellation`);
    assert.equal(service.count('/down'), 1, 'no second attempt');
    const events = await activityEvents(handle.workflowId);
    assert.deepEqual([events.cancelRequested, events.cancelled, events.failed, events.timedOut], [1, 1, 0, 0], 'the activity reported the cancellation (WAIT_CANCELLATION_COMPLETED waited for it)');
  });
});
