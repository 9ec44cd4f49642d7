import type { DrillOutcome } from '../config/manifest.js';
import type { RetentionPolicy } from '../config/stacks/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A lock younger than this means a restore or drill is using the backup; an older one is stale. */
export const LOCK_STALE_AFTER_HOURS = 48;

export interface DrillSummary {
  depth: 'checksum' | 'restore';
  passed: boolean;
  /** Absent in summaries of evidence written before outcomes: then `passed` decides. */
  outcome?: DrillOutcome;
  finishedAt: string;
}

export const drillOutcome = (drill: DrillSummary): DrillOutcome => drill.outcome ?? (drill.passed ? 'passed' : 'failed');

export interface RetentionLock {
  workflowId: string;
  runbook: string;
  since: string;
}

/** What retention needs to know of one backup prefix; built from a BackupListing by the activity. */
export interface RetentionCandidate {
  backupId: string;
  /** When the backup started (UTC, ISO), from the time stamp in its id. */
  time: string;
  /** The newest object's lastModified (ISO). */
  lastModified: string;
  /** Has a manifest that parses. */
  complete: boolean;
  /** The backup plan its manifest records; absent for backups made without one (and incomplete ones). */
  plan?: string;
  /** manifest.json is there but does not parse (e.g. written by a newer ragops). */
  problem?: string;
  /** The newest conclusive (passed or failed) drill of any depth, and of restore depth. */
  lastVerification?: DrillSummary;
  lastRestoreVerification?: DrillSummary;
  /** The newest drill when it was inconclusive: it says nothing of the backup, only the plan's reasons show it. */
  lastInconclusive?: DrillSummary;
  /** What could not be read (an evidence file, a lock): in doubt the backup is kept. */
  unreadable?: string[];
  locks: RetentionLock[];
  objects: number;
  bytes: number;
}

export type BackupState = 'good' | 'failed-verification' | 'incomplete' | 'unreadable';

export interface RetentionDecision {
  backupId: string;
  time: string;
  state: BackupState;
  reasons: string[];
  objects: number;
  bytes: number;
}

export interface RetentionPlan {
  now: string;
  /** Both newest first; every candidate is in exactly one of them. */
  kept: RetentionDecision[];
  deleted: RetentionDecision[];
}

export interface UploadSummary {
  key: string;
  uploadId: string;
  initiated: string;
  /** The later of its start and the last data written to it (newest part, file mtime). */
  lastWrite: string;
}

/** "20261124T051500Z-1a2b3c4d" → "2026-11-24T05:15:00.000Z". */
export function timeOfBackupId(backupId: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(backupId);
  if (!m) throw new Error(`"${backupId}" is not a backup id`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)).toISOString();
}

export function lockIsFresh(lock: RetentionLock, now: Date): boolean {
  const since = Date.parse(lock.since);
  // A lock whose time cannot be read is taken as fresh: in doubt, keep.
  return Number.isNaN(since) || now.getTime() - since < LOCK_STALE_AFTER_HOURS * HOUR;
}

