// Leases: one run per target at a time. Target names, lease workflow ids and the pure
// grant decision the lease workflow makes. No I/O: both workflows and activities use it.
import type { BackupPlan, RestorePlan } from '../config/plan.js';

export type LeaseMode = 'shared' | 'exclusive';

export interface LeaseHolder {
  /** The holding run's workflow id (a Reset or a re-run under the same id holds the same lease). */
  workflowId: string;
  runId?: string;
  runbook: string;
  mode: LeaseMode;
  since: string;
}

export interface LeaseRequest {
  workflowId: string;
  runId?: string;
  runbook: string;
  mode: LeaseMode;
  /** Holders the caller found closed (crashed or terminated without releasing): dropped first. */
  evict?: string[];
}

/** The acquire update's answer: granted, or busy with the holders in the way. */
export type LeaseAnswer = { granted: true } | { granted: false; blockers: LeaseHolder[] };

/** A lease on a target, as requested by a runbook. */
export interface LeaseClaim {
  target: string;
  mode: LeaseMode;
}

export const LEASE_WORKFLOW_PREFIX = 'ragops-lease-';

export function leaseWorkflowId(target: string): string {
  return `${LEASE_WORKFLOW_PREFIX}${target}`;
}

/** A URL without userinfo, query or fragment: a capability or a password never names a lease. */
export function bareUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1').replace(/[?#].*$/, '').replace(/\/+$/, '');
}

export const leaseTargets = {
  postgres: (db: { host: string; port: number; database: string }) => `postgres:${db.host}:${db.port}/${db.database}`,
  qdrant: (url: string, collection: string) => `qdrant:${bareUrl(url)}/${collection}`,
  /** A Redis server (all its databases: an RDB holds them all). */
  redis: (server: { host: string; port: number }) => `redis:${server.host}:${server.port}`,
  /** One backup at a time per stack and plan: plans on their own rhythms (Redis hourly, Postgres every 6 h) overlap freely. */
  backup: (stack: string, plan?: string) => (plan ? `backup:${stack}:${plan}` : `backup:${stack}`),
  /** A pgBackRest stanza of a cluster: one physical backup (and expire) at a time, as pgBackRest's own lock wants. */
  stanza: (cluster: { host: string; port: number }, stanza: string) => `pgbackrest:${cluster.host}:${cluster.port}/${stanza}`,
  verify: (stack: string) => `verify:${stack}`,
  /** One disaster recovery (or DR drill) of a stack at a time. */
  dr: (stack: string) => `dr:${stack}`,
  prune: (stack: string) => `prune:${stack}`,
  /** A bucket prefix a restore writes objects into (AWS when no endpoint is given). */
  objects: (place: { endpoint?: string; bucket: string; prefix: string }) => `objects:${place.endpoint ? bareUrl(place.endpoint) : 'aws'}/${place.bucket}/${place.prefix}`,
  /** What an exec dump's restore command writes to: one restore of it at a time. */
  execRestore: (stack: string, label: string) => `exec:${stack}/${label}`,
  service: (stack: string, service: string) => `service:${stack}/${service}`,
};

/** One claim per target, sorted (a fixed order so two runs never wait on each other in a cycle); exclusive wins over shared. */
export function normalizeClaims(claims: LeaseClaim[]): LeaseClaim[] {
  const byTarget = new Map<string, LeaseMode>();
  for (const claim of claims) {
    if (byTarget.get(claim.target) !== 'exclusive') byTarget.set(claim.target, claim.mode);
  }
  return [...byTarget.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([target, mode]) => ({ target, mode }));
}

/** What is wrong with a request, or undefined: the lease workflow's update validator. */
export function leaseRequestProblem(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null) return 'an acquire request is an object';
  const r = request as Record<string, unknown>;
  if (typeof r.workflowId !== 'string' || r.workflowId === '') return 'workflowId: a non-empty string';
  if (typeof r.runbook !== 'string' || r.runbook === '') return 'runbook: a non-empty string';
  if (r.mode !== 'shared' && r.mode !== 'exclusive') return 'mode: "shared" or "exclusive"';
  if (r.runId !== undefined && typeof r.runId !== 'string') return 'runId: a string';
  if (r.evict !== undefined && !(Array.isArray(r.evict) && r.evict.every((id) => typeof id === 'string'))) return 'evict: a list of workflow ids';
  return undefined;
}

/** What the lease workflow keeps (`holders`, evictions applied) and answers (`blockers`). */
export interface LeaseDecision {
  granted: boolean;
  holders: LeaseHolder[];
  blockers: LeaseHolder[];
}

