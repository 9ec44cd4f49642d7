// `ragops status`: what the store and Temporal say of each stack, turned into ages, verdicts
// against the stack's SLO and a table. Pure: every input is read elsewhere and passed in.
import type { StackCatalog } from '../config/stackCatalog.js';
import { formatBytes } from './format.js';

export const STATUS_FORMAT = 1;

export interface ScheduleState {
  scheduleId: string;
  workflowType?: string;
  paused: boolean;
  note?: string;
  nextRun?: string;
  lastRun?: { at: string; workflowId: string; result: string };
}

export interface RunState {
  workflowId: string;
  runId: string;
  runbook: string;
  phase?: string;
  startedAt: string;
  uiUrl: string;
}

export interface PitrFigure {
  target: string;
  database: string;
  rpoSeconds?: number;
  basis?: string;
  recoverableTo?: string;
  problems: string[];
}

/** What Temporal answered, or why it could not be asked. */
export type Known<T> = { known: true; items: T[] } | { known: false; cause: string };

export interface StackStatusInput {
  stack: string;
  now: Date;
  /** The stack's catalog, or why the store could not be read. */
  catalog: { catalog: StackCatalog; source: string; why?: string; writeProblem?: string } | { error: string };
  /** The stack's backup plans by name (a plan without a backup yet shows as never). */
  plans: string[];
  slo: { backupMaxAgeSeconds?: number; drillMaxAgeSeconds: number };
  drTargets?: { rtoMinutes: number; rpoMinutes: number };
  schedules: Known<ScheduleState>;
  runs: Known<RunState>;
  pitr: PitrFigure[];
}

export type BreachKind = 'backup-too-old' | 'no-passing-drill' | 'drill-failed' | 'schedule-paused';
export interface Breach {
  kind: BreachKind;
  detail: string;
}

const againstTarget = (seconds: number, targetSeconds: number) => ({ seconds, targetSeconds, met: seconds <= targetSeconds });

export const ageSeconds = (now: Date, time: string) => Math.max(0, Math.round((now.getTime() - Date.parse(time)) / 1000));

