// Pod lifecycle (the kubelet's part): a pod becomes Running and Ready `readyDelayMs` after it
// is created, unless an image tag contains `bad` (ImagePullBackOff, forever). Pods that run
// to completion (restartPolicy Never/OnFailure, i.e. Jobs' pods) run their command and end
// Succeeded, or Failed when the command line contains the word `fail`. Logs follow the state.
// A started container reports the `imageID` the registry (images.ts) resolved when it started.
import { createHash } from 'node:crypto';
import type { ImageRegistry } from './images.js';
import { resourceByKind } from './resources.js';
import { badRequest } from './status.js';
import { timestamp, type ObjectStore } from './store.js';

export interface ControllerContext {
  store: ObjectStore;
  now: number;
  readyDelayMs: number;
  /** Tags → digests: what a container started now runs. */
  images: ImageRegistry;
  /** When the controller first saw the pod (ms). */
  bornAt(pod: any): number;
  /** Asks for another reconcile pass at `ms`. */
  wakeAt(ms: number): void;
}

const POD = resourceByKind('Pod');
type Stage = 'creating' | 'pullBackOff' | 'running' | 'succeeded' | 'failed';

const tagOf = (image: string) => /:([^/:@]+)(@.*)?$/.exec(image ?? '')?.[1] ?? '';
const containersOf = (spec: any): any[] => [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
/** Any image whose tag contains `bad` can never be pulled. */
export const hasBadImage = (spec: any) => containersOf(spec).some((c) => tagOf(c.image).includes('bad'));
const commandLine = (c: any) => [...(c.command ?? []), ...(c.args ?? [])].join(' ');
const commandFails = (spec: any) => containersOf(spec).some((c) => /\bfail/i.test(commandLine(c)));
const runsToCompletion = (pod: any) => pod.spec?.restartPolicy !== 'Always';
const isTerminal = (pod: any) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
const hex = (seed: string, length: number) => createHash('sha256').update(seed).digest('hex').slice(0, length);

export function isPodReady(pod: any): boolean {
  return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

function containerStatus(ctx: ControllerContext, pod: any, c: any, stage: Stage, born: number, due: number): object {
  const uid = pod.metadata.uid;
  const base = { name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, started: false };
  if (stage === 'creating' || stage === 'pullBackOff') {
    const waiting = stage === 'pullBackOff' && tagOf(c.image).includes('bad')
      ? { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` }
      : { reason: 'ContainerCreating' };
    return { ...base, state: { waiting } };
  }
  // Resolved once, when the container starts: a tag moved later does not change what runs.
  const before = (pod.status?.containerStatuses ?? []).find((s: any) => s.name === c.name && s.image === c.image);
  const started = {
    ...base,
    imageID: before?.imageID || ctx.images.imageIdOf(c.image),
    containerID: `containerd://${hex(uid + c.name, 64)}`,
  };
  if (stage === 'running') return { ...started, ready: true, started: true, state: { running: { startedAt: timestamp(born) } } };
  const exitCode = stage === 'succeeded' ? 0 : 1;
  const reason = exitCode === 0 ? 'Completed' : 'Error';
  return { ...started, state: { terminated: { exitCode, reason, startedAt: timestamp(born), finishedAt: timestamp(due), containerID: started.containerID } } };
}

function podStatus(ctx: ControllerContext, pod: any, stage: Stage, born: number, due: number): object {
  const names = (pod.spec.containers ?? []).map((c: any) => c.name).join(' ');
  const ready = stage === 'running';
  const condition = (type: string, ok: boolean, at: number, reason?: string) => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: timestamp(at),
    ...(ok || !reason ? {} : { reason, message: reason === 'PodCompleted' ? undefined : `containers with unready status: [${names}]` }),
  });
  const notReadyReason = stage === 'succeeded' || stage === 'failed' ? 'PodCompleted' : 'ContainersNotReady';
  const phase = { creating: 'Pending', pullBackOff: 'Pending', running: 'Running', succeeded: 'Succeeded', failed: 'Failed' }[stage];
  const hasIP = stage !== 'creating';
  const podIP = `10.244.${parseInt(hex(pod.metadata.uid, 2), 16)}.${1 + (parseInt(hex(pod.metadata.uid + 'ip', 2), 16) % 250)}`;
  return {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', hasIP, born),
      condition('Initialized', true, born),
      condition('Ready', ready, ready ? due : born, notReadyReason),
      condition('ContainersReady', ready, ready ? due : born, notReadyReason),
      condition('PodScheduled', true, born),
    ],
    hostIP: '10.0.0.10',
    hostIPs: [{ ip: '10.0.0.10' }],
    ...(hasIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: timestamp(born),
    containerStatuses: (pod.spec.containers ?? []).map((c: any) => containerStatus(ctx, pod, c, stage, born, due)),
    qosClass: 'BestEffort',
  };
}

/** Moves one pod along its lifecycle; writes only when its status changes. */
export function syncPod(c: ControllerContext, pod: any): void {
  if (isTerminal(pod)) return;
  const born = c.bornAt(pod);
  const due = born + c.readyDelayMs;
  const bad = hasBadImage(pod.spec);
  let stage: Stage;
  if (c.now < due) {
    stage = runsToCompletion(pod) && !bad ? 'running' : 'creating';
    c.wakeAt(due);
  } else if (bad) stage = 'pullBackOff';
  else if (runsToCompletion(pod)) stage = commandFails(pod.spec) ? 'failed' : 'succeeded';
  else stage = 'running';
  const status = JSON.parse(JSON.stringify(podStatus(c, pod, stage, born, due)));
  if (JSON.stringify(status) !== JSON.stringify(pod.status)) c.store.update(POD, { ...pod, status });
}

/** What `pods/<name>/log` returns for a container, line by line; 400 while it has not started. */
export function podLogLines(pod: any, containerName: string | null): string[] {
  const containers: any[] = pod.spec.containers ?? [];
  const podName = pod.metadata.name;
  const name = containerName ?? pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'] ?? (containers.length === 1 ? containers[0].name : undefined);
  if (!name) throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${containers.map((c) => c.name).join(' ')}]`);
  const container = containers.find((c) => c.name === name);
  if (!container) throw badRequest(`container ${name} is not valid for pod ${podName}`);
  const status = (pod.status?.containerStatuses ?? []).find((s: any) => s.name === name);
  const waiting = status ? status.state?.waiting : { reason: 'ContainerCreating' };
  if (waiting) {
    const why = waiting.reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : waiting.reason;
    throw badRequest(`container "${name}" in pod "${podName}" is waiting to start: ${why}`);
  }
  if (!runsToCompletion(pod)) return [`starting ${container.name} (${container.image})`, 'ready'];
  const lines = [`running: ${commandLine(container) || container.image}`];
  const exitCode = status.state?.terminated?.exitCode;
  if (exitCode === 0) lines.push('done');
  else if (exitCode !== undefined) lines.push('migration failed', `exit code ${exitCode}`);
  return lines;
}