/**
 * Whether `request` may hold the lease now: an exclusive one needs no other holder, a shared
 * one only shared holders; a workflow that already holds it is re-entrant (and keeps the
 * stronger of its two modes). Holders named in `evict` are dropped whatever the outcome.
 */
export function grant(holders: LeaseHolder[], request: LeaseRequest, now: string): LeaseDecision {
  const evicted = new Set(request.evict ?? []);
  evicted.delete(request.workflowId);
  const remaining = holders.filter((holder) => !evicted.has(holder.workflowId));
  const others = remaining.filter((holder) => holder.workflowId !== request.workflowId);
  const blockers = request.mode === 'exclusive' ? others : others.filter((holder) => holder.mode === 'exclusive');
  if (blockers.length > 0) return { granted: false, holders: remaining, blockers };
  const mine = remaining.find((holder) => holder.workflowId === request.workflowId);
  const mode: LeaseMode = mine?.mode === 'exclusive' ? 'exclusive' : request.mode;
  const held: LeaseHolder = { workflowId: request.workflowId, runbook: request.runbook, mode, since: mine?.since ?? now };
  if (request.runId !== undefined) held.runId = request.runId;
  return { granted: true, holders: [...others, held], blockers: [] };
}

/** The holder list without `workflowId` (release is idempotent: an absent holder changes nothing). */
export function release(holders: LeaseHolder[], workflowId: string): LeaseHolder[] {
  return holders.filter((holder) => holder.workflowId !== workflowId);
}

// What each runbook holds while it runs (README "Exclusion").

export function backupClaims(plan: Pick<BackupPlan, 'stack' | 'postgres' | 'qdrant' | 'planName' | 'redis' | 'physical'>): LeaseClaim[] {
  return [
    ...(plan.physical ?? []).map(({ target }): LeaseClaim => ({ target: leaseTargets.stanza(target, target.physical.stanza), mode: 'exclusive' })),
    { target: leaseTargets.backup(plan.stack, plan.planName), mode: 'exclusive' },
    ...(plan.redis ?? []).map((server): LeaseClaim => ({ target: leaseTargets.redis(server), mode: 'shared' })),
    ...plan.postgres.map((db): LeaseClaim => ({ target: leaseTargets.postgres(db), mode: 'shared' })),
    ...(plan.qdrant?.collections ?? []).map((collection): LeaseClaim => ({ target: leaseTargets.qdrant(plan.qdrant!.url, collection), mode: 'shared' })),
  ];
}

export function restoreClaims(plan: Pick<RestorePlan, 'targetStack' | 'postgres' | 'qdrant' | 'redis' | 'physical' | 'mirrors' | 'exec'>): LeaseClaim[] {
  return [
    // Objects put back under a prefix, or an exec dump's restore command: no other restore writes there meanwhile.
    ...(plan.mirrors ?? []).map((step): LeaseClaim => ({ target: leaseTargets.objects(step.component), mode: 'exclusive' })),
    ...(plan.exec ?? []).map((step): LeaseClaim => ({ target: leaseTargets.execRestore(plan.targetStack, step.label), mode: 'exclusive' })),
    // A new cluster on a port of this host: no other restore may start one there meanwhile.
    ...(plan.physical ?? []).map((step): LeaseClaim => ({ target: leaseTargets.postgres({ host: 'localhost', port: step.into.port, database: step.into.dataDirectory }), mode: 'exclusive' })),
    // Over a running Redis, or a new one on a port: either way no backup or other restore may use that server meanwhile.
    ...(plan.redis ?? []).map((step): LeaseClaim => ({ target: leaseTargets.redis('over' in step ? step.over : { host: step.into.bind, port: step.into.port }), mode: 'exclusive' })),
    ...plan.postgres.map((step): LeaseClaim => ({ target: leaseTargets.postgres({ ...step.target, database: step.database }), mode: 'exclusive' })),
    ...(plan.qdrant?.collections ?? []).map((step): LeaseClaim => ({ target: leaseTargets.qdrant(plan.qdrant!.endpoint.url, step.collection), mode: 'exclusive' })),
  ];
}

export const verifyClaims = (stack: string): LeaseClaim[] => [{ target: leaseTargets.verify(stack), mode: 'exclusive' }];
export const pruneClaims = (stack: string): LeaseClaim[] => [{ target: leaseTargets.prune(stack), mode: 'exclusive' }];
export const deployClaims = (stack: string, service: string): LeaseClaim[] => [{ target: leaseTargets.service(stack, service), mode: 'exclusive' }];
