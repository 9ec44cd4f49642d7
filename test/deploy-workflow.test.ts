// The deploy workflow's logic with fake activities: order, rollback on a failed rollout,
// failed checks or a cancellation, migrations that stop the deploy, blue-green switching.
// The real compose and kubectl paths are exercised by deploy-compose / deploy-k8s tests.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Activities } from '../src/activities/index.js';
import type { DeployPlan } from '../src/config/plan.js';
import type { DeployReport } from '../src/workflows/deploy/index.js';
import { startFakeWorkerEnv, type FakeWorkerEnv } from './support/fake-workers.js';
import { uniqueName } from './support/ragops.js';
import type { DeployInput } from '../src/config/inputs.js';
import { createDeployPlanActivities, missingChecks } from '../src/activities/plan/deploy.js';
import { parseStacksFile } from '../src/config/load.js';
import { stringify } from 'yaml';

const health = [{ url: 'http://svc/health', expectStatus: 200, timeoutSeconds: 1, intervalMs: 100 }];

function composePlan(options: { stack: string; service: string; image: string }, migration?: string[]): DeployPlan {
  return {
    ...options,
    runTag: '0a1b2c3d',
    target: { type: 'compose', directory: '/srv', files: ['docker-compose.yml'], projectName: 'rag' },
    composeService: options.service,
    deployment: options.service,
    container: options.service,
    config: { health, smoke: [], rolloutTimeoutSeconds: 5, migration: migration ? { command: migration } : undefined },
  };
}

/** Images by id: "id-<tag>" is what a tag resolves to; a rollback deploys the recorded id. */
function fakes(calls: string[], overrides: Partial<Activities> = {}): Partial<Activities> {
  let running = 'id-api:v1';
  return {
    async resolveDeployPlan({ options }) {
      return composePlan(options, options.image.includes('migr') ? ['migrate'] : undefined);
    },
    async composeCurrentVersion() {
      calls.push('current');
      return { image: running.replace(/^id-/, ''), imageId: running, repoDigest: null };
    },
    async composePull({ image }) {
      calls.push(`pull ${image}`);
      if (image.includes('nopull')) throw ApplicationFailure.nonRetryable(`pull access denied for ${image}`, 'PullFailed');
      return { image, imageId: `id-${image}`, repoDigest: null, pinned: `id-${image}`, note: 'pulled' };
    },
    async composeMigrate({ image }) {
      calls.push(`migrate ${image}`);
      if (image.includes('badmigr')) throw ApplicationFailure.nonRetryable('migration exploded', 'MigrationFailed');
      return 'migrated';
    },
    async composeRollout({ image }) {
      calls.push(`up ${image}`);
      running = image;
    },
    async composeServiceHealth({ image }) {
      return { healthy: !image.includes('crash'), states: [{ image, imageId: image, running: !image.includes('crash'), health: undefined }], logsTail: image.includes('crash') ? 'boom' : '' };
    },
    async runHttpChecks({ checks, what }) {
      calls.push(`checks ${running}`);
      const passed = !running.includes('bad');
      return checks.map((check) => ({ url: check.url, passed, status: passed ? 200 : 500, attempts: 1, elapsedMs: 1, bodyTail: passed ? 'ok' : `unhealthy (${what})` }));
    },
    ...overrides,
  };
}