/** One stack's status: a stable JSON shape, the same whether the catalog was read or rebuilt. */
export function stackStatus(input: StackStatusInput) {
  const { now, slo } = input;
  const read = 'catalog' in input.catalog ? input.catalog : undefined;
  const catalog = read?.catalog;
  const age = (time: string) => ageSeconds(now, time);
  const planNames = [...new Set([...(catalog?.plans.map((plan) => plan.plan) ?? []), ...input.plans, ...(input.plans.length === 0 ? [null] : [])])].sort(
    (a, b) => (a === null ? -1 : b === null ? 1 : a.localeCompare(b)),
  );
  const backups = catalog
    ? planNames.map((plan) => {
        const newest = catalog.plans.find((entry) => entry.plan === plan);
        return newest
          ? { plan, backupId: newest.backupId, finishedAt: newest.finishedAt, ageSeconds: age(newest.finishedAt), bytes: newest.bytes, artifacts: newest.artifacts, completeBackups: newest.completeBackups }
          : { plan, backupId: null, finishedAt: null, ageSeconds: null, bytes: null, artifacts: null, completeBackups: 0 };
      })
    : [];
  const newestBackup = backups.reduce<(typeof backups)[number] | undefined>((best, entry) => (entry.finishedAt && (!best?.finishedAt || entry.finishedAt > best.finishedAt) ? entry : best), undefined);
  const drill = (entry: StackCatalog['lastDrill'] | undefined) =>
    entry ? { backupId: entry.backupId, plan: entry.plan, depth: entry.depth, outcome: entry.outcome, finishedAt: entry.finishedAt, ageSeconds: age(entry.finishedAt) } : null;
  const dr = (entry: StackCatalog['lastDr'] | undefined) => {
    if (!entry) return null;
    const rtoTarget = input.drTargets ? input.drTargets.rtoMinutes * 60 : entry.rto?.targetSeconds;
    const rpoTarget = input.drTargets ? input.drTargets.rpoMinutes * 60 : entry.rpo?.targetSeconds;
    return {
      mode: entry.mode,
      outcome: entry.outcome,
      backupId: entry.backupId,
      at: entry.at,
      ageSeconds: age(entry.at),
      rto: entry.rto && rtoTarget !== undefined ? againstTarget(entry.rto.seconds, rtoTarget) : null,
      rpo: entry.rpo && rpoTarget !== undefined ? againstTarget(entry.rpo.seconds, rpoTarget) : null,
    };
  };

  const breaches: Breach[] = [];
  if (catalog) {
    if (slo.backupMaxAgeSeconds !== undefined) {
      if (!newestBackup?.finishedAt) breaches.push({ kind: 'backup-too-old', detail: 'no complete backup' });
      else if (newestBackup.ageSeconds! > slo.backupMaxAgeSeconds) breaches.push({ kind: 'backup-too-old', detail: `newest complete backup ${newestBackup.backupId} is ${formatAge(newestBackup.ageSeconds!)} old, over ${formatAge(slo.backupMaxAgeSeconds)}` });
    }
    // A checksum drill proves the bytes, not that they restore: the SLO (and its alert rule) asks for a restore.
    const passing = catalog.lastPassingRestoreDrill;
    if (!passing) breaches.push({ kind: 'no-passing-drill', detail: 'no restore drill has passed' });
    else if (age(passing.finishedAt) > slo.drillMaxAgeSeconds) breaches.push({ kind: 'no-passing-drill', detail: `last passing restore drill ${formatAge(age(passing.finishedAt))} ago, over ${formatAge(slo.drillMaxAgeSeconds)}` });
    if (catalog.lastDrill?.outcome === 'failed') breaches.push({ kind: 'drill-failed', detail: `the last drill (${catalog.lastDrill.depth}, backup ${catalog.lastDrill.backupId}) failed` });
  }
  if (input.schedules.known) {
    for (const schedule of input.schedules.items.filter((item) => item.paused)) breaches.push({ kind: 'schedule-paused', detail: `schedule ${schedule.scheduleId} is paused${schedule.note ? `: ${schedule.note}` : ''}` });
  }

  return {
    stack: input.stack,
    store: read ? { known: true as const, source: read.source, ...(read.why ? { why: read.why } : {}), ...(read.writeProblem ? { writeProblem: read.writeProblem } : {}), rebuiltAt: catalog!.rebuiltAt } : { known: false as const, cause: (input.catalog as { error: string }).error },
    slo,
    backups,
    newestBackup: newestBackup?.finishedAt ? { plan: newestBackup.plan, backupId: newestBackup.backupId!, ageSeconds: newestBackup.ageSeconds! } : null,
    drills: catalog ? { last: drill(catalog.lastDrill), lastPassing: drill(catalog.lastPassingDrill), lastPassingRestore: drill(catalog.lastPassingRestoreDrill), counts: catalog.counts.drills } : null,
    dr: catalog ? { targets: input.drTargets ? { rtoSeconds: input.drTargets.rtoMinutes * 60, rpoSeconds: input.drTargets.rpoMinutes * 60 } : null, last: dr(catalog.lastDr), lastDrill: dr(catalog.lastDrDrill) } : null,
    counts: catalog ? { completeBackups: catalog.counts.completeBackups, drRuns: catalog.counts.drRuns, unreadable: catalog.counts.unreadable } : null,
    pitr: input.pitr,
    schedules: input.schedules,
    runs: input.runs,
    breaches,
  };
}
export type StackStatus = ReturnType<typeof stackStatus>;

export function statusReport(now: Date, stacks: StackStatus[]) {
  return { formatVersion: STATUS_FORMAT, generatedAt: now.toISOString(), breaches: stacks.reduce((sum, stack) => sum + stack.breaches.length, 0), stacks };
}
export type StatusReport = ReturnType<typeof statusReport>;