/** Code-unit order: unlike localeCompare, the same on every worker whatever its locale. */
export const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const hours = (ms: number) => (Math.abs(ms) < HOUR ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / HOUR).toFixed(1)} h`);
/** A configured number of hours as written, without float noise (0.0033333333333333335 → 0.00333). */
const configuredHours = (value: number) => `${Number(value.toPrecision(3))} h`;
const days = (ms: number) => `${(ms / DAY).toFixed(1)} d`;

function isoWeek(time: string): string {
  const date = new Date(time.slice(0, 10) + 'T00:00:00Z');
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of its week names the ISO year
  const week = Math.floor((date.getTime() - Date.UTC(date.getUTCFullYear(), 0, 1)) / DAY / 7) + 1;
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

function stateOf(backup: RetentionCandidate): BackupState {
  if (backup.problem || backup.unreadable?.length) return 'unreadable';
  if (!backup.complete) return 'incomplete';
  return backup.lastVerification && drillOutcome(backup.lastVerification) === 'failed' ? 'failed-verification' : 'good';
}

const buckets = [
  { rule: 'keepDaily', limit: (p: RetentionPolicy) => p.keepDaily, key: (time: string) => time.slice(0, 10) },
  { rule: 'keepWeekly', limit: (p: RetentionPolicy) => p.keepWeekly, key: isoWeek },
  { rule: 'keepMonthly', limit: (p: RetentionPolicy) => p.keepMonthly, key: (time: string) => time.slice(0, 7) },
] as const;

/**
 * Which backups to keep and which to delete, with every reason, as of `now`. Pure: the same
 * backups (in any order) and clock give the same plan.
 *
 * - "Good" backups are complete (manifest parses) and their last conclusive verification of
 *   any depth, if any, did not fail. An inconclusive drill (it could not run or finish) says
 *   nothing of the backup. Only good backups count for the keep rules.
 * - keepLast N keeps the newest N good backups. keepDaily/Weekly/Monthly N keep the newest
 *   good backup of each of the newest N UTC days / ISO weeks / months that have one.
 * - maxAgeDays caps the keep rules: a good backup older than that is kept by none of them.
 * - Protections override everything (maxAgeDays, keepLast: 0): the newest `minVerified`
 *   complete backups whose last restore-depth drill passed, and every backup with a lock
 *   younger than 48 h (a running restore or drill). Older locks are stale and ignored.
 * - Incomplete backups (no manifest) are aged from the later of their id's time and their
 *   newest object: younger than leftoverGraceHours they may still be running and are kept,
 *   older they are crash leftovers and deleted.
 * - Fail closed: a manifest that is there but does not parse, or anything else that could
 *   not be read (an evidence file, a lock), keeps the backup: an operator decides.
 * - Any other backup (complete but not selected, or whose last drill failed) is deleted.
 */
export function planRetention(backups: RetentionCandidate[], now: Date, policy: RetentionPolicy): RetentionPlan {
  const sorted = [...backups].sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || compareText(b.backupId, a.backupId));
  const reasons = new Map<string, string[]>(sorted.map((backup) => [backup.backupId, []]));
  const because = (backup: RetentionCandidate, reason: string) => reasons.get(backup.backupId)!.push(reason);
  const keep = new Set<string>();
  const ageOf = (time: string) => now.getTime() - Date.parse(time);

  const good = sorted.filter((backup) => stateOf(backup) === 'good');
  const maxAgeMs = policy.maxAgeDays === undefined ? Infinity : policy.maxAgeDays * DAY;
  const eligible = good.filter((backup) => ageOf(backup.time) <= maxAgeMs);
  for (const backup of good) {
    if (ageOf(backup.time) > maxAgeMs) because(backup, `older than maxAgeDays ${policy.maxAgeDays} (${days(ageOf(backup.time))}): no keep rule applies`);
  }
  eligible.slice(0, policy.keepLast).forEach((backup, index) => {
    keep.add(backup.backupId);
    because(backup, `keepLast ${policy.keepLast}: newest good backup #${index + 1}`);
  });
  for (const { rule, limit, key } of buckets) {
    const seen = new Set<string>();
    for (const backup of eligible) {
      const bucket = key(backup.time);
      if (seen.has(bucket)) continue;
      if (seen.size >= limit(policy)) break;
      seen.add(bucket);
      keep.add(backup.backupId);
      because(backup, `${rule} ${limit(policy)}: newest good backup of ${bucket}`);
    }
  }

  const restoreVerified = sorted.filter(
    (backup) => backup.complete && !backup.problem && backup.lastRestoreVerification && drillOutcome(backup.lastRestoreVerification) === 'passed',
  );
  restoreVerified.slice(0, policy.minVerified).forEach((backup, index) => {
    keep.add(backup.backupId);
    because(backup, `protected: restore-verified ${backup.lastRestoreVerification!.finishedAt}, newest #${index + 1} of minVerified ${policy.minVerified}`);
  });
  for (const backup of sorted) {
    for (const lock of [...backup.locks].sort((a, b) => compareText(a.since, b.since) || compareText(a.workflowId, b.workflowId))) {
      if (lockIsFresh(lock, now)) {
        keep.add(backup.backupId);
        because(backup, `protected: in use by ${lock.runbook} ${lock.workflowId} since ${lock.since}`);
      } else {
        because(backup, `stale lock by ${lock.runbook} ${lock.workflowId} since ${lock.since} (${hours(ageOf(lock.since))} > ${LOCK_STALE_AFTER_HOURS} h): ignored`);
      }
    }
  }

  const graceMs = policy.leftoverGraceHours * HOUR;
  const kept: RetentionDecision[] = [];
  const deleted: RetentionDecision[] = [];
  for (const backup of sorted) {
    const state = stateOf(backup);
    let keepIt = keep.has(backup.backupId);
    if (state === 'unreadable') {
      keepIt = true;
      if (backup.problem) because(backup, `manifest.json unreadable (${backup.problem}): left for an operator`);
      for (const what of backup.unreadable ?? []) because(backup, `could not read ${what}: kept, left for an operator`);
    } else if (state === 'incomplete') {
      const age = now.getTime() - Math.max(Date.parse(backup.time), Date.parse(backup.lastModified));
      if (age < graceMs) {
        keepIt = true;
        because(backup, `incomplete (no manifest), last written ${hours(age)} ago < grace ${configuredHours(policy.leftoverGraceHours)}: may still be running`);
      } else {
        because(backup, `leftover: no manifest, last written ${hours(age)} ago (grace ${configuredHours(policy.leftoverGraceHours)})`);
      }
    } else {
      if (state === 'failed-verification') {
        because(backup, `last ${backup.lastVerification!.depth} drill failed (${backup.lastVerification!.finishedAt}): not counted as good`);
      }
      if (backup.lastInconclusive) {
        because(backup, `last ${backup.lastInconclusive.depth} drill inconclusive (${backup.lastInconclusive.finishedAt}): says nothing of the backup, not counted against it`);
      }
      if (!keepIt) because(backup, 'not selected by keepLast/daily/weekly/monthly');
    }
    const { backupId, time, objects, bytes } = backup;
    (keepIt ? kept : deleted).push({ backupId, time, state, reasons: reasons.get(backupId)!, objects, bytes });
  }
  return { now: now.toISOString(), kept, deleted };
}

