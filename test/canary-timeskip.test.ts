// The canary's step loop in a time-skipping test server: the AI Docs guide's stages as written
// (hours of pauses) run in seconds of wall time. Activities are fakes: this is the workflow's
// logic; the shifters and metrics are tested against real proxies and Prometheus elsewhere.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Activities } from '../src/activities/index.js';
import { createTemporalActivities } from '../src/activities/temporal/index.js';
import type { CanaryInput } from '../src/config/inputs.js';
import type { DeployPlan } from '../src/config/plan.js';
import type { CanaryConfig, CanaryStep } from '../src/config/stacks/canary.js';
import { metricSchema } from '../src/config/stacks/metrics.js';
import { workflowsPath } from '../src/worker.js';
import type { CanaryActivities } from '../src/workflows/canary/activities.js';
import type { CanaryReport } from '../src/workflows/canary/report.js';
import { quietRuntime, timerSummaries, uniqueName } from './support/ragops.js';

const WITHOUT_SEARCH_ATTRIBUTES = fileURLToPath(new URL('./support/without-search-attributes.ts', import.meta.url));
const TEST_SERVER = fileURLToPath(new URL('../.venv/bin/temporal-test-server', import.meta.url));

/** AI Docs: 5 % for 30 min at 5 % errors, 25 % for 60 min at 2 %, 50 % for 120 min at 1 %, then 100 %. */
const AI_DOCS_STAGES: CanaryStep[] = [
  { setWeight: 5 },
  { analysis: { metrics: ['errors-under-5pct'], interval: '6m', count: 5 } },
  { setWeight: 25 },
  { analysis: { metrics: ['errors-under-2pct'], interval: '12m', count: 5 } },
  { setWeight: 50 },
  { analysis: { metrics: ['errors-under-1pct'], interval: '24m', count: 5 } },
];

function canaryConfig(steps: CanaryStep[]): CanaryConfig {
  const errorRate = (name: string, max: number) =>
    metricSchema.parse({ name, provider: { type: 'probe', url: 'http://canary/health', measure: 'errorRate' }, thresholdRange: { max } });
  return {
    traffic: { type: 'kubernetes-replicas' } as CanaryConfig['traffic'],
    maxWeight: 100,
    steps,
    metrics: [errorRate('errors-under-5pct', 0.05), errorRate('errors-under-2pct', 0.02), errorRate('errors-under-1pct', 0.01)],
    pauseTimeoutAction: 'abort',
  };
}

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
};

/** Fakes that record what the canary did: weights shifted, versions started and removed, rollouts. */
function fakes(calls: string[], steps: CanaryStep[], errorRate: number): Partial<Activities & CanaryActivities> {
  return {
    async resolveCanaryPlan() {
      return { deploy: plan, canary: canaryConfig(steps) };
    },
    async composeCurrentVersion() {
      return { image: 'api:v1', imageId: 'id-api:v1', repoDigest: null };
    },
    async composePull({ image }) {
      return { image, imageId: `id-${image}`, repoDigest: null, pinned: `id-${image}`, note: 'pulled' };
    },
    async composeRollout({ image }) {
      calls.push(`stable → ${image}`);
    },
    async composeServiceHealth({ image }) {
      return { healthy: true, states: [{ image, imageId: image, running: true }], logsTail: '' };
    },
    async runHttpChecks({ checks }) {
      return checks.map((check) => ({ url: check.url, passed: true, status: 200, attempts: 1, elapsedMs: 1 }));
    },
    async launchCanaryVersion({ image }) {
      calls.push(`launch ${image}`);
      return 'launched';
    },
    async removeCanaryVersion() {
      calls.push('remove canary');
      return 'removed';
    },
    async setTrafficWeight({ weight }) {
      calls.push(`weight ${weight}`);
      return { weight, detail: `canary at ${weight} %` };
    },
    async measureMetric({ metric }) {
      const max = metric.thresholdRange.max ?? 1;
      const outcome = errorRate > max ? 'failed' : 'passed';
      return { metric: metric.name, value: errorRate, samples: 20, outcome, detail: `error rate ${errorRate} (max ${max})`, at: new Date().toISOString() };
    },
  };
}