/** 45s, 12m, 3h 05m, 2d 4h: an age an operator reads at a glance. */
export function formatAge(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((cell, index) => Math.max(cell.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd(widths[index]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].map((text) => `  ${text}`);
}

const versus = (figure: { seconds: number; targetSeconds: number; met: boolean } | null) =>
  figure ? `${formatAge(figure.seconds)} of ${formatAge(figure.targetSeconds)}${figure.met ? '' : ' MISSED'}` : '-';

/** The human rendering: per stack, a few small tables and the breaches, marked "!". */
export function renderStatus(report: StatusReport): string {
  const out: string[] = [];
  for (const stack of report.stacks) {
    out.push(`stack ${stack.stack}${stack.breaches.length > 0 ? `  — ${stack.breaches.length} SLO BREACH(ES)` : '  — ok'}`);
    const breached = new Set(stack.breaches.map((breach) => breach.kind));
    const mark = (kind: BreachKind) => (breached.has(kind) ? '!' : ' ');
    if (!stack.store.known) out.push(`  store: UNKNOWN (${stack.store.cause})`);
    else {
      const max = stack.slo.backupMaxAgeSeconds;
      out.push(`  backups (max age ${max === undefined ? 'not set' : formatAge(max)}):`);
      out.push(
        ...table(
          ['', 'PLAN', 'LAST COMPLETE', 'AGE', 'SIZE', 'ARTIFACTS', 'BACKUPS'],
          stack.backups.map((entry) => [
            entry.finishedAt && entry.backupId === stack.newestBackup?.backupId ? mark('backup-too-old') : ' ',
            entry.plan ?? '(no plan)',
            entry.backupId ?? 'never',
            entry.ageSeconds === null ? '-' : formatAge(entry.ageSeconds),
            entry.bytes === null ? '-' : formatBytes(entry.bytes),
            entry.artifacts === null ? '-' : String(entry.artifacts),
            String(entry.completeBackups),
          ]),
        ).map((text) => `  ${text}`),
      );
      const drills = stack.drills!;
      const drillRow = (what: string, drill: typeof drills.last, marker: string) =>
        drill ? [marker, what, `${drill.outcome.toUpperCase()} ${drill.depth}`, formatAge(drill.ageSeconds), drill.backupId] : [marker, what, 'none', '-', '-'];
      out.push(`  drills (a restore drill passing within ${formatAge(stack.slo.drillMaxAgeSeconds)}; ${drills.counts.passed} passed, ${drills.counts.failed} failed, ${drills.counts.inconclusive} inconclusive):`);
      out.push(
        ...table(['', 'DRILL', 'RESULT', 'AGE', 'BACKUP'], [drillRow('last', drills.last, mark('drill-failed')), drillRow('last passing', drills.lastPassing, ''), drillRow('last passing restore', drills.lastPassingRestore, mark('no-passing-drill'))]).map((text) => `  ${text}`),
      );
      const dr = stack.dr!;
      const targets = dr.targets ? `targets RTO ${formatAge(dr.targets.rtoSeconds)}, RPO ${formatAge(dr.targets.rpoSeconds)}` : 'no dr targets';
      const drLine = (entry: typeof dr.last) => (entry ? `${entry.mode} ${entry.outcome} ${formatAge(entry.ageSeconds)} ago: RTO ${versus(entry.rto)}, RPO ${versus(entry.rpo)}` : 'none');
      out.push(`  DR (${targets}): last ${drLine(dr.last)}${dr.lastDrill && dr.lastDrill !== dr.last && dr.lastDrill.at !== dr.last?.at ? `; last drill ${drLine(dr.lastDrill)}` : ''}`);
      if (stack.store.source !== 'catalog') out.push(`  (catalog ${stack.store.source}: ${stack.store.why ?? ''}${stack.store.writeProblem ? `; ${stack.store.writeProblem}` : ''})`);
    }
    for (const pitr of stack.pitr) {
      out.push(`  PITR ${pitr.target} (${pitr.database}): ${pitr.rpoSeconds === undefined ? 'achievable RPO unknown' : `achievable RPO ${formatAge(pitr.rpoSeconds)} (${pitr.basis}, to ${pitr.recoverableTo})`}${pitr.problems.length > 0 ? `; ${pitr.problems.join('; ')}` : ''}`);
    }
    if (!stack.schedules.known) out.push(`  schedules: UNKNOWN (${stack.schedules.cause})`);
    else if (stack.schedules.items.length === 0) out.push('  schedules: none');
    else {
      out.push('  schedules:');
      out.push(
        ...table(
          ['', 'SCHEDULE', 'STATE', 'NEXT RUN', 'LAST RESULT'],
          stack.schedules.items.map((item) => [item.paused ? '!' : ' ', item.scheduleId, item.paused ? 'PAUSED' : 'active', item.nextRun ?? '-', item.lastRun ? `${item.lastRun.result} (${item.lastRun.at})` : '-']),
        ).map((text) => `  ${text}`),
      );
    }
    if (!stack.runs.known) out.push(`  runs in progress: UNKNOWN (${stack.runs.cause})`);
    else if (stack.runs.items.length === 0) out.push('  runs in progress: none');
    else {
      out.push('  runs in progress:');
      out.push(...table(['RUNBOOK', 'PHASE', 'SINCE', 'WORKFLOW', 'WEB UI'], stack.runs.items.map((run) => [run.runbook, run.phase ?? '-', run.startedAt, run.workflowId, run.uiUrl])).map((text) => `  ${text}`));
    }
    for (const breach of stack.breaches) out.push(`  ! ${breach.kind}: ${breach.detail}`);
    out.push('');
  }
  return out.join('\n').trimEnd();
}
