// Notifications: the renderers and the delivery on their own, then the runbooks on the real
// Temporal dev server telling a webhook receiver on loopback — a failed drill (no secret in
// the message or the history), a disasterRecovery run waiting for approval (with the command
// that approves it), and a receiver answering 500 that the run outlives.
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { deliverNotice } from '../src/activities/notify/deliver.js';
import { parseStacksFile } from '../src/config/load.js';
import { webhookSchema, type Webhook } from '../src/config/stacks/notify.js';
import { drApproveCommand, renderNotice, scrubNotice, secretPartsOfUrl, slackBody, webhooksFor, type GenericBody, type Notice, type SlackBody } from '../src/core/notify.js';
import { startBackup, startDisasterRecovery, startVerify } from '../src/client/api/runbooks.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { startCheckServer, type CheckServer } from './support/check-server.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { exportHistoryJson } from './support/temporal.js';
import { recordHistory } from './support/histories.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import type { Activities } from '../src/activities/index.js';
import { createNotifyActivities } from '../src/activities/notify/index.js';
import { createTemporalActivities } from '../src/activities/temporal/index.js';
import type { DeployPlan } from '../src/config/plan.js';
import type { CanaryConfig } from '../src/config/stacks/canary.js';
import { metricSchema } from '../src/config/stacks/metrics.js';
import { retentionSchema } from '../src/config/stacks/retention.js';
import { workflowsPath } from '../src/worker.js';
import type { CanaryActivities } from '../src/workflows/canary/activities.js';
import type { CanaryReport } from '../src/workflows/canary/report.js';
import type { ReingestOptions } from '../src/config/inputs.js';
import type { ReingestPlan } from '../src/config/plan.js';
import type { ReingestReport } from '../src/workflows/reingest/report.js';
import { approveReingest } from '../src/client/api/reingest.js';
import { quietRuntime } from './support/ragops.js';

interface Received {
  path: string;
  body: Record<string, unknown>;
  raw: string;
}

