// The Job controller: one pod at a time until `completions` pods succeeded (conditions
// SuccessCriteriaMet + Complete) or more than `backoffLimit` failed, or `activeDeadlineSeconds`
// passed (FailureTarget + Failed), as Kubernetes 1.32 reports them; `ttlSecondsAfterFinished`.
import { deleteWithDependents } from './ownership.js';
import { isPodReady, type ControllerContext } from './pods.js';
import { podFromTemplate, podsOf } from './replicasets.js';
import { resourceByKind } from './resources.js';
import { clone, timestamp } from './store.js';

const JOB = resourceByKind('Job');
const POD = resourceByKind('Pod');

const finishedCondition = (job: any) =>
  (job.status?.conditions ?? []).find((c: any) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

function conditionPair(first: string, second: string, reason: string, message: string, now: string): object[] {
  return [first, second].map((type) => ({ type, status: 'True', lastProbeTime: now, lastTransitionTime: now, reason, message }));
}

/** Deletes a finished Job once `ttlSecondsAfterFinished` has passed since it finished. */
function expireFinished(c: ControllerContext, job: any, finished: any): void {
  const ttl = job.spec.ttlSecondsAfterFinished;
  if (ttl === undefined) return;
  const at = Date.parse(finished.lastTransitionTime) + ttl * 1000;
  if (c.now >= at) deleteWithDependents(c.store, JOB, job.metadata.namespace, job.metadata.name, 'Background');
  else c.wakeAt(at);
}

export function syncJob(c: ControllerContext, job: any): void {
  const finished = finishedCondition(job);
  if (finished) return expireFinished(c, job, finished);
  const pods = podsOf(c, job);
  const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
  const failed = pods.filter((p) => p.status?.phase === 'Failed').length;
  let active = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const prev = job.status ?? {};
  const now = timestamp(c.now);
  const startTime: string = prev.startTime ?? now;
  const conditions: object[] = clone(prev.conditions ?? []);
  const deadline = job.spec.activeDeadlineSeconds;
  let completionTime: string | undefined;
  const stopActive = () => {
    for (const pod of active) c.store.remove(POD, pod.metadata.namespace, pod.metadata.name);
    active = [];
  };

  if (succeeded >= (job.spec.completions ?? 1)) {
    conditions.push(...conditionPair('SuccessCriteriaMet', 'Complete', 'CompletionsReached', 'Reached expected number of succeeded pods', now));
    completionTime = now;
  } else if (failed > (job.spec.backoffLimit ?? 6)) {
    stopActive();
    conditions.push(...conditionPair('FailureTarget', 'Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now));
  } else if (deadline !== undefined && c.now >= Date.parse(startTime) + deadline * 1000) {
    stopActive();
    conditions.push(...conditionPair('FailureTarget', 'Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline', now));
  } else {
    if (deadline !== undefined) c.wakeAt(Date.parse(startTime) + deadline * 1000 + 1000);
    if (!job.spec.suspend && active.length === 0) active = [c.store.create(POD, podFromTemplate(job, 'Job'))];
  }

  const status = {
    ...(conditions.length ? { conditions } : {}),
    startTime,
    ...(completionTime ? { completionTime } : {}),
    ...(active.length ? { active: active.length } : {}),
    ...(succeeded ? { succeeded } : {}),
    ...(failed ? { failed } : {}),
    terminating: 0,
    uncountedTerminatedPods: {},
    ready: active.filter(isPodReady).length,
  };
  const latest = c.store.get(JOB, job.metadata.namespace, job.metadata.name);
  if (latest && JSON.stringify(latest.status) !== JSON.stringify(status)) c.store.update(JOB, { ...latest, status });
}
