// One run per target at a time: workflow ids per runbook and target refuse a second run at
// start, and leases (one lock workflow per target) hold runs started with any id to the same
// rule. Real Temporal dev server, in-process worker, real Postgres, the Kubernetes stand-in.
import { WithStartWorkflowOperation, WorkflowFailedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { RunInProgress, startBackup, startDeploy } from '../src/client/api/runbooks.js';
import { leaseWorkflowId } from '../src/core/leases.js';
import type { DeployReport, RollbackResult } from '../src/workflows/deploy/index.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';
import { kubernetesStacks, seedCluster } from './support/k8s-stack.js';
import { dropDatabaseIfExists } from './support/postgres.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { recordHistory } from './support/histories.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));

/** The failure of a run that must fail: its type and message (the root cause's). */
async function failureOf(result: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const error = await result.then(
    () => assert.fail('the run did not fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkflowFailedError, `not a workflow failure: ${String(error)}`);
  const cause = error.cause as (Error & { type?: string }) | undefined;
  return { type: cause?.type, message: cause?.message ?? '' };
}

async function activityTypes(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });
}

/** Waits until a blue-green deploy has switched, so it holds its lease for the rest of its window. */
async function waitForSwitch(client: Client, workflowId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  for (let i = 0; i < 300; i += 1) {
    const status = (await handle.query('status').catch(() => undefined)) as DeployReport | undefined;
    if (status?.blueGreen?.switchedAt) return;
    await sleep(100);
  }
  assert.fail(`${workflowId} never switched`);
}

