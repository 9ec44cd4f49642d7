import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, executeChild, isCancellation, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { deployInputSchema, type DeployOptions } from '../../config/inputs.js';
import type { DeployPlan } from '../../config/plan.js';
import { quickActivities } from '../lib/activities.js';
import { parseInput } from '../lib/input.js';
import { RagopsImage, RagopsService } from '../../core/searchAttributes.js';
import { StepTracker } from '../lib/steps.js';
import { withLeases } from '../lib/leases.js';
import { Notifier } from '../lib/notify.js';
import { deployClaims } from '../../core/leases.js';
import type { BackupReport } from '../backup.js';
import { blueGreenStrategy } from './blueGreen.js';
import { composeBlueGreenStrategy } from './composeBlueGreen.js';
import { NOT_VERIFIED, rollbackUpdate, statusQuery, type DeployReport, type RollbackResult } from './report.js';
import { rollingStrategy } from './rolling.js';
import { Saga, StepFailed } from './saga.js';
import { versionLabel } from '../../core/format.js';
import { deployTargetOps, type RunningVersion } from './targets.js';
import { RollbackWindow } from '../lib/rollbackWindow.js';

const describeVersion = (v: RunningVersion) => (v.image ? `${v.image}${v.digest ? ` (${v.digest})` : ''}` : 'nothing running');

/**
 * Deploys one service as a saga: validate → record → backup (optional) → pull → migrate →
 * roll out (rolling or blue-green) → verify. Any failure, a throw from any step, or a
 * cancellation undoes what was changed, newest first, verifies the undo, and ends the run
 * with DeployFailed (or cancelled) carrying the whole report.
 */
export async function deploy(rawInput: unknown): Promise<DeployReport> {
  const options = parseInput(deployInputSchema, rawInput, 'deploy');
  const steps = new StepTracker('deploy', options.stack);
  const window = new RollbackWindow(rollbackUpdate, {
    notApplicable: options.strategy === 'blueGreen' ? undefined : 'this is a rolling deploy: it has no rollback window (it rolls back by itself when a step fails); to go back now, deploy the previous image',
    notOpen: 'the new colour is not live yet: there is nothing to roll back; cancel the run to stop the deploy',
    closed: (at) => `the rollback window closed at ${at}; the old colour is scaled to zero — deploy the previous image to go back`,
    description: 'blue-green: switch back to the old colour while the window is open; returns the verified result',
  });
  upsertSearchAttributes([
    { key: RagopsService, value: options.service },
    { key: RagopsImage, value: options.image },
  ]);
  const plan = await steps.step('plan', 'check the service, the image and the checks', () => quickActivities('plan deploy').resolveDeployPlan({ options }));
  steps.setHeadline(`**deploy** of \`${plan.image}\` to ${plan.service} (stack \`${plan.stack}\`, ${plan.target.type}, ${options.strategy})`);
  const report: DeployReport = { stack: plan.stack, service: plan.service, image: plan.image, strategy: options.strategy, target: plan.target.type, checks: [], outcome: 'running' };
  setHandler(statusQuery, () => report);
  try {
    return await new Notifier('deploy', plan).failures(
      () => withLeases(steps, 'deploy', deployClaims(plan.stack, plan.service), () => runSaga(plan, options, steps, report, window)),
      () => (report.outcome.startsWith('rolled back') ? 'rolled-back' : 'failed'),
    );
  } finally {
    window.settle(report.rollback ?? { ok: false, verified: false, evidence: `the deploy ended (${report.outcome}) without a rollback`, checks: [] });
    // A `rollback` update still being answered finishes before the run does.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}

async function runSaga(plan: DeployPlan, options: DeployOptions, steps: StepTracker, report: DeployReport, window: RollbackWindow<RollbackResult>): Promise<DeployReport> {
  const ops = deployTargetOps(plan);
  const strategy =
    options.strategy !== 'blueGreen'
      ? rollingStrategy(plan, ops, steps, report)
      : plan.target.type === 'compose'
        ? composeBlueGreenStrategy(plan, options, steps, report, window)
        : blueGreenStrategy(plan, options, steps, report, window);
  const saga = new Saga(steps);
  let phase = 'record';
  try {
    report.previous = await steps.step('record', 'record what runs now', () => strategy.record(), describeVersion);
    if (options.backup) {
      phase = 'backup';
      const backup = await steps.step('backup', 'pre-deploy backup', () =>
        executeChild('backup', { args: [{ stack: plan.stack, prune: false }], workflowId: `${workflowInfo().workflowId}-backup` }) as Promise<BackupReport>,
      );
      report.backup = { backupId: backup.backupId, manifestKey: backup.manifestKey, total: backup.total };
    }
    phase = 'pull';
    const pulled = await steps.step('pull', `pull ${plan.image}`, () => ops.pull(), (p) => `${p.note}; deploying ${p.pinned}`);
    report.deployed = { pinned: pulled.pinned, digest: pulled.digest };
    const migration = plan.config.migration;
    if (migration) {
      phase = 'migrate';
      report.migrationOutput = await steps.step('migrate', `migrate: ${migration.command.join(' ')}`, () => ops.migrate(pulled.pinned, migration.command, strategy.migrationSource?.()));
    }
    phase = 'rollout';
    await strategy.rollOut(pulled, saga);
    phase = 'finish';
    await strategy.finish(saga);
    return report;
  } catch (error) {
    if (!saga.empty) report.rollback = await CancellationScope.nonCancellable(() => saga.compensate(strategy.rollbackChecks()));
    const rollback = report.rollback;
    report.outcome = !rollback ? 'failed' : !rollback.ok ? 'failed' : rollback.verified ? 'rolled back' : 'rolled back, not verified';
    if (isCancellation(error)) {
      steps.finish(`cancelled at ${phase}; ${report.outcome}`);
      throw error;
    }
    const failedStep = error instanceof StepFailed ? error.step : phase;
    const evidence = error instanceof StepFailed ? error.evidence : error instanceof Error ? error.message : String(error);
    report.failure = { step: failedStep, reason: evidence.split('\n')[0] ?? '', evidence };
    steps.finish(`FAILED at ${failedStep}; ${report.outcome}`);
    throw ApplicationFailure.create({
      type: 'DeployFailed',
      nonRetryable: true,
      message: `deploy of ${plan.image} to ${plan.service} failed at ${failedStep}: ${report.failure.reason}; ${aftermath(report)}`,
      details: [report],
    });
  }
}

function aftermath(report: DeployReport): string {
  const previous = report.previous ? versionLabel(report.previous) : 'nothing';
  const rollback = report.rollback;
  if (!rollback) return 'nothing had been changed';
  if (!rollback.ok) return `rollback to ${previous} did NOT complete (not verified): ${rollback.evidence}`;
  if (!rollback.verified) return rollback.evidence.endsWith(NOT_VERIFIED) ? `rolled back to ${previous}, ${NOT_VERIFIED}` : `rollback to ${previous} did NOT verify: ${rollback.evidence}`;
  return `rolled back to ${previous}, healthy`;
}

export { rollbackUpdate, statusQuery, type DeployReport, type RollbackResult } from './report.js';
