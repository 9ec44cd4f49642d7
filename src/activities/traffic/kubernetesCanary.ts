// The canary Deployment beside the stable one: `<deployment>-canary`, made from the stable
// Deployment's template with the new image, at 0 replicas until a weight is set. Its pods keep
// the stable pods' labels (so the app's Service selects both) and add `ragops.io/track: canary`,
// which the canary's own selector also requires (so it never counts the stable pods).
import { createHash } from 'node:crypto';
import type { KubernetesTarget } from '../../config/stacks/deploy.js';
import { canaryDeploymentName } from '../../config/stacks/trafficKubernetes.js';
import type { DeploymentJson } from '../kubernetes/state.js';
import { kubectlCommands } from '../kubernetes/commands.js';
import { CANARY_OF, configError, createObject, findObject, kubectl, MANAGED_BY, mergePatch, requireObject, target, where } from './kubernetesCommon.js';

export const TRACK = 'ragops.io/track';
/** The stable Deployment's replicas when the canary started: the whole that weights are shares of. */
export const CANARY_TOTAL = 'ragops.io/canary-total';
/** A hash of the template ragops wrote, so relaunching the same image writes nothing. */
export const CANARY_TEMPLATE = 'ragops.io/canary-template';

export interface LaunchCanaryRequest {
  target: KubernetesTarget;
  /** The stable Deployment. */
  deployment: string;
  /** The container whose image the canary changes. */
  container: string;
  image: string;
  /** Default `<deployment>-canary`; give the kubernetes-replicas shifter's `canaryDeployment` when it names another. */
  canaryDeployment?: string;
  signal?: AbortSignal;
}

export interface RemoveCanaryRequest {
  target: KubernetesTarget;
  deployment: string;
  canaryDeployment?: string;
  signal?: AbortSignal;
}

type Deployment = DeploymentJson & {
  metadata: DeploymentJson['metadata'] & { labels?: Record<string, string> };
  spec: DeploymentJson['spec'] & Record<string, unknown>;
};

/** Copied from the stable Deployment's spec besides the template. */
const COPIED_SPEC = ['strategy', 'minReadySeconds', 'revisionHistoryLimit', 'progressDeadlineSeconds'] as const;

/** The stable Deployment's replicas as the whole (at least 1, so a weight above 0 runs a pod). */
export const totalOf = (stable: DeploymentJson) => Math.max(1, stable.spec.replicas ?? 1);

/** The canary Deployment for `stable` running `image` in `container` (pure). */
export function canaryDeploymentFrom(stable: Deployment, name: string, container: string, image: string): Deployment {
  const source = stable.spec.template;
  if (!source.spec.containers.some((c) => c.name === container)) {
    throw configError(`deployment/${stable.metadata.name} has no container "${container}"`);
  }
  const template = {
    ...source,
    metadata: { ...source.metadata, labels: { ...source.metadata?.labels, [TRACK]: 'canary' } },
    spec: { ...source.spec, containers: source.spec.containers.map((c) => (c.name === container ? { ...c, image } : c)) },
  };
  const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 16);
  const selector = stable.spec.selector ?? {};
  const spec: Deployment['spec'] = {
    replicas: 0,
    selector: { ...selector, matchLabels: { ...selector.matchLabels, [TRACK]: 'canary' } },
    template,
  };
  for (const field of COPIED_SPEC) if (stable.spec[field] !== undefined) spec[field] = stable.spec[field];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      labels: { ...stable.metadata.labels, [TRACK]: 'canary', [MANAGED_BY]: 'ragops' },
      annotations: { [CANARY_OF]: stable.metadata.name, [CANARY_TOTAL]: String(totalOf(stable)), [CANARY_TEMPLATE]: hash },
    },
    spec,
  } as Deployment;
}

function checkOwned(t: KubernetesTarget, canary: Deployment, stableName: string): void {
  if (canary.metadata.labels?.[MANAGED_BY] !== 'ragops' || canary.metadata.annotations?.[CANARY_OF] !== stableName) {
    throw configError(
      `deployment/${canary.metadata.name} in ${where(t)} was not made by ragops as the canary of deployment/${stableName} (no ${MANAGED_BY}: ragops label or ${CANARY_OF} annotation): rename it, or name another canaryDeployment`,
    );
  }
}

/**
 * Creates the canary Deployment, or updates its template when the image (or the stable
 * template) changed; idempotent: a relaunch of the same image writes nothing. A new canary has
 * 0 replicas; an existing one keeps its replicas and its recorded total.
 */
export async function launchCanary(request: LaunchCanaryRequest): Promise<{ deployment: string; created: boolean; updated: boolean }> {
  const { target: t, deployment, container, image, signal } = request;
  const name = request.canaryDeployment ?? canaryDeploymentName(deployment);
  const stable = await requireObject<Deployment>(t, `deployment/${deployment}`, "check the service's deployment name in the stacks file and the namespace", signal);
  const desired = canaryDeploymentFrom(stable, name, container, image);
  const existing = await findObject<Deployment>(t, `deployment/${name}`, signal);
  if (!existing) {
    if (await createObject(t, `deployment/${name}`, desired, signal)) return { deployment: name, created: true, updated: false };
    return launchCanary(request); // made meanwhile: compare with it
  }
  checkOwned(t, existing, deployment);
  const hash = desired.metadata.annotations![CANARY_TEMPLATE]!;
  if (existing.metadata.annotations?.[CANARY_TEMPLATE] === hash) return { deployment: name, created: false, updated: false };
  await mergePatch(t, `deployment/${name}`, { metadata: { annotations: { [CANARY_TEMPLATE]: hash } }, spec: { template: desired.spec.template } }, signal);
  return { deployment: name, created: false, updated: true };
}

/** Deletes the canary Deployment (its ReplicaSets and pods with it); idempotent. Refuses one ragops did not make. */
export async function removeCanary(request: RemoveCanaryRequest): Promise<{ deployment: string; removed: boolean }> {
  const { target: t, deployment, signal } = request;
  const name = request.canaryDeployment ?? canaryDeploymentName(deployment);
  const existing = await findObject<Deployment>(t, `deployment/${name}`, signal);
  if (!existing) return { deployment: name, removed: false };
  checkOwned(t, existing, deployment);
  await kubectl(kubectlCommands.deleteDeployment(target(t), name), { signal });
  return { deployment: name, removed: true };
}