describe('canary step loop (time-skipping test server, fake activities)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    quietRuntime();
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER } } });
  });
  after(async () => env?.teardown());

  async function runCanary(steps: CanaryStep[], errorRate: number, calls: string[]): Promise<{ report?: CanaryReport; failure?: unknown; wallMs: number; workflowId: string }> {
    const taskQueue = uniqueName('canary-ts');
    const leases = createTemporalActivities({ temporalClient: async () => env.client });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath,
      interceptors: { workflowModules: [WITHOUT_SEARCH_ATTRIBUTES] },
      activities: { ...leases, ...fakes(calls, steps, errorRate) },
    });
    const started = Date.now();
    const input: CanaryInput = { stack: 'prod', service: 'api', image: 'api:v2' };
    const workflowId = uniqueName('canary');
    return worker.runUntil(
      env.client.workflow.execute('canary', { taskQueue, workflowId, args: [input] }).then(
        (report) => ({ report: report as CanaryReport, wallMs: Date.now() - started, workflowId }),
        (failure: unknown) => ({ failure, wallMs: Date.now() - started, workflowId }),
      ),
    );
  }

  test("the AI Docs guide's stages as written: 3½ hours of analysis in well under a minute, promoted", async () => {
    const calls: string[] = [];
    const { report, failure, wallMs, workflowId } = await runCanary(AI_DOCS_STAGES, 0.004, calls);
    assert.equal(failure, undefined, String(failure));
    assert.equal(report?.outcome, 'promoted');
    const summaries = await timerSummaries(env.client.workflow.getHandle(workflowId));
    assert.deepEqual(
      [...new Set(summaries)],
      ['analysis errors-under-5pct: next round in 6m at 5 %', 'analysis errors-under-2pct: next round in 12m at 25 %', 'analysis errors-under-1pct: next round in 24m at 50 %'],
      'every timer says what it waits for',
    );
    assert.equal(summaries.length, 15, 'each of the five rounds of a stage measures the interval before it');
    assert.deepEqual(calls, ['launch id-api:v2', 'weight 5', 'weight 25', 'weight 50', 'stable → id-api:v2', 'weight 0', 'remove canary']);
    assert.equal(report?.measurementCount, 15);
    assert.ok(wallMs < 60_000, `took ${wallMs} ms of wall time`);
  });

  test('an error rate above the 25 % stage threshold rolls back at that stage: weight 0 first, then the canary removed', async () => {
    const calls: string[] = [];
    const { failure, wallMs } = await runCanary(AI_DOCS_STAGES, 0.03, calls);
    assert.ok(failure instanceof WorkflowFailedError, String(failure));
    const cause = failure.cause as Error & { type?: string; details?: unknown[] };
    assert.equal(cause.type, 'CanaryRolledBack');
    assert.match(cause.message, /analysis failed: errors-under-2pct = 0\.03/);
    const report = cause.details?.[0] as CanaryReport;
    assert.equal(report.outcome, 'rolled back');
    assert.equal(report.weight, 0);
    assert.deepEqual(calls, ['launch id-api:v2', 'weight 5', 'weight 25', 'weight 0', 'remove canary']);
    assert.ok(wallMs < 60_000, `took ${wallMs} ms of wall time`);
  });

  test('an indefinite pause whose timeout passes aborts: weight 0, canary removed, the report says why', async () => {
    const calls: string[] = [];
    const { report, failure, wallMs } = await runCanary([{ setWeight: 10 }, { pause: { timeout: '1h' } }, { setWeight: 50 }], 0, calls);
    assert.equal(failure, undefined, String(failure));
    assert.equal(report?.outcome, 'aborted');
    assert.match(report?.reason ?? '', /the pause of step 2 timed out after 1h/);
    assert.deepEqual(calls, ['launch id-api:v2', 'weight 10', 'weight 0', 'remove canary']);
    assert.ok(wallMs < 60_000, `took ${wallMs} ms of wall time`);
  });
});
