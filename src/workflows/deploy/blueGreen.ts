import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { DeployPlan } from '../../config/plan.js';
import { describeChecks, rollbackSignal, runChecks, type DeployReport } from './report.js';
import { quickActivities, streamingActivities } from '../lib/activities.js';
import type { StepTracker } from '../lib/steps.js';
import type { DeployOptions } from '../../config/inputs.js';

type Colour = 'blue' | 'green';

/**
 * Blue-green on Kubernetes: deploy to the idle colour, verify it, switch the Service's
 * selector, keep the old colour for a window (a durable timer) during which a `rollback`
 * signal switches back, then scale the old colour to zero.
 */
export async function deployBlueGreen(plan: DeployPlan, options: DeployOptions, steps: StepTracker, report: DeployReport): Promise<DeployReport> {
  if (plan.target.type !== 'kubernetes' || !plan.config.blueGreen) throw ApplicationFailure.nonRetryable('blueGreen needs a Kubernetes target', 'InvalidInput');
  const target = plan.target;
  const bg = plan.config.blueGreen;
  let rollbackRequested = false;
  setHandler(rollbackSignal, () => {
    rollbackRequested = true;
  });

  const selector = await steps.step('record', `read the selector of service/${bg.service}`, () => quickActivities('read service').k8sServiceSelector({ target, service: bg.service }));
  const live: Colour = selector[bg.selectorLabel] === 'green' ? 'green' : 'blue';
  const idle: Colour = live === 'blue' ? 'green' : 'blue';
  const [liveDeployment, idleDeployment] = [bg.deployments[live], bg.deployments[idle]];
  report.blueGreen = { live, idle };
  const liveState = await steps.step('record', `record ${live} (live)`, () =>
    quickActivities('record live').k8sDeploymentState({ target, deployment: liveDeployment, container: plan.container }),
  );
  report.previous = liveState;

  const activities = quickActivities(`blue-green ${plan.service}`);
  const idleReplicas = Math.max(liveState.replicas, 1);
  await steps.step('rollout', `deploy ${plan.image} to ${idle} (idle)`, async () => {
    await activities.k8sSetImage({ target, deployment: idleDeployment, container: plan.container, image: plan.image });
    await activities.k8sScale({ target, deployment: idleDeployment, replicas: idleReplicas });
  });
  const status = await steps.step('rollout', `wait for ${idle}`, () =>
    streamingActivities(`rollout status ${idleDeployment}`).k8sRolloutStatus({ target, deployment: idleDeployment, timeoutSeconds: plan.config.rolloutTimeoutSeconds }),
  );
  const idleChecks = status.complete ? await steps.step('verify', `check ${idle} before the switch`, () => runChecks(plan, `verify ${idle}`, bg.health[idle] ?? [])) : [];
  report.checks = idleChecks;
  if (!status.complete || idleChecks.some((check) => !check.passed)) {
    // Nothing was switched: the live colour never stopped serving.
    await steps.step('rollback', `scale ${idle} back to zero`, () => activities.k8sScale({ target, deployment: idleDeployment, replicas: 0 }));
    const evidence = status.complete ? describeChecks(idleChecks) : `kubectl rollout status: ${status.message}`;
    report.outcome = 'rolled back';
    report.failure = { step: status.complete ? 'verify' : 'rollout', reason: evidence.split('\n')[0] ?? '', evidence };
    steps.finish(`FAILED before the switch; ${live} still live`);
    throw ApplicationFailure.create({
      type: 'DeployFailed',
      nonRetryable: true,
      message: `blue-green deploy of ${plan.image} failed on ${idle} before the switch: ${report.failure.reason}; ${live} stays live`,
      details: [report],
    });
  }

  await steps.step('switch', `switch service/${bg.service} to ${idle}`, () =>
    activities.k8sSwitchService({ target, service: bg.service, selector: { ...selector, [bg.selectorLabel]: idle } }),
  );
  report.blueGreen.switchedAt = new Date().toISOString();
  const rolledBack = await steps.step(
    'window',
    `keep ${live} for ${options.rollbackWindowSeconds} s (signal "rollback" to switch back)`,
    () => condition(() => rollbackRequested, `${options.rollbackWindowSeconds}s`),
    (signalled) => (signalled ? 'rollback requested' : 'window closed'),
  );
  if (rolledBack) {
    await steps.step('rollback', `switch service/${bg.service} back to ${live}`, () =>
      activities.k8sSwitchService({ target, service: bg.service, selector: { ...selector, [bg.selectorLabel]: live } }),
    );
    await steps.step('rollback', `scale ${idle} to zero`, () => activities.k8sScale({ target, deployment: idleDeployment, replicas: 0 }));
    report.blueGreen.rolledBackAt = new Date().toISOString();
    report.rollback = { ok: true, evidence: `service/${bg.service} points at ${live} again`, checks: [] };
    report.outcome = 'rolled back';
    steps.finish(`rolled back to ${live} on request`);
    return report;
  }
  await steps.step('retire', `scale ${live} (old) to zero`, () => activities.k8sScale({ target, deployment: liveDeployment, replicas: 0 }));
  report.outcome = 'deployed';
  steps.finish(`${idle} is live with ${plan.image}`);
  return report;
}