describe('deploy workflow logic (fake activities)', () => {
  let env: FakeWorkerEnv;
  before(async () => {
    env = await startFakeWorkerEnv();
  });
  after(async () => env?.stop());

  async function run(activities: Partial<Activities>, input: DeployInput): Promise<{ report?: DeployReport; failure?: ApplicationFailure }> {
    return env.withFakeWorker(activities, async (taskQueue) => {
      const handle = await env.temporal.client.workflow.start('deploy', { taskQueue, workflowId: uniqueName('deploy'), args: [input] });
      try {
        return { report: (await handle.result()) as DeployReport };
      } catch (error) {
        assert.ok(error instanceof WorkflowFailedError);
        return { failure: error.cause as ApplicationFailure };
      }
    });
  }

  test('v1 → v2: pull, roll out, verify; the report says deployed', async () => {
    const calls: string[] = [];
    const { report } = await run(fakes(calls), { stack: 'prod', service: 'api', image: 'api:v2' });
    assert.deepEqual(calls, ['current', 'pull api:v2', 'up id-api:v2', 'checks id-api:v2', 'current']);
    assert.equal(report?.outcome, 'deployed');
    assert.equal(report?.previous?.image, 'api:v1');
    assert.equal(report?.previous?.pinned, 'id-api:v1');
    assert.deepEqual(report?.deployed, { pinned: 'id-api:v2', digest: 'id-api:v2' });
  });

  test('v2 → bad: the failed health check rolls back to the recorded image and the run fails naming the check', async () => {
    const calls: string[] = [];
    const { failure } = await run(fakes(calls), { stack: 'prod', service: 'api', image: 'api:bad' });
    assert.deepEqual(calls, ['current', 'pull api:bad', 'up id-api:bad', 'checks id-api:bad', 'up id-api:v1', 'checks id-api:v1']);
    assert.equal(failure?.type, 'DeployFailed');
    assert.match(failure?.message ?? '', /failed at verify: FAILED http:\/\/svc\/health: 500.*rolled back to api:v1 \(id-api:v1\), healthy/);
    const report = failure?.details?.[0] as DeployReport;
    assert.equal(report.outcome, 'rolled back');
    assert.equal(report.rollback?.ok, true);
    assert.equal(report.rollback?.verified, true);
  });

  test('a container that does not come up rolls back with its logs as evidence', async () => {
    const { failure } = await run(fakes([]), { stack: 'prod', service: 'api', image: 'api:crash' });
    const report = failure?.details?.[0] as DeployReport;
    assert.equal(report.failure?.step, 'rollout');
    assert.match(report.failure?.evidence ?? '', /logs tail:\nboom/);
    assert.equal(report.outcome, 'rolled back');
  });

  test('a failing migration stops the deploy before any rollout', async () => {
    const calls: string[] = [];
    const { failure } = await run(fakes(calls), { stack: 'prod', service: 'api', image: 'api:badmigration' });
    assert.deepEqual(calls, ['current', 'pull api:badmigration', 'migrate id-api:badmigration']);
    assert.match(failure?.message ?? '', /migrate: migrate failed: migration exploded; nothing had been changed/);
  });

  test('injection attempts in service names and image references fail validation, before any activity', async () => {
    for (const input of [
      { stack: 'prod', service: 'api; rm -rf /', image: 'api:v2' },
      { stack: 'prod', service: 'api', image: '$(id)' },
      { stack: 'prod', service: '../x', image: 'api:v2' },
      { stack: 'prod', service: 'api', image: '../x' },
    ]) {
      const calls: string[] = [];
      const { failure } = await run(fakes(calls), input);
      assert.equal(failure?.type, 'InvalidInput', JSON.stringify(input));
      assert.match(failure?.message ?? '', /invalid deploy input: (service|image):/);
      assert.deepEqual(calls, []);
    }
  });

  test('a run cancelled by the operator during verification rolls back, then ends cancelled', async () => {
    const calls: string[] = [];
    let verifying!: () => void;
    const verificationStarted = new Promise<void>((resolve) => (verifying = resolve));
    const activities = fakes(calls, {
      async runHttpChecks({ what }) {
        calls.push(`checks (${what})`);
        if (what !== 'verify the new version') return [];
        verifying();
        for (;;) {
          Context.current().heartbeat();
          await Context.current().sleep(200); // throws once the cancellation arrives
        }
      },
    });
    await env.withFakeWorker(activities, async (taskQueue) => {
      const handle = await env.temporal.client.workflow.start('deploy', { taskQueue, workflowId: uniqueName('deploy'), args: [{ stack: 'prod', service: 'api', image: 'api:v2' }] });
      await verificationStarted;
      await handle.cancel();
      const failure = await handle.result().catch((error: unknown) => error);
      assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof CancelledFailure, String(failure));
      assert.deepEqual(calls, ['current', 'pull api:v2', 'up id-api:v2', 'checks (verify the new version)', 'up id-api:v1', 'checks (verify the rollback)']);
    });
  });
  test('a pull that fails fails the deploy at the pull step; nothing is changed', async () => {
    const calls: string[] = [];
    const { failure } = await run(fakes(calls), { stack: 'prod', service: 'api', image: 'api:nopull' });
    assert.deepEqual(calls, ['current', 'pull api:nopull']);
    assert.equal(failure?.type, 'DeployFailed');
    assert.match(failure?.message ?? '', /failed at pull: pull api:nopull failed: pull access denied.*nothing had been changed/);
  });

  test('a rollback activity that throws every time: the run still ends DeployFailed with its report saying the rollback did not complete', async () => {
    const calls: string[] = [];
    const activities = fakes(calls);
    const { failure } = await run(
      {
        ...activities,
        async composeRollout(request) {
          if (request.image === 'id-api:v1') throw ApplicationFailure.nonRetryable('docker daemon gone', 'DockerDown');
          return activities.composeRollout!(request);
        },
      },
      { stack: 'prod', service: 'api', image: 'api:bad' },
    );
    assert.equal(failure?.type, 'DeployFailed');
    assert.match(failure?.message ?? '', /failed at verify: .*rollback to api:v1 \(id-api:v1\) did NOT complete \(not verified\): .*docker daemon gone/);
    const report = failure?.details?.[0] as DeployReport;
    assert.equal(report.outcome, 'failed');
    assert.equal(report.rollback?.ok, false);
    assert.equal(report.failure?.step, 'verify');
  });

  test('a rollback with no checks configured says "not verified: no checks configured", and so does the outcome', async () => {
    const { failure } = await run(
      fakes([], {
        async resolveDeployPlan({ options }) {
          const plan = composePlan(options);
          return { ...plan, config: { ...plan.config, health: [], smoke: [] } };
        },
      }),
      { stack: 'prod', service: 'api', image: 'api:crash' },
    );
    const report = failure?.details?.[0] as DeployReport;
    assert.equal(report.outcome, 'rolled back, not verified');
    assert.equal(report.rollback?.verified, false);
    assert.match(failure?.message ?? '', /rolled back to api:v1 \(id-api:v1\), not verified: no checks configured/);
  });

  test('requireChecks: a deploy without checks to verify it is refused at validation', () => {
    const config = { health: [], smoke: [], rolloutTimeoutSeconds: 5 };
    assert.equal(missingChecks('api', config, 'rolling'), undefined);
    assert.match(missingChecks('api', { ...config, requireChecks: true }, 'rolling') ?? '', /deploy\.services\.api\.health: requireChecks is set but no health check/);
    const blueGreen = { service: 'api-bg', selectorLabel: 'color', deployments: { blue: 'a', green: 'b' }, health: { blue: health }, smoke: {} };
    assert.match(missingChecks('web', { ...config, blueGreen }, 'blueGreen') ?? '', /blueGreen\.health: no health check for green/);
    assert.equal(missingChecks('web', { ...config, blueGreen, requireChecks: false }, 'blueGreen'), undefined);
    assert.equal(missingChecks('web', { ...config, blueGreen: { ...blueGreen, health: { blue: health, green: health } } }, 'blueGreen'), undefined);
  });
  test('blue-green on a Compose target is refused at validation, saying why', async () => {
    const stacks = parseStacksFile(
      stringify({ stacks: { prod: { store: { type: 'fs', path: '/srv/backups' }, deploy: { target: { type: 'compose', directory: '/srv', projectName: 'rag' }, services: { api: {} } } } } }),
      'test stacks',
    );
    const { resolveDeployPlan } = createDeployPlanActivities({ loadStacks: async () => stacks });
    await assert.rejects(resolveDeployPlan({ options: { stack: 'prod', service: 'api', image: 'api:v2', strategy: 'blueGreen', backup: false, rollbackWindowSeconds: 60 } }), (error: Error & { type?: string }) => {
      assert.equal(error.type, 'InvalidInput');
      assert.match(error.message, /blue-green on Compose needs a traffic shifter .* comes with the canary runbook; deploy this service with strategy rolling/);
      return true;
    });
  });
});