/**
 * Retention of one backup plan's backups (`plan` undefined: those made without a plan) by its
 * policy. Complete backups of other plans are kept untouched, whatever their age; incomplete
 * leftovers belong to no plan and are judged with this policy's grace.
 */
export function planRetentionOfPlan(backups: RetentionCandidate[], now: Date, policy: RetentionPolicy, plan: string | undefined): RetentionPlan {
  const ofPlan = (backup: RetentionCandidate) => !backup.complete || backup.plan === plan;
  const result = planRetention(backups.filter(ofPlan), now, policy);
  const others: RetentionDecision[] = backups
    .filter((backup) => !ofPlan(backup))
    .map(({ backupId, time, objects, bytes, plan: other }) => ({
      backupId,
      time,
      state: 'good' as const,
      reasons: [`${other === undefined ? 'made without a plan' : `plan "${other}"`}: not ${plan === undefined ? 'a backup made without a plan' : `plan "${plan}"`}; its own retention keeps it`],
      objects,
      bytes,
    }));
  const newestFirst = (a: RetentionDecision, b: RetentionDecision) => Date.parse(b.time) - Date.parse(a.time) || compareText(b.backupId, a.backupId);
  return { now: result.now, kept: [...result.kept, ...others].sort(newestFirst), deleted: result.deleted };
}

/**
 * Unfinished uploads that received no data for the grace period are dead (a streaming step
 * heartbeats and writes parts all along, and gives up after 12 h) and are aborted.
 */
export function planUploadCleanup(uploads: UploadSummary[], now: Date, policy: RetentionPolicy): { abort: UploadSummary[]; keep: UploadSummary[] } {
  const sorted = [...uploads].sort((a, b) => compareText(a.key, b.key) || compareText(a.uploadId, b.uploadId));
  const isStale = (upload: UploadSummary) =>
    now.getTime() - Math.max(Date.parse(upload.initiated), Date.parse(upload.lastWrite)) >= policy.leftoverGraceHours * HOUR;
  return { abort: sorted.filter(isStale), keep: sorted.filter((upload) => !isStale(upload)) };
}

export function describePolicy(policy: RetentionPolicy): string {
  const rules = [`keepLast ${policy.keepLast}`, `daily ${policy.keepDaily}`, `weekly ${policy.keepWeekly}`, `monthly ${policy.keepMonthly}`];
  if (policy.maxAgeDays !== undefined) rules.push(`maxAge ${policy.maxAgeDays} d`);
  return [...rules, `minVerified ${policy.minVerified}`, `grace ${configuredHours(policy.leftoverGraceHours)}`].join(', ');
}
