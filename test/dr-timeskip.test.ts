// The approval gate of disasterRecovery on the time-skipping test server: nobody approves
// within the stack's approvalTimeout (hours), so the run ends "not approved" with nothing
// touched — no writer stopped, no restore started. Activities are fakes: this is the
// workflow's logic; the real side is in dr-workflow.test.ts.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Activities } from '../src/activities/index.js';
import type { DisasterRecoveryOptions } from '../src/config/inputs.js';
import type { DrPlan } from '../src/config/plan.js';
import { workflowsPath } from '../src/worker.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { quietRuntime, uniqueName } from './support/ragops.js';

const WITHOUT_SEARCH_ATTRIBUTES = fileURLToPath(new URL('./support/without-search-attributes.ts', import.meta.url));
const TEST_SERVER = fileURLToPath(new URL('../.venv/bin/temporal-test-server', import.meta.url));

function fakes(touched: string[]): Partial<Activities> {
  const plan = (options: DisasterRecoveryOptions): DrPlan => ({
    stack: options.stack,
    mode: options.mode,
    targetStack: options.stack,
    runTag: 'a1b2c3d4',
    store: { type: 'fs', path: '/nonexistent' } as DrPlan['store'],
    backup: { backupId: '20261206T000000Z-a1b2c3d4', startedAt: '2026-12-06T00:00:00.000Z', finishedAt: '2026-12-06T00:01:00.000Z', verified: true, why: 'the newest backup whose last restore drill passed' },
    dataAsOf: '2026-12-06T00:00:00.000Z',
    restoreGroups: [['postgres']],
    components: { postgres: [{ label: 'app', database: 'app' }], qdrant: [], redis: [] },
    writers: [{ service: 'api', composeService: 'api', deployment: 'api', container: 'api' }],
    deployTarget: { type: 'compose', directory: '/srv/app', files: ['docker-compose.yml'], projectName: 'app' },
    services: [{ service: 'api', image: 'registry.example.com/api:1.0', source: 'the backup manifest' }],
    dependencies: [],
    validation: [{ url: 'http://api.test/health', expectStatus: 200, timeoutSeconds: 5, intervalMs: 1000 }],
    targets: { rtoMinutes: 240, rpoMinutes: 60 },
    approvalTimeout: '4h',
    probes: [{ component: 'postgres app', answers: false, detail: 'connection refused' }],
  });
  return {
    async resolveDrPlan({ options }: { options: DisasterRecoveryOptions }) {
      return plan(options);
    },
    async acquireLeases({ claims }: { claims: Array<{ target: string }> }) {
      return { targets: claims.map((claim) => claim.target) } as never;
    },
    async releaseLeases() {
      return undefined as never;
    },
    async stopDrWriter() {
      touched.push('stopDrWriter');
      return 'stopped';
    },
    async checkDrDependencies() {
      touched.push('checkDrDependencies');
      return [];
    },
    async runHttpChecks() {
      touched.push('runHttpChecks');
      return [];
    },
  };
}

describe('disasterRecovery approval gate (time-skipping test server, fake activities)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    quietRuntime();
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER } } });
  });
  after(async () => env?.teardown());

  test('no approval within 4 h: the run ends not approved, nothing stopped or restored', async () => {
    const touched: string[] = [];
    const taskQueue = uniqueName('dr-ts');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath, interceptors: { workflowModules: [WITHOUT_SEARCH_ATTRIBUTES] }, activities: fakes(touched) });
    await worker.runUntil(async () => {
      const startedAt = await env.currentTimeMs();
      const handle = await env.client.workflow.start('disasterRecovery', { taskQueue, workflowId: uniqueName('dr'), args: [{ stack: 'prod', mode: 'recover' }] });
      const failure = await handle.result().then(() => assert.fail('the run was approved'), (error: unknown) => error);
      assert.ok(failure instanceof WorkflowFailedError);
      const cause = failure.cause as Error & { type?: string; details?: unknown[] };
      assert.equal(cause.type, 'NotApproved');
      assert.match(cause.message, /not approved within 4h; nothing was touched/);
      const report = (cause.details as DrReport[])[0]!;
      assert.equal(report.outcome, 'not approved');
      assert.deepEqual(report.phases.map((p) => [p.phase, p.outcome]), [['assess', 'done'], ['approve', 'done']]);
      assert.ok((await env.currentTimeMs()) - startedAt >= 4 * 3600_000, 'four hours passed on the server clock');
      assert.deepEqual(touched, []);
      const history = await handle.fetchHistory();
      assert.ok(!(history.events ?? []).some((event) => event.startChildWorkflowExecutionInitiatedEventAttributes), 'no child restore or deploy was started');
    });
  });
});
