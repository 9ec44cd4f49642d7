import { ApplicationFailure, CancellationScope, executeChild, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { DeployOptions } from '../../config/inputs.js';
import type { DeployPlan } from '../../config/plan.js';
import type { BackupReport } from '../backup.js';
import type { StepTracker } from '../lib/steps.js';
import { describeChecks, runChecks, type DeployReport } from './report.js';
import { deployTargetOps } from './targets.js';

class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly evidence: string,
  ) {
    super(`${step} failed`);
  }
}

/**
 * Rolling: record what runs now, optional pre-deploy backup, pull, migrate, roll out,
 * verify; on a failed rollout or verification — or a cancellation — roll back, verify the
 * rollback, and fail with the evidence.
 */
export async function deployRolling(plan: DeployPlan, options: DeployOptions, steps: StepTracker, report: DeployReport): Promise<DeployReport> {
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
