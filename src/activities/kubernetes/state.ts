// What a Deployment runs now: its revision, its template's image and replicas, and the digest
// its current pods run (their containerStatuses[].imageID), pinned as `repo@sha256:…`.
import { ApplicationFailure } from '@temporalio/activity';
import type { KubernetesTarget } from '../../config/stacks/deploy.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import { kubectlCommands, type KubeTarget } from './commands.js';
import { pinnedFromReference, pinnedReference } from './digests.js';

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  [field: string]: unknown;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

interface OwnerReference {
  uid: string;
  controller?: boolean;
}

export interface DeploymentJson {
  metadata: { name: string; uid?: string; generation?: number; annotations?: Record<string, string> };
  spec: {
    replicas?: number;
    selector?: LabelSelector;
    template: { metadata?: { labels?: Record<string, string> }; spec: { containers: Container[] } & Record<string, unknown> };
  };
}

interface ReplicaSetJson {
  kind: 'ReplicaSet';
  metadata: { uid: string; annotations?: Record<string, string>; ownerReferences?: OwnerReference[] };
}

interface PodJson {
  kind: 'Pod';
  metadata: { name: string; deletionTimestamp?: string; ownerReferences?: OwnerReference[] };
  spec: { containers: Container[] };
  status?: { containerStatuses?: Array<{ name: string; imageID?: string; state?: { running?: unknown } }> };
}

export interface DeploymentState {
  /** `deployment.kubernetes.io/revision`; 0 before the controller numbered it. */
  revision: number;
  /** The template's image, as written (often a tag). */
  image: string;
  replicas: number;
  /**
   * The `imageID` the running pods of the current ReplicaSet report for this container
   * (the most common one if they differ); null when none runs.
   */
  imageId: string | null;
  /**
   * The immutable reference a rollback deploys, `repo@sha256:…`: from `imageId`, or from the
   * template image itself when it already names a digest; null when neither tells one.
   */
  pinned: string | null;
}

const REVISION = 'deployment.kubernetes.io/revision';

export function kube(target: KubernetesTarget): KubeTarget {
  return { kubeconfig: target.kubeconfig, context: target.context, namespace: target.namespace };
}

/**
 * Runs a `kubectl get … -o json`. An object that does not exist will not exist on a retry
 * either: NotFound fails at once (ConfigError), naming what to check.
 */
export async function getJson<T>(spec: Parameters<typeof runCommand>[0], signal?: AbortSignal): Promise<T> {
  try {
    return JSON.parse((await runCommand(spec, { signal })).stdout) as T;
  } catch (error) {
    if (error instanceof CommandFailed && /\(NotFound\)/.test(error.stderrTail)) {
      throw ApplicationFailure.nonRetryable(`${error.stderrTail.trim()}: check the names in the stacks file's deploy section and the namespace`, 'ConfigError');
    }
    throw error;
  }
}

/** A LabelSelector as a `-l` argument: `app=api,tier in (web,api),!legacy`. */
export function selectorArgument(selector: LabelSelector | undefined): string | null {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    if (operator === 'In') terms.push(`${key} in (${values.join(',')})`);
    else if (operator === 'NotIn') terms.push(`${key} notin (${values.join(',')})`);
    else if (operator === 'Exists') terms.push(key);
    else if (operator === 'DoesNotExist') terms.push(`!${key}`);
    else return null;
  }
  return terms.length ? terms.join(',') : null;
}

const controlledBy = (obj: { metadata: { ownerReferences?: OwnerReference[] } }, uid: string | undefined) =>
  uid !== undefined && (obj.metadata.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid);

/** The most common value (ties: the first seen). */
function mostCommon(values: string[]): string | null {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  for (const [v, n] of counts) if (best === null || n > counts.get(best)!) best = v;
  return best;
}

/**
 * The imageID of `container` in the running pods of the Deployment's current ReplicaSet (the one
 * whose revision is the Deployment's): pods that run the template's image, not old ones still
 * draining, nor ones being deleted.
 */
export function runningImageId(deployment: DeploymentJson, objects: Array<ReplicaSetJson | PodJson | { kind: string }>, container: string, image: string): string | null {
  const revision = deployment.metadata.annotations?.[REVISION];
  const replicaSets = objects.filter((o): o is ReplicaSetJson => o.kind === 'ReplicaSet').filter((rs) => controlledBy(rs, deployment.metadata.uid));
  const current = replicaSets.find((rs) => revision !== undefined && rs.metadata.annotations?.[REVISION] === revision);
  if (!current) return null;
  const ids = objects
    .filter((o): o is PodJson => o.kind === 'Pod')
    .filter((pod) => controlledBy(pod, current.metadata.uid) && !pod.metadata.deletionTimestamp)
    .filter((pod) => pod.spec.containers.some((c) => c.name === container && c.image === image))
    .flatMap((pod) => (pod.status?.containerStatuses ?? []).filter((s) => s.name === container && s.state?.running && s.imageID))
    .map((s) => s.imageID!);
  return mostCommon(ids);
}

export async function deploymentState(target: KubernetesTarget, deployment: string, container: string, signal?: AbortSignal): Promise<DeploymentState> {
  const json = await getJson<DeploymentJson>(kubectlCommands.getDeployment(kube(target), deployment), signal);
  const found = json.spec.template.spec.containers.find((c) => c.name === container);
  if (!found) throw ApplicationFailure.nonRetryable(`deployment/${deployment} has no container "${container}"`, 'ConfigError');
  const replicas = json.spec.replicas ?? 1;
  const selector = selectorArgument(json.spec.selector);
  let imageId: string | null = null;
  if (selector && replicas > 0) {
    const list = await getJson<{ items: Array<ReplicaSetJson | PodJson> }>(kubectlCommands.listReplicaSetsAndPods(kube(target), selector), signal);
    imageId = runningImageId(json, list.items, container, found.image);
  }
  return {
    revision: Number(json.metadata.annotations?.[REVISION] ?? 0),
    image: found.image,
    replicas,
    imageId,
    pinned: pinnedReference(imageId, found.image) ?? pinnedFromReference(found.image),
  };
}
