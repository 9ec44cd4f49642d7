import type { DeployPlan } from '../../config/plan.js';
import { canaryDeploymentName } from '../../config/stacks/trafficKubernetes.js';
import { compensationActivities, quickActivities, streamingActivities } from '../lib/activities.js';

export interface RolloutResult {
  ok: boolean;
  /** What was seen: rollout status, container states, logs tail. */
  evidence: string;
}

/** What a service runs: the reference people read, and the immutable one a rollback deploys. */
export interface RunningVersion {
  /** The reference it was deployed as (usually a tag); null when nothing runs. */
  image: string | null;
  /** The image digest or id it runs, as the engine reports it. */
  digest: string | null;
  /** The immutable reference to deploy to get exactly this back (`repo@sha256:…` or an image id). */
  pinned: string | null;
  /** Kubernetes: the Deployment's revision and scale, for the record. */
  revision?: number;
  replicas?: number;
}

export interface PulledImage {
  pinned: string;
  digest: string | null;
  note: string;
}

/** The verbs of a deploy, for one kind of target; the runbook reads the same for both. */
export interface DeployTargetOps {
  current(): Promise<RunningVersion>;
  pull(): Promise<PulledImage>;
  /** Kubernetes: `from` names the Deployment whose pod template the migration Job copies (default the service's). */
  migrate(image: string, command: string[], from?: string): Promise<string>;
  rollout(image: string): Promise<RolloutResult>;
  /** Deploys the recorded version again, by its pinned reference; idempotent, so retries are safe. */
  rollback(previous: RunningVersion): Promise<RolloutResult>;
  /**
   * The canary version's pinned reference as it runs now (Kubernetes: the digest its pods'
   * imageID tells), or null when the pull pinned it already or no canary pod runs.
   */
  canaryPinned(): Promise<string | null>;
}

const NOTHING_RECORDED: RolloutResult = { ok: false, evidence: 'nothing was running before this deploy: there is no version to go back to' };

function composeOps(plan: DeployPlan & { target: { type: 'compose' } }): DeployTargetOps {
  const { target, composeService: service, config } = plan;
  // `reference` (the tag people deployed) travels as a container label: the pinned image says only an id.
  const rolloutTo = async (image: string, reference: string | null, activities = streamingActivities): Promise<RolloutResult> => {
    await activities(`compose up ${service} ${image}`).composeRollout({ target, service, image, reference });
    const state = await activities(`compose health ${service}`).composeServiceHealth({ target, service, image, timeoutSeconds: config.rolloutTimeoutSeconds });
    const states = state.states.map((s) => `${s.image} ${s.running ? 'running' : 'not running'}${s.health ? ` (${s.health})` : ''}`).join(', ');
    return { ok: state.healthy, evidence: `containers: ${states || 'none'}${state.logsTail ? `\nlogs tail:\n${state.logsTail}` : ''}` };
  };
  return {
    current: async () => {
      const version = await quickActivities(`current version of ${service}`).composeCurrentVersion({ target, service });
      return { image: version.image, digest: version.imageId, pinned: version.repoDigest ?? version.imageId };
    },
    pull: async () => {
      const pulled = await streamingActivities(`pull ${plan.image}`).composePull({ image: plan.image, registry: plan.registry, policy: target.pull });
      return { pinned: pulled.pinned, digest: pulled.repoDigest ?? pulled.imageId, note: pulled.note };
    },
    migrate: (image, command) =>
      streamingActivities(`migrate with ${plan.image}`).composeMigrate({ target, service, image, command, containerName: `${target.projectName}-migrate-${plan.runTag}` }),
    rollout: (image) => rolloutTo(image, plan.image),
    rollback: async (previous) =>
      previous.pinned ? rolloutTo(previous.pinned, previous.image, (summary) => compensationActivities(summary, 'streaming')) : NOTHING_RECORDED,
    // composePull pinned the image by its id or repo digest before the canary started.
    canaryPinned: async () => null,
  };
}

function kubernetesOps(plan: DeployPlan & { target: { type: 'kubernetes' } }): DeployTargetOps {
  const { target, deployment, container, config } = plan;
  const rolloutTo = async (image: string, activities = quickActivities): Promise<RolloutResult> => {
    await activities(`set image ${deployment}`).k8sSetImage({ target, deployment, container, image });
    const status = await streamingActivities(`rollout status ${deployment}`).k8sRolloutStatus({ target, deployment, timeoutSeconds: config.rolloutTimeoutSeconds });
    return { ok: status.complete, evidence: `kubectl rollout status: ${status.message}` };
  };
  const current = async (): Promise<RunningVersion> => {
    const state = await quickActivities(`current version of ${deployment}`).k8sDeploymentState({ target, deployment, container });
    return { image: state.image, digest: state.imageId, pinned: state.pinned, revision: state.revision, replicas: state.replicas };
  };
  return {
    current,
    // The cluster pulls; its pods' imageID tells the digest once they run.
    pull: async () => ({ pinned: plan.image, digest: null, note: 'pulled by the cluster' }),
    migrate: (image, command, from) =>
      streamingActivities(`migration job for ${plan.image}`).k8sRunMigration({
        target,
        deployment: from ?? deployment,
        container,
        image,
        command,
        jobName: `${deployment.slice(0, 40)}-migrate-${plan.runTag}`,
        timeoutSeconds: config.rolloutTimeoutSeconds,
      }),
    rollout: (image) => rolloutTo(image),
    rollback: async (previous) => (previous.pinned ? rolloutTo(previous.pinned, compensationActivities) : NOTHING_RECORDED),
    canaryPinned: async () => {
      const canary = canaryDeploymentName(deployment);
      const state = await quickActivities(`digest of ${canary}`).k8sDeploymentState({ target, deployment: canary, container });
      return state.imageId ? state.pinned : null;
    },
  };
}

export function deployTargetOps(plan: DeployPlan): DeployTargetOps {
  return plan.target.type === 'compose'
    ? composeOps(plan as DeployPlan & { target: { type: 'compose' } })
    : kubernetesOps(plan as DeployPlan & { target: { type: 'kubernetes' } });
}
