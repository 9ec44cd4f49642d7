// The Deployment controller: one ReplicaSet per distinct pod template (named by its
// pod-template-hash, numbered by the `deployment.kubernetes.io/revision` annotation), a rolling
// update that keeps old pods until new ones are available, revision-history cleanup, and the
// status and conditions `kubectl rollout status` reads.
import { createHash } from 'node:crypto';
import { controllerRef, isControlledBy } from './ownership.js';
import type { ControllerContext } from './pods.js';
import { resourceByKind } from './resources.js';
import { selectorMatches } from './selectors.js';
import { clone, timestamp } from './store.js';

const DEPLOYMENT = resourceByKind('Deployment');
const RS = resourceByKind('ReplicaSet');
export const REVISION = 'deployment.kubernetes.io/revision';
const HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED = 'deployment.kubernetes.io/desired-replicas';
const MAX = 'deployment.kubernetes.io/max-replicas';
/** Deployment annotations not copied to its ReplicaSets (as in the real controller). */
const NOT_COPIED = new Set(['kubectl.kubernetes.io/last-applied-configuration', REVISION, HISTORY, DESIRED, MAX, 'deprecated.deployment.rollback.to']);

/** The template as the controller compares it: no pod-template-hash, no nulls or empty values, sorted keys. */
function normalized(value: any): any {
  if (Array.isArray(value)) return value.map(normalized).filter((v) => v !== undefined);
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object') return value;
  const out: Record<string, any> = {};
  for (const key of Object.keys(value).sort()) {
    const v = normalized(value[key]);
    const empty = v === undefined || (typeof v === 'object' && Object.keys(v).length === 0);
    if (!empty) out[key] = v;
  }
  return out;
}
export function templateKey(template: any): string {
  const copy = clone(template ?? {});
  if (copy.metadata?.labels) delete copy.metadata.labels['pod-template-hash'];
  return JSON.stringify(normalized(copy) ?? {});
}

/** FNV-1a of the template, as decimal digits mapped onto the API server's safe alphabet. */
export function podTemplateHash(template: any): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(templateKey(template))) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...String(hash)].map((ch) => alphabet[ch.charCodeAt(0) % alphabet.length]).join('');
}

const revisionOf = (rs: any) => Number(rs.metadata.annotations?.[REVISION] ?? 0);

function intOrPercent(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'string' && value.endsWith('%')) {
    const scaled = (parseInt(value, 10) * total) / 100;
    return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
  }
  return Number(value ?? 0);
}

function rollingLimits(d: any): { maxUnavailable: number; maxSurge: number } {
  const desired = d.spec.replicas ?? 1;
  if (d.spec.strategy?.type !== 'RollingUpdate') return { maxUnavailable: 0, maxSurge: 0 };
  const ru = d.spec.strategy.rollingUpdate ?? {};
  const maxSurge = intOrPercent(ru.maxSurge ?? '25%', desired, true);
  let maxUnavailable = intOrPercent(ru.maxUnavailable ?? '25%', desired, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxUnavailable: Math.min(maxUnavailable, desired), maxSurge };
}

function replicaSetAnnotations(d: any, revision: number, extra: Record<string, string> = {}): Record<string, string> {
  const copied = Object.entries<string>(d.metadata.annotations ?? {}).filter(([k]) => !NOT_COPIED.has(k));
  const desired = d.spec.replicas ?? 1;
  return { ...Object.fromEntries(copied), [DESIRED]: String(desired), [MAX]: String(desired + rollingLimits(d).maxSurge), [REVISION]: String(revision), ...extra };
}

function newReplicaSet(d: any, revision: number): any {
  const hash = podTemplateHash(d.spec.template);
  const template = clone(d.spec.template);
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, 'pod-template-hash': hash } };
  const selector = { ...d.spec.selector, matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels: template.metadata.labels,
      annotations: replicaSetAnnotations(d, revision),
      ownerReferences: [controllerRef(DEPLOYMENT, d)],
    },
    spec: { replicas: 0, ...(d.spec.minReadySeconds ? { minReadySeconds: d.spec.minReadySeconds } : {}), selector, template },
  };
}

