import { ApplicationFailure } from '@temporalio/workflow';
import type { DeployOptions } from '../../config/inputs.js';
import type { DeployPlan } from '../../config/plan.js';
import { isKubernetesBlueGreen, type BlueGreen } from '../../config/stacks/deploy.js';
import { compensationActivities, quickActivities, streamingActivities } from '../lib/activities.js';
import type { StepTracker } from '../lib/steps.js';
import { describeChecks, runChecks, type DeployReport } from './report.js';
import { StepFailed, type Saga } from './saga.js';
import type { DeployStrategy } from './strategy.js';
import type { PulledImage, RunningVersion } from './targets.js';
import type { RollbackWindow } from '../lib/rollbackWindow.js';
import type { RollbackResult } from './report.js';

type Colour = 'blue' | 'green';
type KubernetesPlan = DeployPlan & { target: { type: 'kubernetes' } };

const checksOf = (bg: BlueGreen, colour: Colour) => [...(bg.health[colour] ?? []), ...(bg.smoke[colour] ?? [])];

/**
 * Blue-green on Kubernetes: the idle colour gets the new image by digest, becomes ready and
 * passes its own health and smoke checks; only then does the Service's selector switch. The
 * old colour stays up for the window (a durable timer), in which the `rollback` update
 * switches back; afterwards it is scaled to zero. Any failure or cancellation before that
 * puts the selector and the idle colour back as they were.
 */
export function blueGreenStrategy(plan: DeployPlan, options: DeployOptions, steps: StepTracker, report: DeployReport, window: RollbackWindow<RollbackResult>): DeployStrategy {
  const section = plan.config.blueGreen;
  if (plan.target.type !== 'kubernetes' || !section || !isKubernetesBlueGreen(section)) throw ApplicationFailure.nonRetryable('blueGreen needs a Kubernetes target and a blueGreen section', 'InvalidInput');
  const { target, container } = plan as KubernetesPlan;
  const bg: BlueGreen = section;
  const k8s = quickActivities(`blue-green ${plan.service}`);
  let selector: Record<string, string> = {};
  let live: Colour = 'blue';
  let idle: Colour = 'green';
  let idleBefore: RunningVersion = { image: null, digest: null, pinned: null };

  const state = async (colour: Colour): Promise<RunningVersion> => {
    const s = await k8s.k8sDeploymentState({ target, deployment: bg.deployments[colour], container });
    return { image: s.image, digest: s.imageId, pinned: s.pinned, revision: s.revision, replicas: s.replicas };
  };
  const pointAt = (colour: Colour, activities = k8s) => activities.k8sSwitchService({ target, service: bg.service, selector: { ...selector, [bg.selectorLabel]: colour } });

  return {
    async record() {
      selector = await steps.step('record', `read the selector of service/${bg.service}`, () => k8s.k8sServiceSelector({ target, service: bg.service }));
      live = selector[bg.selectorLabel] === 'green' ? 'green' : 'blue';
      idle = live === 'blue' ? 'green' : 'blue';
      report.blueGreen = { live, idle };
      idleBefore = await steps.step('record', `record ${idle} (idle)`, () => state(idle), (v) => `${v.image ?? 'no image'}, ${v.replicas ?? 0} replica(s)`);
      return state(live);
    },

    rollbackChecks: () => checksOf(bg, live),
    migrationSource: () => bg.deployments[live],

    async rollOut(pulled: PulledImage, saga: Saga) {
      const idleDeployment = bg.deployments[idle];
      const undo = compensationActivities(`put ${idle} back`);
      saga.onFailure(`put ${idle} back: ${idleBefore.image ?? 'its image'}, ${idleBefore.replicas ?? 0} replica(s)`, async () => {
        const image = idleBefore.pinned ?? idleBefore.image;
        if (image) await undo.k8sSetImage({ target, deployment: idleDeployment, container, image });
        await undo.k8sScale({ target, deployment: idleDeployment, replicas: idleBefore.replicas ?? 0 });
        return { ok: true, evidence: `${idleDeployment} at ${image ?? 'its image'}, ${idleBefore.replicas ?? 0} replica(s)` };
      });
      await steps.step('rollout', `deploy ${pulled.pinned} to ${idle} (idle)`, async () => {
        await k8s.k8sSetImage({ target, deployment: idleDeployment, container, image: pulled.pinned });
        await k8s.k8sScale({ target, deployment: idleDeployment, replicas: Math.max(report.previous?.replicas ?? 1, 1) });
      });
      const status = await steps.step('rollout', `wait for ${idle}`, () =>
        streamingActivities(`rollout status ${idleDeployment}`).k8sRolloutStatus({ target, deployment: idleDeployment, timeoutSeconds: plan.config.rolloutTimeoutSeconds }),
      );
      if (!status.complete) throw new StepFailed('rollout', `kubectl rollout status: ${status.message}`);
      report.checks = await steps.step('verify', `health and smoke checks of ${idle} before the switch`, () => runChecks(`verify ${idle}`, checksOf(bg, idle)));
      if (report.checks.some((check) => !check.passed)) throw new StepFailed('verify', describeChecks(report.checks));

      saga.onFailure(`switch service/${bg.service} back to ${live}`, async () => {
        await pointAt(live, compensationActivities(`switch back to ${live}`));
        return { ok: true, evidence: `service/${bg.service} selects ${live}` };
      });
      await steps.step('switch', `switch service/${bg.service} to ${idle}`, () => pointAt(idle));
      report.blueGreen = { live, idle, switchedAt: new Date().toISOString() };
    },

    async finish(saga: Saga) {
      const requested = await steps.step(
        'window',
        `keep ${live} for ${options.rollbackWindowSeconds} s (update "rollback" switches back)`,
        () => window.wait(`${options.rollbackWindowSeconds}s`, `rollback window ${options.rollbackWindowSeconds} s: then the old colour is scaled down`),
        (asked) => (asked ? 'rollback requested' : 'window closed'),
      );
      if (requested) {
        report.rollback = await saga.compensate(checksOf(bg, live));
        report.blueGreen = { ...report.blueGreen!, rolledBackAt: new Date().toISOString() };
        window.settle(report.rollback);
        if (!report.rollback.ok) throw new StepFailed('rollback', report.rollback.evidence);
        report.outcome = report.rollback.verified ? 'rolled back' : 'rolled back, not verified';
        steps.finish(`rolled back to ${live} on request${report.rollback.verified ? ', verified' : `; ${report.rollback.evidence.split('\n').at(-1)}`}`);
        return;
      }
      report.blueGreen = { ...report.blueGreen!, windowClosedAt: window.closedAtTime };
      await steps.step('retire', `scale ${live} (old) to zero`, () => k8s.k8sScale({ target, deployment: bg.deployments[live], replicas: 0 }));
      report.outcome = 'deployed';
      steps.finish(`${idle} is live with ${plan.image}`);
    },
  };
}
