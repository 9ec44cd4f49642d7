// disasterRecovery of a whole stack on Docker Compose (the real engine): the machine's
// PostgreSQL, the Qdrant stand-in, Redis in a container and an API (busybox) whose health
// follows its database (test/support/dr-stack.ts). Backed up and drilled, then destroyed —
// database dropped, collections and aliases deleted, Redis flushed, the API's container
// removed — and recovered with approve: auto; the API's /health turning 500 as traffic
// arrives fails the run at validate; a drill into a second stack leaves production as it
// was and tears itself down.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startBackup, startDisasterRecovery, startVerify } from '../src/client/api/runbooks.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { combineStacks, DR_API_IMAGES, startDrStack, type DrStack } from './support/dr-stack.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

interface AdminEndpoint {
  url: string;
  weight: number | null;
  /** Runs when a weight is set, before the answer: what the switch brings about. */
  onSwitch?: () => Promise<void>;
  stop(): Promise<void>;
}

/** An application's traffic admin endpoint: PUT {"weight": n} sets the recovered side's share, GET reads it. */
async function startAdminEndpoint(): Promise<AdminEndpoint> {
  const endpoint: AdminEndpoint = { url: '', weight: null, stop: async () => undefined };
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      void (async () => {
        if (request.method === 'PUT') {
          endpoint.weight = (JSON.parse(body) as { weight: number }).weight;
          await endpoint.onSwitch?.();
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ weight: endpoint.weight }));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/traffic`;
  endpoint.stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return endpoint;
}

describe('disasterRecovery of a stack on Docker Compose', { timeout: 900_000 }, () => {
  let temporal: TestTemporal;
  let prod: DrStack;
  let drill: DrStack;
  let worker: RunningWorker;
  let backup: BackupReport;
  let admin: AdminEndpoint;
  const taskQueue = uniqueName('dr-compose');

  before(async () => {
    temporal = await startTestTemporal();
    prod = await startDrStack({ documents: 200 });
    drill = await startDrStack({ documents: 10 });
    const stacks = combineStacks(prod.stacks({ dr: { drillStack: 'prod-drill' } }), drill.stacks({ stack: 'prod-drill', storePath: prod.storeDir, dr: true }));
    // The traffic step: the application's own admin endpoint (the shifter kind `http`), between deploy and validate.
    admin = await startAdminEndpoint();
    const prodStack = (stacks as { stacks: Record<string, { dr: Record<string, unknown> }> }).stacks.prod!;
    prodStack.dr.traffic = { shifter: { type: 'http', url: admin.url, body: '{"weight": {{weight}}}', readUrl: admin.url, readPath: 'weight' }, weight: 100 };
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
    backup = await (await startBackup(temporal.client, { stack: 'prod' }, { taskQueue })).result();
    const drilled = await (await startVerify(temporal.client, { stack: 'prod', backupId: backup.backupId, depth: 'restore' }, { taskQueue })).result();
    assert.equal(drilled.passed, true);
  });
  after(async () => {
    await worker?.stop();
    await admin?.stop();
    await Promise.allSettled([prod?.stop(), drill?.stop()]);
    await temporal?.stop();
  });

  test('destroyed, then recovered with approve: auto: exact counts, collections and aliases, Redis keys, a healthy API at the backed-up version; RPO and RTO measured', async () => {
    const manifest = JSON.parse(await readFile(join(prod.storeDir, backup.manifestKey), 'utf8')) as { startedAt: string; services?: Array<{ service: string; image: string }> };
    assert.deepEqual(manifest.services?.map((s) => [s.service, s.image]), [['api', DR_API_IMAGES.v1]], 'the backup recorded what the api ran');
    const destroyed = await prod.destroy();
    assert.ok(destroyed.apiContainers.length > 0);
    const incidentAt = new Date().toISOString();
    const wallStart = Date.now();
    const report = (await (await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'recover', approve: 'auto', incidentAt }, { taskQueue })).result()) as DrReport;
    const wallSeconds = (Date.now() - Date.parse(incidentAt)) / 1000;
    assert.equal(report.outcome, 'recovered', JSON.stringify(report.failure));
    const state = await prod.state();
    assert.deepEqual(state.database, prod.seeded.database);
    assert.deepEqual(state.qdrant, prod.seeded.qdrant);
    assert.deepEqual(state.redis, prod.seeded.redis);
    assert.equal(state.api.health.status, 200);
    assert.deepEqual(state.api.containers.map((c) => [c.status, c.health]), [['running', 'healthy']]);
    assert.deepEqual(report.deploys.map((d) => [d.service, d.image]), [['api', DR_API_IMAGES.v1]]);
    assert.deepEqual(report.phases.map((p) => [p.phase, p.outcome]), [
      ['assess', 'done'], ['approve', 'skipped'], ['stop writers', 'done'], ['restore data', 'done'], ['verify dependencies', 'done'],
      ['deploy services', 'done'], ['traffic', 'done'], ['validate', 'done'], ['report', 'done'],
    ]);
    assert.equal(admin.weight, 100, 'the traffic step moved everything to the recovered side');
    assert.ok(Math.abs(report.rpo!.seconds - (Date.parse(incidentAt) - Date.parse(manifest.startedAt)) / 1000) < 1, `RPO ${report.rpo!.seconds} s`);
    // RTO runs to the validation's end; the wall clock here runs a little past it (the report phase).
    assert.ok(report.rto!.seconds <= wallSeconds && wallSeconds - report.rto!.seconds < 5, `RTO ${report.rto!.seconds} s, wall ${wallSeconds} s since ${new Date(wallStart).toISOString()}`);
    assert.equal(report.rto!.met, true);
  });

  test('validation failing (the API answers 500 on /health after its deploy): the run fails at validate with the evidence and every component\'s state', async () => {
    await prod.destroy();
    // Deployed and healthy; then, as traffic arrives, /health starts answering 500.
    admin.weight = 0; // traffic went back to the old side meanwhile: the recovery moves it again
    admin.onSwitch = () => prod.forceHealth500(true);
    try {
      const failure = await (await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'recover', approve: 'auto' }, { taskQueue })).result().then(
        () => assert.fail('the recovery passed its validation'),
        (error: { cause?: { type?: string; message: string; details?: unknown[] } }) => error.cause!,
      );
      assert.equal(failure.type, 'DisasterRecoveryFailed');
      assert.match(failure.message, /failed at validate: end-to-end checks failing: .*\/health: 500/);
      const report = (failure.details as DrReport[])[0]!;
      assert.equal(report.failure?.phase, 'validate');
      assert.ok(report.validation.some((evidence) => !evidence.passed && evidence.status === 500), JSON.stringify(report.validation));
      assert.deepEqual(
        Object.entries(report.components).sort(),
        [['postgres app (' + prod.db.name + ')', 'restored'], ['qdrant docs_v1', 'restored'], ['qdrant faq', 'restored'], ['redis cache', 'restored'], ['service api', `running ${DR_API_IMAGES.v1}`], ['traffic (http)', '100 % to the recovered side']].sort(),
      );
    } finally {
      admin.onSwitch = undefined;
      await prod.forceHealth500(false);
    }
  });

  test('a drill into the drill stack: production untouched before and after, the drill stack torn down, the evidence beside the backup', async () => {
    // A dedicated drill stack holds nothing of its own: what the drill creates there, it removes.
    await drill.destroy();
    const prodBefore = await prod.state();
    const report = (await (await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'drill', approve: 'auto' }, { taskQueue })).result()) as DrReport;
    assert.equal(report.outcome, 'drilled', JSON.stringify(report.failure));
    assert.equal(report.targetStack, 'prod-drill');
    assert.deepEqual(report.phases.find((p) => p.phase === 'stop writers')?.outcome, 'skipped');
    const prodAfter = await prod.state();
    assert.deepEqual({ ...prodAfter, api: prodAfter.api.containers.map((c) => c.id) }, { ...prodBefore, api: prodBefore.api.containers.map((c) => c.id) }, 'production is as it was');
    const drillAfter = await drill.state();
    assert.equal(drillAfter.database, null, 'the database the drill restored is dropped');
    assert.deepEqual(Object.keys(drillAfter.qdrant.collections), [], 'the collections the drill recovered are deleted');
    assert.deepEqual(drillAfter.api.containers, [], 'the api the drill deployed is removed');
    assert.deepEqual(drillAfter.redis, {}, 'the keys the drill restored into the drill stack\'s Redis are flushed');
    assert.ok(report.teardown?.some((line) => /service api: containers removed/.test(line)), JSON.stringify(report.teardown));
    assert.ok(report.evidenceKey?.startsWith(`prod/${backup.backupId}/dr/`) && report.evidenceKey.endsWith('-drill.json'));
    const evidence = JSON.parse(await readFile(join(prod.storeDir, report.evidenceKey!), 'utf8')) as DrReport;
    assert.equal(evidence.outcome, 'drilled');
  });
});