function ownedReplicaSets(c: ControllerContext, d: any): any[] {
  const inNamespace = c.store.list(RS, d.metadata.namespace);
  for (const rs of inNamespace) {
    const orphan = !(rs.metadata.ownerReferences ?? []).some((ref: any) => ref.controller);
    if (orphan && selectorMatches(d.spec.selector, rs.metadata.labels)) {
      const refs = [...(rs.metadata.ownerReferences ?? []), controllerRef(DEPLOYMENT, d)];
      c.store.update(RS, { ...rs, metadata: { ...rs.metadata, ownerReferences: refs } }); // adoption
    }
  }
  return c.store.list(RS, d.metadata.namespace).filter((rs) => isControlledBy(rs, d));
}

function scaleTo(c: ControllerContext, rs: any, replicas: number, d: any): void {
  if (rs.spec.replicas === replicas) return;
  const annotations = { ...rs.metadata.annotations, [DESIRED]: String(d.spec.replicas ?? 1) };
  c.store.update(RS, { ...rs, metadata: { ...rs.metadata, annotations }, spec: { ...rs.spec, replicas } });
}

/** New RS to the desired count at once; old ones keep only available pods, just enough to stay within maxUnavailable. */
function scaleReplicaSets(c: ControllerContext, d: any, newRS: any, old: any[]): void {
  const desired = d.spec.replicas ?? 1;
  if (d.spec.strategy?.type === 'Recreate') {
    for (const rs of old) scaleTo(c, rs, 0, d);
    if (old.every((rs) => (rs.status?.replicas ?? 0) === 0)) scaleTo(c, newRS, desired, d);
    return;
  }
  scaleTo(c, newRS, desired, d);
  let budget = Math.max(0, desired - rollingLimits(d).maxUnavailable - (newRS.status?.availableReplicas ?? 0));
  for (const rs of [...old].sort((a, b) => revisionOf(b) - revisionOf(a))) {
    const keep = Math.min(rs.spec.replicas ?? 0, rs.status?.availableReplicas ?? 0, budget);
    budget -= keep;
    scaleTo(c, rs, keep, d);
  }
}

function cleanupHistory(c: ControllerContext, d: any, newRS: any): void {
  const limit = d.spec.revisionHistoryLimit ?? 10;
  const idle = ownedReplicaSets(c, d)
    .filter((rs) => rs.metadata.uid !== newRS?.metadata.uid && (rs.spec.replicas ?? 0) === 0 && (rs.status?.replicas ?? 0) === 0)
    .sort((a, b) => revisionOf(a) - revisionOf(b));
  for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) c.store.remove(RS, rs.metadata.namespace, rs.metadata.name);
}

export function syncDeployment(c: ControllerContext, d: any): void {
  const all = ownedReplicaSets(c, d);
  const key = templateKey(d.spec.template);
  let newRS = all.find((rs) => templateKey(rs.spec.template) === key);
  const old = all.filter((rs) => rs !== newRS);
  const maxOld = Math.max(0, ...old.map(revisionOf));
  let created = false;
  if (!newRS && !d.spec.paused) {
    newRS = c.store.create(RS, newReplicaSet(d, maxOld + 1));
    created = true;
  } else if (newRS && revisionOf(newRS) <= maxOld) {
    // Back to an old template (rollout undo): the old ReplicaSet becomes the newest revision.
    const history = [newRS.metadata.annotations?.[HISTORY], String(revisionOf(newRS))].filter(Boolean).join(',');
    const annotations = { ...newRS.metadata.annotations, ...replicaSetAnnotations(d, maxOld + 1, { [HISTORY]: history }) };
    newRS = c.store.update(RS, { ...newRS, metadata: { ...newRS.metadata, annotations } });
  }
  if (newRS && !d.spec.paused) scaleReplicaSets(c, d, newRS, old);
  cleanupHistory(c, d, newRS);
  updateStatus(c, d, newRS, created);
}

type Condition = { type: string; status: string; lastUpdateTime: string; lastTransitionTime: string; reason: string; message: string };

