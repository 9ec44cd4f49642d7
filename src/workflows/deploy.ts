import {
  ApplicationFailure,
  CancellationScope,
  executeChild,
  isCancellation,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { deployInputSchema } from '../config/deploy.js';
import type { BackupReport } from './backup.js';
import { deployBlueGreen } from './deployBlueGreen.js';
import { quickActivities } from './lib/activities.js';
import { describeChecks, runChecks, statusQuery, type DeployReport } from './lib/deployReport.js';
import { deployTargetOps } from './lib/deployTargets.js';
import { parseInput } from './lib/input.js';
import { RagopsImage, RagopsService } from './lib/searchAttributes.js';
import { StepTracker } from './lib/steps.js';

class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly evidence: string,
  ) {
    super(`${step} failed`);
  }
}

/**
 * Deploys one service: record what runs now, optional pre-deploy backup, pull, migrate,
 * roll out, verify; on a failed rollout or verification — or a cancellation — roll back,
 * verify the rollback, and fail with the evidence. Never leaves a stack half-deployed.
 */
export async function deploy(rawInput: unknown): Promise<DeployReport> {
  const options = parseInput(deployInputSchema, rawInput, 'deploy');
  const steps = new StepTracker('deploy', options.stack);
  upsertSearchAttributes([
    { key: RagopsService, value: options.service },
    { key: RagopsImage, value: options.image },
  ]);
  const plan = await steps.step('plan', 'check the service and the image', () => quickActivities('plan deploy').resolveDeployPlan({ options }));
  steps.setHeadline(`**deploy** of \`${plan.image}\` to ${plan.service} (stack \`${plan.stack}\`, ${plan.target.type}, ${options.strategy})`);
  const report: DeployReport = { stack: plan.stack, service: plan.service, image: plan.image, strategy: options.strategy, target: plan.target.type, checks: [], outcome: 'running' };
  setHandler(statusQuery, () => report);
  if (options.strategy === 'blueGreen') return deployBlueGreen(plan, options, steps, report);

  const ops = deployTargetOps(plan);
  const previous = await steps.step('record', 'record the current state', () => ops.current(), (s) => `${s.image ?? 'nothing running'}${s.revision ? `, revision ${s.revision}` : ''}`);
  report.previous = previous;
  if (options.backup) {
    const backup = await steps.step('backup', 'pre-deploy backup', () =>
      executeChild('backup', { args: [{ stack: plan.stack, prune: false }], workflowId: `${workflowInfo().workflowId}-backup` }) as Promise<BackupReport>,
    );
    report.backup = { backupId: backup.backupId, manifestKey: backup.manifestKey, total: backup.total };
  }
  await steps.step('pull', `pull ${plan.image}`, () => ops.pull(), (note) => note);
  const migration = plan.config.migration;
  if (migration) report.migrationOutput = await steps.step('migrate', `migrate: ${migration.command.join(' ')}`, () => ops.migrate(migration.command));

  try {
    const rollout = await steps.step('rollout', `roll out ${plan.image}`, () => ops.rollout(plan.image), (r) => (r.ok ? 'done' : 'FAILED'));
    if (!rollout.ok) throw new StepFailed('rollout', rollout.evidence);
    report.checks = await steps.step('verify', 'health and smoke checks', () => runChecks(plan, 'verify the new version'));
    if (report.checks.some((check) => !check.passed)) throw new StepFailed('verify', describeChecks(report.checks));
    report.outcome = 'deployed';
    steps.finish(`deployed ${plan.image}`);
    return report;
  } catch (error) {
    await CancellationScope.nonCancellable(async () => {
      const rollback = await steps.step('rollback', `roll back to ${previous.image ?? 'the previous state'}`, () => ops.rollback(previous));
      const checks = rollback.ok ? await steps.step('rollback', 'verify the rollback', () => runChecks(plan, 'verify the rollback', plan.config.health)) : [];
      report.rollback = { ok: rollback.ok && checks.every((check) => check.passed), evidence: rollback.evidence, checks };
    });
    report.outcome = report.rollback?.ok ? 'rolled back' : 'failed';
    if (isCancellation(error)) throw error;
    const failedStep = error instanceof StepFailed ? error.step : 'rollout';
    const evidence = error instanceof StepFailed ? error.evidence : error instanceof Error ? error.message : String(error);
    report.failure = { step: failedStep, reason: evidence.split('\n')[0] ?? '', evidence };
    steps.finish(`FAILED at ${failedStep}; ${report.outcome}`);
    throw ApplicationFailure.create({
      type: 'DeployFailed',
      nonRetryable: true,
      message: `deploy of ${plan.image} to ${plan.service} failed at ${failedStep}: ${report.failure.reason}; ${report.rollback?.ok ? `rolled back to ${previous.image}, healthy` : `rollback to ${previous.image ?? 'nothing'} did NOT verify: ${report.rollback?.evidence ?? ''}`}`,
      details: [report],
    });
  }
}

export { rollbackSignal, statusQuery, type DeployReport } from './lib/deployReport.js';