/** A webhook receiver on loopback: logs every POST, answers each path with the status set for it (200 by default). */
async function startReceiver(): Promise<{ url(path: string): string; answer(path: string, status: number): void; received: Received[]; stop(): Promise<void> }> {
  const statuses = new Map<string, number>();
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      const path = request.url ?? '/';
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // kept as raw
      }
      received.push({ path, body, raw });
      const status = statuses.get(path) ?? 200;
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : `answering ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    answer: (path, status) => statuses.set(path, status),
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const notice = (overrides: Partial<Notice> = {}): Notice => ({
  event: 'failed',
  stack: 'prod',
  runbook: 'verifyBackup',
  workflowId: 'verify-prod-1',
  runId: 'run-1',
  summary: 'checksum drill of backup b1 FAILED: app checksum: sha256 differs',
  details: { backupId: 'b1', depth: 'checksum' },
  ...overrides,
});

describe('notify: rendering and delivery', () => {
  test('generic body: the event fields, and the UI link only when there is one', () => {
    const body = renderNotice('generic', notice(), 'http://ui.example/namespaces/default/workflows/verify-prod-1') as GenericBody;
    assert.deepEqual(Object.keys(body).sort(), ['details', 'event', 'runId', 'runbook', 'stack', 'summary', 'webUiUrl', 'workflowId']);
    assert.equal(body.event, 'failed');
    assert.equal(body.webUiUrl, 'http://ui.example/namespaces/default/workflows/verify-prod-1');
    assert.equal('webUiUrl' in renderNotice('generic', notice()), false);
  });

  test('Slack body: a text line with the event in words, blocks with the details, the approve command on its own line, mrkdwn escaped', () => {
    const body = slackBody(notice({ event: 'approval', runbook: 'disasterRecovery', summary: 'recover of prod waits <for> approval & more', details: { approveCommand: drApproveCommand('dr-prod-x'), timeout: '4h' } }), 'http://ui/x');
    assert.match(body.text, /^\[WAITING FOR APPROVAL\] disasterRecovery of stack prod: recover of prod waits <for> approval & more\nTo approve: ragops dr approve dr-prod-x\nhttp:\/\/ui\/x$/);
    const rendered = JSON.stringify(body.blocks);
    assert.match(rendered, /waits &lt;for&gt; approval &amp; more/);
    assert.match(rendered, /`ragops dr approve dr-prod-x`/);
    assert.match(rendered, /\*timeout\*\\n4h/);
    assert.match(rendered, /<http:\/\/ui\/x\|open in the Temporal UI>/);
    assert.equal(drApproveCommand('dr-prod-x'), 'ragops dr approve dr-prod-x');
  });

  test('scrubbing: URLs lose their query and userinfo, secret values and token-like URL parts are replaced, one summary line', () => {
    const url = 'https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/abcdefghijklmnopqrstuvwx';
    const parts = secretPartsOfUrl(url);
    assert.ok(parts.includes(url) && parts.includes('abcdefghijklmnopqrstuvwx') && parts.includes('T0AB12CD3'));
    assert.ok(!parts.includes('services'), 'plain words of the path stay');
    const scrubbed = scrubNotice(
      notice({ summary: `fetch of https://u:pw@s3.example/b/k?X-Amz-Signature=sig failed; posted to ${url}\nsecond line`, details: { error: 'token abcdefghijklmnopqrstuvwx in the answer', count: 3 } }),
      parts,
    );
    assert.equal(scrubbed.summary, 'fetch of https://s3.example/b/k?redacted failed; posted to [redacted]');
    assert.equal(scrubNotice(notice({ summary: 'T0AB12CD3/B0EF45GH6/abcdefghijklmnopqrstuvwx' }), parts).summary, '[redacted]/[redacted]/[redacted]');
    assert.deepEqual(scrubbed.details, { error: 'token [redacted] in the answer', count: 3 });
  });

  test('webhooksFor: a webhook without `on` gets every event; one with `on` only those', () => {
    const all = webhookSchema.parse({ name: 'all', url: { env: 'A' } });
    const failures = webhookSchema.parse({ name: 'pager', type: 'slack', url: { env: 'B' }, on: ['failed'] });
    assert.deepEqual(webhooksFor({ webhooks: [all, failures] }, 'failed').map((w) => w.name), ['all', 'pager']);
    assert.deepEqual(webhooksFor({ webhooks: [all, failures] }, 'approval').map((w) => w.name), ['all']);
    assert.deepEqual(webhooksFor(undefined, 'failed'), []);
  });

  test('stacks file: a webhook URL is a secret reference, never a literal; names are unique; events are known', () => {
    const base = { postgres: [], store: { type: 'fs', path: '/tmp/x' } };
    const parse = (notify: unknown) => () => parseStacksFile(stringify({ stacks: { prod: { ...base, notify } } }), 'test');
    assert.throws(parse({ webhooks: [{ name: 'ops', url: 'https://hooks.example/abc' }] }), /url/);
    assert.throws(parse({ webhooks: [{ name: 'ops', url: { env: 'A' } }, { name: 'ops', url: { env: 'B' } }] }), /duplicate webhook "ops"/);
    assert.throws(parse({ webhooks: [{ name: 'ops', url: { env: 'A' }, on: ['exploded'] }] }), /on/);
    const parsed = parseStacksFile(stringify({ stacks: { prod: { ...base, notify: { webhooks: [{ name: 'ops', url: { file: '/run/secrets/hook' } }] } } } }), 'test');
    assert.deepEqual(parsed.stacks.prod!.notify, { webhooks: [{ name: 'ops', type: 'generic', url: { file: '/run/secrets/hook' }, timeoutSeconds: 10 }] });
  });

  test('delivery: 2xx delivered; 500 and 429 retryable; other 4xx not; a dead port retryable; no error names the URL or its token', async () => {
    const receiver = await startReceiver();
    const token = randomBytes(12).toString('hex');
    const webhook: Webhook = { name: 'ops', type: 'slack', url: { env: 'UNUSED' }, timeoutSeconds: 5 };
    const signal = new AbortController().signal;
    try {
      const sent = await deliverNotice(webhook, receiver.url(`/ok/${token}`), notice(), { signal });
      assert.deepEqual(sent, { webhook: 'ops', status: 200 });
      assert.equal(typeof (receiver.received[0]!.body as unknown as SlackBody).text, 'string');
      const failureOf = async (path: string) => {
        const error = await deliverNotice(webhook, receiver.url(path), notice(), { signal }).then(() => assert.fail('delivered'), (caught: unknown) => caught);
        assert.ok(error instanceof ApplicationFailure);
        assert.ok(!error.message.includes(token) && !error.message.includes('127.0.0.1'), error.message);
        return error;
      };
      for (const [status, retryable] of [[500, true], [429, true], [404, false], [403, false]] as const) {
        receiver.answer(`/s${status}/${token}`, status);
        const error = await failureOf(`/s${status}/${token}`);
        assert.equal(error.nonRetryable, !retryable, `HTTP ${status}`);
        assert.equal(error.type, retryable ? 'WebhookUnavailable' : 'WebhookRejected');
        assert.match(error.message, new RegExp(`webhook "ops" answered HTTP ${status}`));
      }
    } finally {
      await receiver.stop();
    }
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = await deliverNotice(webhook, `http://127.0.0.1:${port}/${token}`, notice(), { signal }).then(() => assert.fail('delivered'), (caught: unknown) => caught as ApplicationFailure);
    assert.equal(dead.nonRetryable, false);
    assert.match(dead.message, /webhook "ops" did not answer: connection failed \(ECONNREFUSED\)/);
    assert.ok(!dead.message.includes(token));
  });
});

