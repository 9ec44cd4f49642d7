import { ApplicationFailure } from '@temporalio/workflow';
import type { DeployOptions } from '../../config/inputs.js';
import type { DeployPlan } from '../../config/plan.js';
import { isKubernetesBlueGreen, type ComposeBlueGreen } from '../../config/stacks/deploy.js';
import type { TrafficShifter } from '../../config/stacks/traffic.js';
import { compensationActivities, quickActivities, streamingActivities } from '../lib/activities.js';
import type { StepTracker } from '../lib/steps.js';
import { describeChecks, runChecks, type DeployReport } from './report.js';
import { StepFailed, type Saga } from './saga.js';
import type { DeployStrategy } from './strategy.js';
import { versionLabel } from '../../core/format.js';
import { deployTargetOps, type PulledImage, type RunningVersion } from './targets.js';
import type { RollbackWindow } from '../lib/rollbackWindow.js';
import type { RollbackResult } from './report.js';

/**
 * Blue-green on Compose, as a two-step canary through the stack's traffic shifter
 * (`canary.<service>.traffic`): the new version starts as `<service>-canary` beside the
 * stable one, becomes healthy and passes its own checks; only then does the shifter move
 * traffic 0 → 100 %. The stable version keeps running through the window, in which the
 * `rollback` update shifts back to it (0 %) and removes the canary. After the window the
 * stable service rolls to the new digest, is checked, takes the traffic back and the canary
 * is removed. Any failure or cancellation before that undoes it newest first (the saga).
 */
export function composeBlueGreenStrategy(plan: DeployPlan, options: DeployOptions, steps: StepTracker, report: DeployReport, window: RollbackWindow<RollbackResult>): DeployStrategy {
  const target = plan.target;
  if (target.type !== 'compose' || !plan.config.blueGreen || isKubernetesBlueGreen(plan.config.blueGreen)) {
    throw ApplicationFailure.nonRetryable('blue-green on Compose needs a Compose target and a blueGreen section with the checks of the new version', 'InvalidInput');
  }
  const bg: ComposeBlueGreen = plan.config.blueGreen;
  const ops = deployTargetOps(plan);
  const service = plan.composeService;
  const canary = `${service}-canary`;
  const acts = quickActivities(`blue-green ${service}`);
  let shifter: TrafficShifter | undefined;
  let previous: RunningVersion = { image: null, digest: null, pinned: null };
  let pinned = plan.image;

  const shift = (weight: number, activities = acts) =>
    steps.step('switch', `${canary} ${weight} % of traffic`, () => activities.setTrafficWeight({ shifter: shifter!, weight, target: plan.target }), (r) => r.detail);

  return {
    async record() {
      const { canary: config } = await steps.step('record', `the traffic shifter of ${service} (canary.${service}.traffic)`, () =>
        acts.resolveCanaryPlan({ options: { stack: plan.stack, service: plan.service, image: plan.image } }),
        (p) => p.canary.traffic.type,
      );
      shifter = config.traffic;
      report.blueGreen = { live: service, idle: canary };
      previous = await ops.current();
      return previous;
    },

    rollbackChecks: () => plan.config.health,

    async rollOut(pulled: PulledImage, saga: Saga) {
      pinned = pulled.pinned;
      const undo = compensationActivities(`remove ${canary}`);
      saga.onFailure(`remove ${canary}`, async () => {
        const removed = await undo.removeCanaryVersion({ plan });
        return { ok: true, evidence: removed };
      });
      // No traffic reaches the new version before its checks pass, whatever the proxy had.
      await shift(0);
      await steps.step('rollout', `start ${canary} with ${pulled.pinned}`, () => acts.launchCanaryVersion({ plan, image: pulled.pinned }));
      const state = await steps.step('rollout', `wait for ${canary}`, () =>
        streamingActivities(`compose health ${canary}`).composeServiceHealth({ target, service: canary, image: pulled.pinned, timeoutSeconds: plan.config.rolloutTimeoutSeconds }),
        (s) => (s.healthy ? 'healthy' : 'NOT healthy'),
      );
      if (!state.healthy) throw new StepFailed('rollout', `${canary} is not healthy: ${state.reason ?? state.states.map((s) => `${s.image} ${s.running ? 'running' : 'stopped'} ${s.health ?? ''}`).join(', ')}\n${state.logsTail}`);
      report.checks = await steps.step('verify', `health and smoke checks of ${canary} before the switch`, () => runChecks(`verify ${canary}`, [...bg.health, ...bg.smoke]));
      if (report.checks.some((check) => !check.passed)) throw new StepFailed('verify', describeChecks(report.checks));

      saga.onFailure(`switch traffic back to ${service} (${versionLabel(previous)})`, async () => {
        const result = await shift(0, compensationActivities(`switch back to ${service}`));
        return { ok: result.weight === 0, evidence: result.detail };
      });
      await shift(100);
      report.blueGreen = { live: service, idle: canary, switchedAt: new Date().toISOString() };
    },

    async finish(saga: Saga) {
      const requested = await steps.step(
        'window',
        `keep ${service} (${versionLabel(previous)}) for ${options.rollbackWindowSeconds} s (update "rollback" switches back)`,
        () => window.wait(`${options.rollbackWindowSeconds}s`, `rollback window ${options.rollbackWindowSeconds} s: then the switch is made final`),
        (asked) => (asked ? 'rollback requested' : 'window closed'),
      );
      if (requested) {
        report.rollback = await saga.compensate(plan.config.health);
        report.blueGreen = { ...report.blueGreen!, rolledBackAt: new Date().toISOString() };
        window.settle(report.rollback);
        if (!report.rollback.ok) throw new StepFailed('rollback', report.rollback.evidence);
        report.outcome = report.rollback.verified ? 'rolled back' : 'rolled back, not verified';
        steps.finish(`switched back to ${service} on request${report.rollback.verified ? ', verified' : `; ${report.rollback.evidence.split('\n').at(-1)}`}`);
        return;
      }
      report.blueGreen = { ...report.blueGreen!, windowClosedAt: window.closedAtTime };
      // The stable service takes the new digest while the canary still carries all traffic.
      saga.onFailure(`roll ${service} back to ${versionLabel(previous)}`, () => ops.rollback(previous));
      const rollout = await steps.step('retire', `roll ${service} to ${pinned}`, () => ops.rollout(pinned), (r) => (r.ok ? 'done' : 'FAILED'));
      if (!rollout.ok) throw new StepFailed('retire', rollout.evidence);
      const checks = await steps.step('retire', `check ${service} on the new version`, () => runChecks(`verify ${service}`, plan.config.health));
      if (checks.some((check) => !check.passed)) throw new StepFailed('retire', describeChecks(checks));
      await shift(0);
      await steps.step('retire', `remove ${canary}`, () => acts.removeCanaryVersion({ plan }));
      report.outcome = 'deployed';
      steps.finish(`${service} runs ${plan.image}; ${canary} removed`);
    },
  };
}