/** Sets a condition; an unchanged status and reason keeps the old one unless `touch` (progress made). */
function setCondition(conditions: Condition[], next: Omit<Condition, 'lastUpdateTime' | 'lastTransitionTime'>, now: string, touch = false): void {
  const index = conditions.findIndex((c) => c.type === next.type);
  const current = conditions[index];
  if (current && current.status === next.status && current.reason === next.reason && !touch) return;
  const transition = current && current.status === next.status ? current.lastTransitionTime : now;
  if (index >= 0) conditions.splice(index, 1);
  conditions.push({ type: next.type, status: next.status, lastUpdateTime: now, lastTransitionTime: transition, reason: next.reason, message: next.message });
}

function updateStatus(c: ControllerContext, d: any, newRS: any, created: boolean): void {
  const all = ownedReplicaSets(c, d);
  const current = newRS && all.find((rs) => rs.metadata.uid === newRS.metadata.uid);
  const sum = (f: (rs: any) => number | undefined) => all.reduce((n, rs) => n + (f(rs) ?? 0), 0);
  const desired = d.spec.replicas ?? 1;
  const available = sum((rs) => rs.status?.availableReplicas);
  const counts: Record<string, number> = {
    replicas: sum((rs) => rs.status?.replicas),
    updatedReplicas: current?.status?.replicas ?? 0,
    readyReplicas: sum((rs) => rs.status?.readyReplicas),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, sum((rs) => rs.spec.replicas) - available),
  };
  const prev = d.status ?? {};
  const conditions: Condition[] = clone(prev.conditions ?? []);
  const now = timestamp(c.now);
  const minimum = available >= desired - rollingLimits(d).maxUnavailable;
  setCondition(conditions, minimum
    ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
    : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, now);
  const progressing = conditions.find((cond) => cond.type === 'Progressing');
  const rsName = current?.metadata.name ?? '';
  const deadline = d.spec.progressDeadlineSeconds;
  if (d.spec.paused) {
    setCondition(conditions, { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' }, now);
  } else if (created) {
    setCondition(conditions, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "${rsName}"` }, now, true);
  } else if (current && !(counts.replicas === counts.updatedReplicas && progressing?.reason === 'NewReplicaSetAvailable')) {
    const oldPods = (s: any) => (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
    const complete = counts.updatedReplicas === desired && counts.replicas === desired && available === desired;
    const progressed = counts.updatedReplicas! > (prev.updatedReplicas ?? 0) || oldPods(counts) < oldPods(prev)
      || counts.readyReplicas! > (prev.readyReplicas ?? 0) || available > (prev.availableReplicas ?? 0);
    const lastUpdate = progressing ? Date.parse(progressing.lastUpdateTime) : c.now;
    if (complete) {
      setCondition(conditions, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` }, now);
    } else if (progressed || !progressing) {
      const reason = progressing ? 'ReplicaSetUpdated' : 'FoundNewReplicaSet';
      const message = progressing ? `ReplicaSet "${rsName}" is progressing.` : `Found new replica set "${rsName}"`;
      setCondition(conditions, { type: 'Progressing', status: 'True', reason, message }, now, true);
    } else if (deadline !== undefined && c.now >= lastUpdate + deadline * 1000) {
      setCondition(conditions, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` }, now);
    }
  }
  const after = conditions.find((cond) => cond.type === 'Progressing');
  if (deadline !== undefined && after?.status === 'True' && after.reason !== 'NewReplicaSetAvailable') {
    c.wakeAt(Date.parse(after.lastUpdateTime) + deadline * 1000 + 1000); // to notice the deadline passing
  }
  const status = {
    observedGeneration: d.metadata.generation,
    ...Object.fromEntries(Object.entries(counts).filter(([, v]) => v !== 0)),
    conditions,
  };
  const latest = c.store.get(DEPLOYMENT, d.metadata.namespace, d.metadata.name);
  if (!latest) return;
  const annotations = current ? { ...latest.metadata.annotations, [REVISION]: String(revisionOf(current)) } : latest.metadata.annotations;
  const next = { ...latest, metadata: { ...latest.metadata, ...(annotations ? { annotations } : {}) }, status };
  if (JSON.stringify(next) !== JSON.stringify(latest)) c.store.update(DEPLOYMENT, next);
}
