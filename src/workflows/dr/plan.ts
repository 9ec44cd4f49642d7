import type { DisasterRecoveryOptions, RestoreInput } from '../../config/inputs.js';
import type { DrPlan } from '../../config/plan.js';
import type { DrRestoreKind } from '../../config/stacks/dr.js';
import { DR_PHASES, type DrPhase } from '../../core/dr.js';
import { redactUrls } from '../../core/redact.js';

// What the assess phase's plan means, as text and as child inputs: pure, so the runbook reads as its phases.

export function describePlan(plan: DrPlan): string {
  const { postgres, qdrant, redis } = plan.components;
  const down = plan.probes.filter((probe) => !probe.answers).map((probe) => probe.component);
  const restorable = (list: Array<{ restorable: boolean }> | undefined, what: string) => (list?.some((c) => c.restorable) ? `, ${list.filter((c) => c.restorable).length} ${what}` : '');
  const notRestored = notRestoredOf(plan);
  return `backup ${plan.backup.backupId} (${plan.backup.why}); restore ${postgres.length} database(s), ${qdrant.length} collection(s), ${redis.length} Redis${restorable(plan.components.mirror, 'mirror(s)')}${restorable(plan.components.exec, 'exec dump(s)')}${notRestored.length ? `; NOT restored: ${notRestored.join('; ')}` : ''}; stop ${plan.writers.map((w) => w.service).join(', ') || 'nothing'}; deploy ${plan.services.map((s) => `${s.service} ${s.image}`).join(', ') || 'nothing'}${down.length ? `; not answering: ${down.join(', ')}` : ''}`;
}

/** The backup's mirrors and exec dumps this recovery does not restore, each with why. */
function notRestoredOf(plan: DrPlan): string[] {
  return [
    ...(plan.components.mirror ?? []).filter((c) => !c.restorable).map((c) => `mirror ${c.label} (${c.why})`),
    ...(plan.components.exec ?? []).filter((c) => !c.restorable).map((c) => `exec dump ${c.label} (${c.why})`),
  ];
}

/** A database recovered from pgBackRest: in place (recover), or into the drill stack's own cluster. */
function physicalText(plan: DrPlan, options: DisasterRecoveryOptions, database: string, into: { dataDirectory: string; port: number }): string {
  const to = plan.at ?? 'the end of the archive';
  if (plan.mode !== 'drill') return `database ${database} (its cluster, from pgBackRest, to ${to})`;
  return `database ${database} (a drill cluster in ${into.dataDirectory} on port ${into.port}, recovered from production's pgBackRest repository to ${to}, archiving off; physical whenever the drill stack gives it a cluster, even beside a logical dump, as a recovery would; ${options.keep ? 'left running after the drill (keep): stop it and remove the directory yourself' : 'stopped and its directory removed after the drill'})`;
}

function restoreDataText(plan: DrPlan, options: DisasterRecoveryOptions): string {
  const { postgres, qdrant, redis, mirror = [], exec = [] } = plan.components;
  const restored = [
    ...postgres.map((p) => (p.physical ? physicalText(plan, options, p.database, p.physical) : `database ${p.database}`)),
    ...qdrant.map((c) => `collection ${c}`),
    ...redis.map((r) => `Redis ${r}`),
    ...mirror.filter((m) => m.restorable).map((m) => `mirror ${m.label} (its own bucket and prefix)`),
    ...exec.filter((e) => e.restorable).map((e) => `exec dump ${e.label} (its restore command)`),
  ];
  const notRestored = notRestoredOf(plan);
  return `${plan.restoreGroups.map((group) => group.join(' + ')).join(', then ')} into stack ${plan.targetStack}: ${restored.join(', ') || 'nothing'}${notRestored.length ? `; not restored: ${notRestored.join('; ')}` : ''}`;
}

/** What each phase will do, in order: the plan an operator approves. */
export function phasePlanOf(plan: DrPlan, options: DisasterRecoveryOptions): Array<{ phase: DrPhase; what: string }> {
  const what: Record<DrPhase, string> = {
    assess: `backup ${plan.backup.backupId} of ${plan.backup.finishedAt} (${plan.backup.why}); data as of ${plan.dataAsOf}`,
    approve: options.approve === 'auto' ? 'none: approve: auto' : `wait up to ${plan.approvalTimeout} for the approve update`,
    'stop writers': plan.writers.length ? `stop ${plan.writers.map((w) => w.service).join(', ')} in this order` : options.mode === 'drill' ? 'none: a drill leaves production running' : 'none declared',
    'restore data': restoreDataText(plan, options),
    'verify dependencies': plan.dependencies.map((d) => `${d.type} ${d.name}`).join(', ') || 'none declared',
    'deploy services': plan.services.map((s) => `${s.service} ${s.image} (${s.source})`).join(', ') || 'none declared',
    traffic: plan.traffic ? `${plan.traffic.shifter.type}: ${plan.traffic.weight} % to the recovered side` : 'none declared',
    validate: plan.validation.map((check) => redactUrls(check.url)).join(', '),
    report: `RTO against ${plan.targets.rtoMinutes} min, RPO against ${plan.targets.rpoMinutes} min; evidence beside backup ${plan.backup.backupId}`,
  };
  return DR_PHASES.map((phase) => ({ phase, what: what[phase] }));
}

export function restoreInputOf(plan: DrPlan, kind: DrRestoreKind): RestoreInput {
  const confirmAll = (names: Array<[string, string]>) => Object.fromEntries(names.map(([key, name]) => [key, { confirm: name }]));
  const physical = plan.components.postgres.filter((p) => p.physical);
  return {
    stack: plan.stack,
    backupId: plan.backup.backupId,
    targetStack: plan.targetStack,
    components: [kind],
    // Approved (or auto): the recovery replaces what is there; a physical database becomes the cluster again, archiving as before.
    // A drill's cluster never archives: its WAL (a new timeline) must not reach production's repository.
    postgres:
      kind === 'postgres'
        ? {
            ...confirmAll(plan.components.postgres.filter((p) => !p.physical).map((p) => [p.label, p.database])),
            ...Object.fromEntries(physical.map((p) => [p.label, { into: { ...p.physical!, archiving: plan.mode === 'drill' ? ('off' as const) : ('preserve' as const) } }])),
          }
        : {},
    ...(kind === 'postgres' && physical.length > 0 ? (plan.at ? { at: plan.at } : { recoverTo: 'archive-end' as const }) : {}),
    qdrant: kind === 'qdrant' ? confirmAll(plan.components.qdrant.map((c) => [c, c])) : {},
    redis: kind === 'redis' ? confirmAll(plan.components.redis.map((r) => [r, r])) : {},
    aliases: kind === 'qdrant',
    // Named only for their own kind: the other kinds' child inputs stay as they were.
    ...(kind === 'mirror' ? { mirror: confirmAll((plan.components.mirror ?? []).filter((m) => m.restorable).map((m) => [m.label, m.label])) } : {}),
    ...(kind === 'exec' ? { exec: confirmAll((plan.components.exec ?? []).filter((e) => e.restorable).map((e) => [e.label, e.label])) } : {}),
  };
}