describe('notify: runbooks tell a webhook receiver', { timeout: 600_000 }, () => {
  let fixture: BackupFixture;
  let worker: RunningWorker;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let checks: CheckServer;
  let store: { path: string; remove(): Promise<void> };
  let quietStore: { path: string; remove(): Promise<void> };
  const taskQueue = uniqueName('notify');
  const genericToken = randomBytes(12).toString('hex');
  const slackToken = randomBytes(12).toString('hex');
  const genericPath = `/hooks/generic/${genericToken}`;
  const slackPath = `/services/T0NOTIFY1/B0NOTIFY2/${slackToken}`;
  const backups: BackupReport[] = [];

  const generic = (event: string, workflowId?: string) => receiver.received.filter((r) => r.path === genericPath && r.body.event === event && (!workflowId || r.body.workflowId === workflowId));
  const slack = () => receiver.received.filter((r) => r.path === slackPath);
  const waitFor = async (what: string, found: () => boolean, ms = 60_000) => {
    const until = Date.now() + ms;
    while (!found()) {
      if (Date.now() > until) assert.fail(`${what}: not seen within ${ms} ms; received ${JSON.stringify(receiver.received.map((r) => [r.path.split('/')[1], r.body.event, r.body.runbook]))}`);
      await sleep(100);
    }
  };
  const assertNoSecret = (text: string, where: string) => {
    for (const secret of [fixture.secrets.pgPassword, fixture.secrets.s3SecretKey, genericToken, slackToken]) assert.ok(!text.includes(secret), `${where} holds a secret`);
  };

  before(async () => {
    fixture = await startBackupFixture({ documents: 200 });
    receiver = await startReceiver();
    checks = await startCheckServer();
    // Not named "notify": the store path is in every plan, and the histories are searched for the patch id.
    store = await tempDir('hooks');
    quietStore = await tempDir('hooks-quiet');
    process.env.TEST_WEBHOOK_GENERIC = receiver.url(genericPath);
    process.env.TEST_WEBHOOK_SLACK = receiver.url(slackPath);
    const stacks = fixture.stacks({ store: 'fs', fsPath: store.path }) as { stacks: Record<string, Record<string, unknown>> };
    // The same components without a notify section.
    stacks.stacks.quiet = { ...(fixture.stacks({ store: 'fs', fsPath: quietStore.path }) as typeof stacks).stacks.prod };
    stacks.stacks.prod!.dr = { targets: { rtoMinutes: 30, rpoMinutes: 60 }, validation: { checks: [{ url: checks.url('/health'), timeoutSeconds: 5, intervalMs: 200 }] }, approvalTimeout: '10m' };
    stacks.stacks.prod!.notify = {
      webhooks: [
        { name: 'ops', type: 'generic', url: { env: 'TEST_WEBHOOK_GENERIC' } },
        { name: 'chat', type: 'slack', url: { env: 'TEST_WEBHOOK_SLACK' }, on: ['failed'] },
      ],
    };
    worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await receiver?.stop();
    await checks?.stop();
    await fixture?.stop();
    await store?.remove();
    await quietStore?.remove();
  });

  const corruptDump = async (dir: string, backup: BackupReport) => {
    const dump = join(dir, backup.artifacts.find((a) => a.component === 'postgres')!.key);
    const bytes = await readFile(dump);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(dump, bytes);
  };

  test('a drill of a corrupted backup fails: the generic and the Slack webhook are told, with no secret in the message or the history; a backup that succeeds tells no one', async () => {
    for (let i = 0; i < 2; i++) backups.push(await (await startBackup(fixture.temporal.client, { stack: 'prod' }, { taskQueue })).result());
    assert.equal(receiver.received.length, 0, 'successful backups send nothing');
    const corrupted = backups[1]!;
    await corruptDump(store.path, corrupted);

    const handle = await startVerify(fixture.temporal.client, { stack: 'prod', backupId: corrupted.backupId, depth: 'checksum' }, { taskQueue });
    const error = await handle.result().then(() => assert.fail('the drill passed'), (caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError);
    assert.equal((error.cause as ApplicationFailure).type, 'DrillFailed');

    await waitFor('the failed drill notice', () => generic('failed', handle.workflowId).length > 0 && slack().length > 0);
    const [message] = generic('failed', handle.workflowId);
    assert.equal(generic('failed', handle.workflowId).length, 1, 'one notice, not a drill notice and a generic failure notice');
    assert.equal(message!.body.stack, 'prod');
    assert.equal(message!.body.runbook, 'verifyBackup');
    assert.equal(message!.body.runId, (await handle.describe()).runId);
    assert.match(String(message!.body.summary), new RegExp(`checksum drill of backup ${corrupted.backupId} FAILED: app `));
    assert.deepEqual((message!.body.details as Record<string, unknown>).backupId, corrupted.backupId);
    const slackMessage = slack()[0]!.body as unknown as SlackBody;
    assert.match(slackMessage.text, new RegExp(`^\\[FAILED\\] verifyBackup of stack prod: checksum drill of backup ${corrupted.backupId} FAILED`));
    assert.ok(Array.isArray(slackMessage.blocks));
    for (const received of receiver.received) assertNoSecret(received.raw, `the message to ${received.path.split('/')[1]}`);

    const history = await exportHistoryJson(fixture.temporal.client, handle.workflowId);
    assertNoSecret(history, 'the history');
    assert.match(history, /"sendNotice"/);
    assert.match(history, /TEST_WEBHOOK_GENERIC/, 'the history holds the reference, not the URL');
    assert.match(history, /"markerName": "core_patch"[\s\S]*ragops-notify/, 'the notice activities are behind the patch marker');
    await recordHistory(fixture.temporal, handle.workflowId, 'notify-verify-failed');
  });

  test('a stack without a notify section: the same failed drill schedules no notice activity and records no patch marker', async () => {
    const before = receiver.received.length;
    const backup = await (await startBackup(fixture.temporal.client, { stack: 'quiet' }, { taskQueue })).result();
    await corruptDump(quietStore.path, backup);
    const handle = await startVerify(fixture.temporal.client, { stack: 'quiet', backupId: backup.backupId, depth: 'checksum' }, { taskQueue });
    await handle.result().then(() => assert.fail('the drill passed'), () => undefined);
    const history = await exportHistoryJson(fixture.temporal.client, handle.workflowId);
    assert.doesNotMatch(history, /sendNotice|ragops-notify|core_patch/);
    assert.equal(receiver.received.length, before);
  });

  test('a recovery waiting for approval: the webhook gets the `ragops dr approve` command while the run waits', async () => {
    const before = receiver.received.length;
    const handle = await startDisasterRecovery(fixture.temporal.client, { stack: 'prod', mode: 'recover', allowUnverified: true } as never, { taskQueue, workflowId: uniqueName('dr-approval') });
    await waitFor('the approval notice', () => generic('approval', handle.workflowId).length > 0);
    const message = generic('approval', handle.workflowId)[0]!.body;
    const details = message.details as Record<string, unknown>;
    assert.equal(details.approveCommand, `ragops dr approve ${handle.workflowId}`);
    assert.equal(details.backupId, backups[0]!.backupId, 'the backup whose drill failed is not chosen');
    assert.match(String(message.summary), new RegExp(`waits for approval \\(for 10m\\): ragops dr approve ${handle.workflowId}$`));
    assert.equal(((await handle.query('status')) as DrReport).phase, 'approve', 'the run still waits: the notice did not hold it up');
    assert.equal(slack().length, 1, 'the Slack webhook takes failures only');
    await handle.cancel();
    await handle.result().catch(() => undefined);
    for (const received of receiver.received.slice(before)) assertNoSecret(received.raw, 'the approval message');
    assertNoSecret(await exportHistoryJson(fixture.temporal.client, handle.workflowId), 'the history');
  });

  test('a receiver answering 500: each notice is tried 5 times, then given up; the recovery is approved and completes', async () => {
    // The id the recorded history is named by: the replay derives the child runs' ids from it.
    receiver.answer(genericPath, 500);
    const handle = await startDisasterRecovery(fixture.temporal.client, { stack: 'prod', mode: 'recover', allowUnverified: true } as never, { taskQueue, workflowId: 'notify-dr-receiver-500' });
    await waitFor('five tries of the approval notice', () => generic('approval', handle.workflowId).length >= 5, 90_000);
    await sleep(3_000);
    assert.equal(generic('approval', handle.workflowId).length, 5, 'a bounded retry: five tries, no more');
    await handle.executeUpdate('approve', { args: [{ by: 'notify-test' }] });
    const report = (await handle.result()) as DrReport;
    assert.equal(report.outcome, 'recovered');
    assert.equal(generic('dr-result', handle.workflowId).length, 5, 'the result notice was tried five times before the run ended');
    const result = generic('dr-result', handle.workflowId)[0]!.body;
    assert.match(String(result.summary), /^recovered from backup .*, targets (met|MISSED): RTO \d+(\.\d+)? s \(target 1800 s/);
    assert.equal((result.details as Record<string, unknown>).rpoTargetSeconds, 3600);
    const history = JSON.parse(await exportHistoryJson(fixture.temporal.client, handle.workflowId)) as { events: Array<Record<string, Record<string, unknown>>> };
    const failed = history.events.filter((event) => event.activityTaskFailedEventAttributes);
    assert.equal(failed.length, 2, 'both notices failed after their retries (the approval and the result)');
    assert.ok(failed.every((event) => JSON.stringify(event).includes('answered HTTP 500')));
    await recordHistory(fixture.temporal, handle.workflowId, 'notify-dr-receiver-500');
    receiver.answer(genericPath, 200);
  });
});

const WITHOUT_SEARCH_ATTRIBUTES = fileURLToPath(new URL('./support/without-search-attributes.ts', import.meta.url));
const TEST_SERVER = fileURLToPath(new URL('../.venv/bin/temporal-test-server', import.meta.url));

// The canary's loop with fake deploy, traffic and metric activities (canary-timeskip.test.ts
// tests that logic); the notice activity is the real one, posting to a receiver on loopback.
describe('notify: a canary paused for lack of data or rolled back, a re-ingestion waiting for approval (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const token = randomBytes(12).toString('hex');
  before(async () => {
    quietRuntime();
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER } } });
    receiver = await startReceiver();
    process.env.TEST_WEBHOOK_CANARY = receiver.url(`/hooks/${token}`);
  });
  after(async () => {
    await env?.teardown();
    await receiver?.stop();
  });

  const plan: DeployPlan = {
    stack: 'prod',
    runTag: '0a1b2c3d',
    service: 'api',
    image: 'api:v2',
    target: { type: 'compose', directory: '/srv', files: ['docker-compose.yml'], projectName: 'rag' },
    composeService: 'api',
    deployment: 'api',
    container: 'api',
    config: { health: [{ url: 'http://svc/health', expectStatus: 200, timeoutSeconds: 1, intervalMs: 100 }], smoke: [], rolloutTimeoutSeconds: 5 },
    notify: { webhooks: [webhookSchema.parse({ name: 'ops', url: { env: 'TEST_WEBHOOK_CANARY' } })] },
  };
  const canary: CanaryConfig = {
    traffic: { type: 'kubernetes-replicas' } as CanaryConfig['traffic'],
    maxWeight: 100,
    steps: [{ setWeight: 10 }, { analysis: { metrics: ['errors'], interval: '5m', count: 3 } }],
    metrics: [metricSchema.parse({ name: 'errors', provider: { type: 'probe', url: 'http://canary/health', measure: 'errorRate' }, thresholdRange: { max: 0.05 } })],
    pauseTimeoutAction: 'abort',
  };

  function fakes(measured: { value: number | null; outcome: 'passed' | 'failed' | 'inconclusive' }): Partial<Activities & CanaryActivities> {
    return {
      resolveCanaryPlan: async () => ({ deploy: plan, canary }),
      composeCurrentVersion: async () => ({ image: 'api:v1', imageId: 'id-api:v1', repoDigest: null }),
      composePull: async ({ image }) => ({ image, imageId: `id-${image}`, repoDigest: null, pinned: `id-${image}`, note: 'pulled' }),
      composeRollout: async () => undefined,
      composeServiceHealth: async ({ image }) => ({ healthy: true, states: [{ image, imageId: image, running: true }], logsTail: '' }),
      runHttpChecks: async ({ checks }) => checks.map((check) => ({ url: check.url, passed: true, status: 200, attempts: 1, elapsedMs: 1 })),
      launchCanaryVersion: async () => 'launched',
      removeCanaryVersion: async () => 'removed',
      setTrafficWeight: async ({ weight }) => ({ weight, detail: `canary at ${weight} %` }),
      measureMetric: async ({ metric }) => ({ metric: metric.name, value: measured.value, samples: measured.value === null ? 0 : 20, outcome: measured.outcome, detail: measured.value === null ? 'no samples in the interval' : `error rate ${measured.value}`, at: new Date().toISOString() }),
    };
  }

  async function withCanaryWorker<T>(measured: Parameters<typeof fakes>[0], work: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = uniqueName('notify-canary');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath,
      interceptors: { workflowModules: [WITHOUT_SEARCH_ATTRIBUTES] },
      activities: { ...createTemporalActivities({ temporalClient: async () => env.client }), ...createNotifyActivities(), ...fakes(measured) },
    });
    return worker.runUntil(work(taskQueue));
  }
  const bodiesFor = (workflowId: string) => receiver.received.filter((r) => r.body.workflowId === workflowId).map((r) => r.body);

  test('no data: the canary pauses and the webhook is told "inconclusive" while it holds; an abort then tells no one', async () => {
    await withCanaryWorker({ value: null, outcome: 'inconclusive' }, async (taskQueue) => {
      const workflowId = uniqueName('canary');
      const handle = await env.client.workflow.start('canary', { taskQueue, workflowId, args: [{ stack: 'prod', service: 'api', image: 'api:v2' }] });
      // Time skips only while the test waits on the server: five minutes of analysis interval at a time.
      for (let i = 0; i < 10 && bodiesFor(workflowId).length === 0; i++) {
        await env.sleep('5m');
        await sleep(200);
      }
      const [told, ...more] = bodiesFor(workflowId);
      assert.equal(more.length, 0);
      assert.equal(told?.event, 'inconclusive');
      assert.equal(told?.runbook, 'canary');
      assert.match(String(told?.summary), /^canary of api:v2 paused at 10 %: inconclusive, not enough data: errors: no samples in the interval; resume, promote or abort it$/);
      assert.ok(((await handle.query('status')) as CanaryReport).paused, 'the run holds, paused');
      await handle.signal('abort', { reason: 'no traffic to judge' });
      const report = (await handle.result()) as CanaryReport;
      assert.equal(report.outcome, 'aborted');
      assert.equal(bodiesFor(workflowId).length, 1, "an operator's abort is not news to the operator");
    });
  });

  test('failing analysis: the canary rolls back and the webhook gets one "rolled-back" notice, not a second "failed" one', async () => {
    await withCanaryWorker({ value: 0.3, outcome: 'failed' }, async (taskQueue) => {
      const workflowId = uniqueName('canary');
      const failure = await env.client.workflow.execute('canary', { taskQueue, workflowId, args: [{ stack: 'prod', service: 'api', image: 'api:v2' }] }).then(() => assert.fail('promoted'), (caught: unknown) => caught);
      assert.ok(failure instanceof WorkflowFailedError);
      assert.equal((failure.cause as ApplicationFailure).type, 'CanaryRolledBack');
      const bodies = bodiesFor(workflowId);
      assert.deepEqual(bodies.map((body) => body.event), ['rolled-back']);
      assert.match(String(bodies[0]!.summary), /^canary of api:v2 rolled back: analysis failed: errors = 0\.3/);
      for (const received of receiver.received) assert.ok(!received.raw.includes(token));
    });
  });

  test('a re-ingestion waiting for its switch to be approved: the webhook gets `ragops reingest approve`, and the run switches once approved', async () => {
    const NEW = 'ragops_reingest_a1b2c3d4_docs';
    let alias = 'docs_v1';
    // Qdrant, the source and the embedder faked as in reingest-timeskip.test.ts; the notice activity is the real one.
    const reingestFakes: Partial<Activities> = {
      resolveReingestPlan: async ({ options }: { options: ReingestOptions }): Promise<ReingestPlan> => ({
        stack: options.stack,
        runTag: 'a1b2c3d4',
        options,
        qdrant: { url: 'http://qdrant.test:6333' },
        source: { kind: 'postgres', postgres: 'app', query: 'SELECT id, text FROM chunks', key: 'id', text: 'text', payload: [] },
        connections: {},
        embedder: { type: 'openai', url: 'http://embedder.test/v1', model: 'all-MiniLM-L6-v2' } as ReingestPlan['embedder'],
        golden: [{ query: 'restore a snapshot', expect: [7] }],
        gate: { k: 10, minRecall: 0.9 },
        notify: plan.notify,
      }),
      probeEmbedder: async () => ({ dimensions: 384, model: 'all-MiniLM-L6-v2', configuredModel: 'all-MiniLM-L6-v2', modelMatches: true, modelReported: true }),
      planReingestTarget: async () => ({ alias: 'docs', live: 'docs_v1', livePoints: 10, collection: NEW, clone: { create: { vectors: { size: 384, distance: 'Cosine' } }, payloadIndexes: [], vectorName: undefined, vectorSize: 384, distance: 'Cosine', changes: [] } }) as never,
      reingestSourceClock: async () => null,
      countReingestSource: async () => ({ rows: 10, nullKeys: 0, duplicateKeys: 0 }),
      createReingestCollection: async ({ collection }: { collection: string }) => ({ collection, created: true }) as never,
      ingestReingestPages: async ({ from }: { from: { rows: number; pages: number } }) => ({ ...from, checkpoint: { kind: 'postgres', lastKey: '10' }, rows: 10, pages: from.pages + 1, embedRequests: 1, embedRetries: 0, embedMs: 5, done: true }) as never,
      countCollectionPoints: async () => 10,
      evaluateGoldenSet: async () => ({ results: [{ query: 'restore a snapshot', expected: [7], results: [7, 3, 1], live: [7, 1] }] }),
      switchReingestAlias: async ({ to }: { to: string }) => {
        const from = alias;
        alias = to;
        return { alias: 'docs', from, to, switched: from !== to };
      },
      deleteReingestCollection: async () => true,
    };
    const taskQueue = uniqueName('notify-reingest');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath,
      interceptors: { workflowModules: [WITHOUT_SEARCH_ATTRIBUTES] },
      activities: { ...createNotifyActivities(), ...reingestFakes },
    });
    await worker.runUntil(async () => {
      const workflowId = uniqueName('reingest');
      const handle = await env.client.workflow.start('reingest', { taskQueue, workflowId, args: [{ stack: 'prod', alias: 'docs', source: 'chunks', embedder: 'minilm', approve: 'manual', window: '1m' }] });
      const until = Date.now() + 60_000;
      while (bodiesFor(workflowId).length === 0 && Date.now() < until) await sleep(100);
      const [told, ...more] = bodiesFor(workflowId);
      assert.equal(more.length, 0);
      assert.equal(told?.event, 'approval');
      assert.equal(told?.runbook, 'reingest');
      assert.equal((told?.details as Record<string, unknown>).approveCommand, `ragops reingest approve ${workflowId}`);
      assert.match(String(told?.summary), new RegExp(`^the switch of alias docs to ${NEW} waits for approval \\(for 24h\\): ragops reingest approve ${workflowId}$`));
      assert.equal(alias, 'docs_v1', 'nothing switched before the approval');
      const answer = await approveReingest(env.client, workflowId, 'ops@test');
      assert.ok(answer.accepted, JSON.stringify(answer));
      const report = (await handle.result()) as ReingestReport;
      assert.equal(report.outcome, 'switched');
      assert.equal(bodiesFor(workflowId).length, 1, 'a switch that succeeds tells no one more');
    });
  });
  test('a prune whose store cannot be listed fails, and the webhook is told "failed" with the cause', async () => {
    const taskQueue = uniqueName('notify-prune');
    const pruneFakes: Partial<Activities> = {
      resolvePruneTarget: async ({ stack }: { stack: string }) => ({ stack, store: { type: 'fs', path: '/srv/backups' }, storeLocation: 'fs /srv/backups', retention: retentionSchema.parse({ keepLast: 3 }), notify: plan.notify }) as never,
      listPruneCandidates: async () => {
        throw ApplicationFailure.nonRetryable('cannot list /srv/backups/prod: input/output error', 'StoreUnreadable');
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath,
      interceptors: { workflowModules: [WITHOUT_SEARCH_ATTRIBUTES] },
      activities: { ...createTemporalActivities({ temporalClient: async () => env.client }), ...createNotifyActivities(), ...pruneFakes },
    });
    await worker.runUntil(async () => {
      const workflowId = uniqueName('prune');
      const failure = await env.client.workflow.execute('pruneBackups', { taskQueue, workflowId, args: [{ stack: 'prod', dryRun: true }] }).then(() => assert.fail('the prune completed'), (caught: unknown) => caught);
      assert.ok(failure instanceof WorkflowFailedError);
      const [told, ...more] = bodiesFor(workflowId);
      assert.equal(more.length, 0);
      assert.equal(told?.event, 'failed');
      assert.equal(told?.runbook, 'pruneBackups');
      assert.match(String(told?.summary), /cannot list \/srv\/backups\/prod: input\/output error/);
    });
  });
});
