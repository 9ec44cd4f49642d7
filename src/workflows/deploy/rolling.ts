import type { DeployPlan } from '../../config/plan.js';
import type { StepTracker } from '../lib/steps.js';
import { describeChecks, runChecks, type DeployReport } from './report.js';
import { StepFailed, type Saga } from './saga.js';
import type { DeployStrategy } from './strategy.js';
import { versionLabel } from '../../core/format.js';
import type { DeployTargetOps, PulledImage } from './targets.js';

/** Rolling: the service itself moves to the new image; a failure deploys the recorded version again. */
export function rollingStrategy(plan: DeployPlan, ops: DeployTargetOps, steps: StepTracker, report: DeployReport): DeployStrategy {
  return {
    record: () => ops.current(),
    rollbackChecks: () => plan.config.health,

    async rollOut(pulled: PulledImage, saga: Saga) {
      const previous = report.previous ?? { image: null, digest: null, pinned: null };
      saga.onFailure(`roll back to ${versionLabel(previous)}`, () => ops.rollback(previous));
      const rollout = await steps.step('rollout', `roll out ${plan.image} as ${pulled.pinned}`, () => ops.rollout(pulled.pinned), (r) => (r.ok ? 'done' : 'FAILED'));
      if (!rollout.ok) throw new StepFailed('rollout', rollout.evidence);
      report.checks = await steps.step('verify', 'health and smoke checks', () => runChecks('verify the new version', [...plan.config.health, ...plan.config.smoke]));
      if (report.checks.some((check) => !check.passed)) throw new StepFailed('verify', describeChecks(report.checks));
    },

    async finish() {
      // Kubernetes pulls by itself: only the running pods tell which digest the tag was.
      const running = await steps.step('record', 'record what runs now', () => ops.current(), (v) => v.digest ?? v.image ?? 'nothing');
      report.deployed = { pinned: running.pinned ?? report.deployed?.pinned ?? plan.image, digest: running.digest ?? report.deployed?.digest ?? null };
      report.outcome = 'deployed';
      steps.finish(`deployed ${plan.image}${report.deployed.digest ? ` (${report.deployed.digest})` : ''}`);
    },
  };
}
