import type { DeployPlan } from '../../config/plan.js';
import { quickActivities, streamingActivities } from '../lib/activities.js';

export interface RolloutResult {
  ok: boolean;
  /** What was seen: rollout status, container states, logs tail. */
  evidence: string;
}

export interface CurrentState {
  image: string | null;
  /** Kubernetes: the Deployment revision a rollback returns to. */
  revision?: number;
}

/** The verbs of a deploy, for one kind of target; the runbook reads the same for both. */
export interface DeployTargetOps {
  current(): Promise<CurrentState>;
  pull(): Promise<string>;
  migrate(command: string[]): Promise<string>;
  rollout(image: string): Promise<RolloutResult>;
  rollback(previous: CurrentState): Promise<RolloutResult>;
}

function composeOps(plan: DeployPlan & { target: { type: 'compose' } }): DeployTargetOps {
  const { target, composeService: service, config } = plan;
  const rolloutTo = async (image: string): Promise<RolloutResult> => {
    await streamingActivities(`compose up ${service} ${image}`).composeRollout({ target, service, image });
    const state = await streamingActivities(`compose health ${service}`).composeServiceHealth({ target, service, image, timeoutSeconds: config.rolloutTimeoutSeconds });
    const states = state.states.map((s) => `${s.image} ${s.running ? 'running' : 'not running'}${s.health ? ` (${s.health})` : ''}`).join(', ');
    return { ok: state.healthy, evidence: `containers: ${states || 'none'}${state.logsTail ? `\nlogs tail:\n${state.logsTail}` : ''}` };
  };
  return {
    current: async () => ({ image: await quickActivities(`current image of ${service}`).composeCurrentImage({ target, service }) }),
    pull: () => streamingActivities(`pull ${plan.image}`).composePull({ image: plan.image, registry: plan.registry }),
    migrate: (command) => streamingActivities(`migrate with ${plan.image}`).composeMigrate({ target, service, image: plan.image, command }),
    rollout: rolloutTo,
    rollback: async (previous) => (previous.image ? rolloutTo(previous.image) : { ok: false, evidence: 'no previous image was recorded' }),
  };
}

function kubernetesOps(plan: DeployPlan & { target: { type: 'kubernetes' } }): DeployTargetOps {
  const { target, deployment, container, config } = plan;
  const waitForRollout = async (): Promise<RolloutResult> => {
    const status = await streamingActivities(`rollout status ${deployment}`).k8sRolloutStatus({ target, deployment, timeoutSeconds: config.rolloutTimeoutSeconds });
    return { ok: status.complete, evidence: `kubectl rollout status: ${status.message}` };
  };
  return {
    current: () => quickActivities(`current revision of ${deployment}`).k8sDeploymentState({ target, deployment, container }),
    pull: async () => 'pulled by the cluster',
    migrate: (command) =>
      streamingActivities(`migration job for ${plan.image}`).k8sRunMigration({
        target,
        deployment,
        container,
        image: plan.image,
        command,
        jobName: `${deployment.slice(0, 40)}-migrate-${plan.runTag}`,
        timeoutSeconds: config.rolloutTimeoutSeconds,
      }),
    rollout: async (image) => {
      await quickActivities(`set image ${deployment}`).k8sSetImage({ target, deployment, container, image });
      return waitForRollout();
    },
    rollback: async (previous) => {
      if (!previous.revision) return { ok: false, evidence: 'no previous revision was recorded' };
      await quickActivities(`rollout undo ${deployment}`).k8sRolloutUndo({ target, deployment, revision: previous.revision });
      return waitForRollout();
    },
  };
}

export function deployTargetOps(plan: DeployPlan): DeployTargetOps {
  return plan.target.type === 'compose'
    ? composeOps(plan as DeployPlan & { target: { type: 'compose' } })
    : kubernetesOps(plan as DeployPlan & { target: { type: 'kubernetes' } });
}
