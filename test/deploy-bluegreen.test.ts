// Blue-green on Kubernetes (real kubectl, API stand-in): backup and migration before the
// switch, the idle colour's health and smoke checks gating it, compensation on failure and
// cancellation, and the `rollback` update inside and after the window.
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { requestRollback, startDeploy } from '../src/client/api/runbooks.js';
import type { DeployInput } from '../src/config/inputs.js';
import type { DeployReport } from '../src/workflows/deploy/index.js';
import { startCheckServer, type CheckServer } from './support/check-server.js';
import { deployFailure } from './support/deploy.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';
import { imageOf, kubernetesStacks, NAMESPACE, seedCluster } from './support/k8s-stack.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));

describe('blue-green deploy on Kubernetes (real kubectl, API stand-in)', () => {
  let kube: KubeStandin;
  let temporal: TestTemporal;
  let checks: CheckServer;
  let db: TestDatabase;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let worker: RunningWorker;
  const taskQueue = uniqueName('deploy-bg');

  before(async () => {
    [kube, temporal, checks, db, store] = await Promise.all([startKubeStandin(), startTestTemporal(), startCheckServer(), createTestDatabase('bg'), tempDir('deploy-bg')]);
    seedCluster(kube);
    const client = await db.client();
    await client.query(`CREATE TABLE settings (key text PRIMARY KEY, value text); INSERT INTO settings VALUES ('mode', 'live')`);
    const stacks = kubernetesStacks(kube, 5, checks) as { stacks: { prod: Record<string, unknown> } };
    stacks.stacks.prod.postgres = [{ name: 'app', host: '127.0.0.1', port: 5432, database: db.name, user: 'postgres' }];
    stacks.stacks.prod.store = { type: 'fs', path: store.path };
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([kube?.stop(), temporal?.stop(), checks?.stop(), db?.drop(), store?.remove()]);
  });

  const selectedColour = () => kube.get('service', NAMESPACE, 'api-bg').spec.selector.color as string;
  const replicasOf = (name: string) => kube.get('deployment', NAMESPACE, name).spec.replicas as number;
  const start = (input: Partial<DeployInput>) =>
    startDeploy(temporal.client, { stack: 'prod', service: 'web', image: 'ragops-test/api:v3', strategy: 'blueGreen', rollbackWindowSeconds: 600, ...input }, { taskQueue });

  async function switched(handle: Awaited<ReturnType<typeof start>>): Promise<DeployReport> {
    for (let i = 0; i < 300; i += 1) {
      const status = (await handle.query('status').catch(() => undefined)) as DeployReport | undefined;
      if (status?.blueGreen?.switchedAt) return status;
      await sleep(100);
    }
    assert.fail('the deploy never switched');
  }

  async function eventOrder(workflowId: string): Promise<string[]> {
    const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    return events.flatMap((e) => {
      if (e.startChildWorkflowExecutionInitiatedEventAttributes) return [`child ${e.startChildWorkflowExecutionInitiatedEventAttributes.workflowType?.name}`];
      const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return type ? [type] : [];
    });
  }

  test('with --backup and a migration: both run before the switch and are in the report', async () => {
    const handle = await start({ service: 'web-migrating', image: 'ragops-test/api:v2', backup: true, rollbackWindowSeconds: 1 });
    const report = (await handle.result()) as DeployReport;
    assert.equal(report.outcome, 'deployed');
    assert.match(report.backup?.backupId ?? '', /./);
    assert.ok(report.migrationOutput !== undefined, 'the migration output is in the report');
    const order = await eventOrder(handle.workflowId);
    const switchAt = order.indexOf('k8sSwitchService');
    assert.ok(order.indexOf('child backup') >= 0 && order.indexOf('child backup') < switchAt, order.join(', '));
    assert.ok(order.indexOf('k8sRunMigration') >= 0 && order.indexOf('k8sRunMigration') < switchAt, order.join(', '));
    assert.equal(selectedColour(), 'green');
    assert.equal(imageOf(kube, 'api-green').split('@')[0], 'ragops-test/api:v2');
    assert.equal(replicasOf('api-blue'), 0, 'the old colour is scaled to zero after the window');
    assert.match(report.deployed?.pinned ?? '', /ragops-test\/api(:v2)?@sha256:[0-9a-f]{64}$|^ragops-test\/api:v2$/);
    assert.deepEqual(
      checks.requests.filter((r) => r.path.startsWith('/green/')).map((r) => r.path).filter((p, i, all) => all.indexOf(p) === i).sort(),
      ['/green/health', '/green/smoke'],
      'the idle colour was checked, health and smoke, before the switch',
    );
  });

  test('a smoke check failing on the idle colour: no switch, the idle colour back to its former scale, the run names the check', async () => {
    const blueBefore = { replicas: replicasOf('api-blue'), image: imageOf(kube, 'api-blue') };
    checks.answer('/blue/smoke', 500);
    try {
      const { message, type, report } = await deployFailure((await start({})).result());
      assert.equal(type, 'DeployFailed');
      assert.match(message, /failed at verify: FAILED http:\/\/127\.0\.0\.1:\d+\/blue\/smoke: 500/);
      assert.equal(report.rollback?.ok, true);
      assert.equal(report.rollback?.verified, true, report.rollback?.evidence);
      assert.equal(report.blueGreen?.switchedAt, undefined);
    } finally {
      checks.answer('/blue/smoke', 200);
    }
    assert.equal(selectedColour(), 'green', 'no switch happened');
    assert.deepEqual({ replicas: replicasOf('api-blue'), image: imageOf(kube, 'api-blue') }, blueBefore);
  });

  test('cancellation inside the window: the selector is restored to the old colour, the idle colour scaled back', async () => {
    const handle = await start({});
    await switched(handle);
    assert.equal(selectedColour(), 'blue');
    await handle.cancel();
    const failure = await handle.result().catch((error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof CancelledFailure, String(failure));
    assert.equal(selectedColour(), 'green');
    assert.equal(replicasOf('api-blue'), 0);
  });

  test('the rollback update inside the window switches back and returns the verified result', async () => {
    const handle = await start({});
    await switched(handle);
    const cli = await execa(process.execPath, [RAGOPS, 'deploy', 'rollback', handle.workflowId], {
      env: { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: 'default' },
      reject: false,
      all: true,
    });
    assert.equal(cli.exitCode, 0, cli.all);
    assert.match(cli.all ?? '', new RegExp(`rollback of ${handle.workflowId}: done, verified`));
    assert.match(cli.all ?? '', /ok http:\/\/127\.0\.0\.1:\d+\/green\/health: 200/);
    // Answered again through the API: a second rollback is refused, the first one's result stands.
    const answer = { accepted: true as const, result: (await handle.query('status') as DeployReport).rollback! };
    assert.ok(answer.result, 'the report holds the rollback result');
    assert.equal(answer.result.ok, true);
    assert.equal(answer.result.verified, true, answer.result.evidence);
    assert.ok(answer.result.checks.some((check) => check.url.endsWith('/green/health') && check.passed));
    const report = (await handle.result()) as DeployReport;
    assert.equal(report.outcome, 'rolled back');
    assert.equal(selectedColour(), 'green');
    assert.equal(replicasOf('api-blue'), 0);
    const again = await requestRollback(temporal.client, handle.workflowId);
    assert.deepEqual(again.accepted, false);
  });

  test('the rollback update after the window, or on a rolling deploy, is rejected with the reason', async () => {
    const handle = await start({ rollbackWindowSeconds: 1 });
    assert.equal(((await handle.result()) as DeployReport).outcome, 'deployed');
    const late = await requestRollback(temporal.client, handle.workflowId);
    assert.equal(late.accepted, false);
    assert.match(!late.accepted ? late.reason : '', /rollback window is closed/);
    // The operator's view: `ragops deploy rollback` prints the refusal and exits non-zero.
    const cli = await execa(process.execPath, [RAGOPS, 'deploy', 'rollback', handle.workflowId], {
      env: { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: 'default' },
      reject: false,
      all: true,
    });
    assert.equal(cli.exitCode, 1, cli.all);
    assert.match(cli.all ?? '', new RegExp(`rollback refused by ${handle.workflowId}: the deploy has ended \\(completed\\): its rollback window is closed`));

    // A rolling deploy, still running (its rollout waits on a bad image): refused by the validator.
    const rolling = await startDeploy(temporal.client, { stack: 'prod', service: 'api-no-migration', image: 'ragops-test/api:bad' }, { taskQueue });
    const refused = await requestRollback(temporal.client, rolling.workflowId);
    assert.equal(refused.accepted, false);
    assert.match(!refused.accepted ? refused.reason : '', /rolling deploy: it has no rollback window/);
    await rolling.result().catch(() => undefined);
  });
});