describe('exclusion: one run per target at a time', () => {
  let fixture: BackupFixture;
  let kube: KubeStandin;
  let worker: RunningWorker;
  let taskQueue: string;
  let client: Client;
  let store: { path: string; remove(): Promise<void> };
  const restoredDatabase = `ragops_t_excl_${Date.now().toString(36)}`;

  before(async () => {
    [fixture, kube, store] = await Promise.all([startBackupFixture({ documents: 5_000 }), startKubeStandin(), tempDir('exclusion')]);
    seedCluster(kube);
    client = fixture.temporal.client;
    const prod = (fixture.stacks({ store: 'fs', fsPath: `${store.path}/prod` }) as { stacks: { prod: Record<string, unknown> } }).stacks.prod;
    const deploy = (kubernetesStacks(kube) as { stacks: { prod: { deploy: unknown } } }).stacks.prod.deploy;
    const stacks = {
      stacks: {
        prod: { ...prod, deploy },
        // Another stack reading the same database: backups of both may run at once (shared leases).
        other: { postgres: prod.postgres, store: { type: 'fs', path: `${store.path}/other` } },
      },
    };
    taskQueue = uniqueName('exclusion');
    worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await dropDatabaseIfExists(restoredDatabase);
    await Promise.allSettled([fixture?.stop(), kube?.stop(), store?.remove()]);
  });

  test('backups of two different stacks at once both complete; a second backup of one stack is refused at start', async () => {
    const [prod, other] = await Promise.all([startBackup(client, { stack: 'prod' }, { taskQueue }), startBackup(client, { stack: 'other' }, { taskQueue })]);
    assert.equal(prod.workflowId, 'backup-prod');
    const refused = await startBackup(client, { stack: 'prod' }, { taskQueue }).then(
      () => assert.fail('a second backup of prod was started'),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof RunInProgress);
    assert.equal(refused.runId, prod.firstExecutionRunId);
    const [prodReport, otherReport] = await Promise.all([prod.result(), other.result()]);
    assert.equal(prodReport.stack, 'prod');
    assert.equal(otherReport.stack, 'other');
    // A closed run's id is free again.
    assert.equal((await (await startBackup(client, { stack: 'other' }, { taskQueue })).result()).stack, 'other');
  });

  test('deploys of one service: the second `startDeploy` is refused at start naming the first; any other id fails TargetBusy before touching anything', async () => {
    const input = { stack: 'prod', service: 'web', image: 'ragops-test/api:v2', strategy: 'blueGreen' as const, rollbackWindowSeconds: 600 };
    const first = await startDeploy(client, input, { taskQueue });
    assert.equal(first.workflowId, 'deploy-prod-web');
    await waitForSwitch(client, first.workflowId);

    const refused = await startDeploy(client, { ...input, image: 'ragops-test/api:v3' }, { taskQueue }).then(
      () => assert.fail('a second deploy of web was started'),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof RunInProgress);
    assert.match(refused.message, /deploy-prod-web is already running — deploy run /);
    assert.ok(refused.message.includes(first.firstExecutionRunId), refused.message);
    assert.ok(refused.message.includes(`/namespaces/default/workflows/deploy-prod-web/${first.firstExecutionRunId}`), refused.message);

    // The operator's view: `ragops deploy run` of the same service exits non-zero naming the run and its link.
    const cli = await execa(
      process.execPath,
      [RAGOPS, 'deploy', 'run', '--stack', 'prod', '--service', 'web', '--image', 'ragops-test/api:v3', '--strategy', 'blueGreen', '--task-queue', taskQueue],
      { env: { TEMPORAL_ADDRESS: fixture.temporal.address, TEMPORAL_NAMESPACE: 'default', RAGOPS_UI_URL: 'http://ui.test:8233' }, reject: false, all: true },
    );
    assert.notEqual(cli.exitCode, 0, cli.all);
    assert.match(cli.all ?? '', /ragops: refused: deploy-prod-web is already running — deploy run /);
    assert.ok(cli.all?.includes(`http://ui.test:8233/namespaces/default/workflows/deploy-prod-web/${first.firstExecutionRunId}`), cli.all);

    // `temporal workflow start` with an arbitrary id: the lease refuses it.
    const otherId = uniqueName('manual-deploy');
    const other = await client.workflow.start('deploy', { taskQueue, workflowId: otherId, args: [{ ...input, image: 'ragops-test/api:v3' }] });
    const failure = await failureOf(other.result());
    assert.equal(failure.type, 'TargetBusy');
    assert.match(failure.message, /service:prod\/web is held by deploy run deploy-prod-web \(exclusive/);
    assert.ok(failure.message.includes(`/workflows/deploy-prod-web/${first.firstExecutionRunId}`), failure.message);
    assert.deepEqual(await activityTypes(client, otherId), ['resolveDeployPlan', 'acquireLeases']);
    await recordHistory(fixture.temporal, otherId, 'deploy-target-busy');
    assert.deepEqual(
      (await client.workflow.getHandle(leaseWorkflowId('service:prod/web')).query<Array<{ workflowId: string }>>('holders')).map((h) => h.workflowId),
      ['deploy-prod-web'],
    );

    const rollback = await first.executeUpdate<RollbackResult, []>('rollback');
    assert.equal(rollback.ok, true);
    // This stack configures no checks for its colours (requireChecks: false): the rollback is done, not verified.
    assert.equal(((await first.result()) as DeployReport).outcome, 'rolled back, not verified');
    // Released: the lease workflow finishes once nobody holds it.
    const lease = await client.workflow.getHandle(leaseWorkflowId('service:prod/web')).result();
    assert.deepEqual(lease.lastHolders.map((h: { workflowId: string }) => h.workflowId), ['deploy-prod-web']);
    await recordHistory(fixture.temporal, 'deploy-prod-web', 'deploy-blue-green-rolled-back');
    await recordHistory(fixture.temporal, leaseWorkflowId('service:prod/web'), 'lease-held-and-released');
  });

  test('a cancelled run releases its lease on the way out', async () => {
    const input = { stack: 'prod', service: 'web', image: 'ragops-test/api:v3', strategy: 'blueGreen' as const, rollbackWindowSeconds: 600 };
    const handle = await startDeploy(client, input, { taskQueue });
    await waitForSwitch(client, handle.workflowId);
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    const lease = await client.workflow.getHandle(leaseWorkflowId('service:prod/web')).result();
    assert.deepEqual(lease.lastHolders.map((h: { workflowId: string }) => h.workflowId), ['deploy-prod-web'], 'released, so the lease workflow finished');
    assert.equal((await activityTypes(client, handle.workflowId)).at(-1), 'releaseLeases');
  });

  test('a terminated holder does not block the next run', async () => {
    const input = { stack: 'prod', service: 'web', image: 'ragops-test/api:v3', strategy: 'blueGreen' as const, rollbackWindowSeconds: 600 };
    const crashedId = uniqueName('terminated-deploy');
    const crashed = await client.workflow.start('deploy', { taskQueue, workflowId: crashedId, args: [input] });
    await waitForSwitch(client, crashedId);
    await crashed.terminate('simulated operator kill: the lease is never released');
    const holders = await client.workflow.getHandle(leaseWorkflowId('service:prod/web')).query<Array<{ workflowId: string }>>('holders');
    assert.deepEqual(holders.map((h) => h.workflowId), [crashedId], 'the terminated run still holds the lease');

    const next = await startDeploy(client, { ...input, image: 'ragops-test/api:v2', rollbackWindowSeconds: 1 }, { taskQueue });
    const report = (await next.result()) as DeployReport;
    assert.equal(report.outcome, 'deployed');
  });

  test('the lease workflow: its validator rejects a malformed acquire; a held lease answers busy with its holders; release is idempotent', async () => {
    const target = `test:${uniqueName('lease')}`;
    const operation = () =>
      new WithStartWorkflowOperation('lease', { workflowId: leaseWorkflowId(target), taskQueue, args: [], workflowIdConflictPolicy: 'USE_EXISTING' });
    const acquire = (request: unknown) => client.workflow.executeUpdateWithStart('acquire', { args: [request], startWorkflowOperation: operation() });
    await assert.rejects(acquire({ workflowId: 'a', runbook: 'backup', mode: 'both' }), (error: unknown) => {
      assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
      assert.match(String((error.cause as Error | undefined)?.message), /invalid lease request: mode/);
      return true;
    });
    assert.deepEqual(await acquire({ workflowId: 'a', runbook: 'backup', mode: 'shared' }), { granted: true });
    assert.deepEqual(await acquire({ workflowId: 'b', runbook: 'backup', mode: 'shared' }), { granted: true });
    const busy = (await acquire({ workflowId: 'c', runbook: 'restore', mode: 'exclusive' })) as { granted: boolean; blockers: Array<{ workflowId: string }> };
    assert.equal(busy.granted, false);
    assert.deepEqual(busy.blockers.map((h) => h.workflowId), ['a', 'b']);
    const lease = client.workflow.getHandle(leaseWorkflowId(target));
    for (const holder of ['a', 'a', 'b']) await lease.executeUpdate('release', { args: [{ workflowId: holder }] }).catch(() => undefined);
    assert.deepEqual((await lease.result()).lastHolders.map((h: { workflowId: string }) => h.workflowId), ['a', 'b']);
  });

  test('two restores into one target database: the second fails TargetBusy', async () => {
    await (await startBackup(client, { stack: 'prod', components: ['postgres'] }, { taskQueue })).result();
    const input = { stack: 'prod', components: ['postgres' as const], postgres: { app: { database: restoredDatabase } } };
    const ids = [uniqueName('restore-a'), uniqueName('restore-b')];
    const handles = await Promise.all(ids.map((workflowId) => client.workflow.start('restore', { taskQueue, workflowId, args: [input] })));
    const outcomes = await Promise.allSettled(handles.map((handle) => handle.result()));
    const done = outcomes.findIndex((outcome) => outcome.status === 'fulfilled');
    assert.notEqual(done, -1, `neither restore completed: ${outcomes.map((o) => (o.status === 'rejected' ? String(o.reason?.cause?.message) : 'ok')).join('; ')}`);
    const refusedIndex = 1 - done;
    const failure = await failureOf(handles[refusedIndex]!.result());
    assert.equal(failure.type, 'TargetBusy');
    assert.match(failure.message, new RegExp(`postgres:127\\.0\\.0\\.1:5432/${restoredDatabase} is held by restore run ${ids[done]}`));
    assert.deepEqual(await activityTypes(client, ids[refusedIndex]!), ['resolveRestorePlan', 'acquireLeases']);
  });
});
