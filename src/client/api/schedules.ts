import { ScheduleOverlapPolicy, type Client, type ScheduleHandle } from '@temporalio/client';
import { cronProblem } from '../../config/cron.js';
import type { BackupInput, DisasterRecoveryInput, PruneInput, VerifyInput } from '../../config/inputs.js';
import { DEFAULT_TASK_QUEUE } from '../../config/temporal.js';
import {
  backupSummary,
  checkBackupInput,
  checkDisasterRecoveryInput,
  checkPruneInput,
  checkVerifyInput,
  InvalidInput,
  runbookSearchAttributes,
  runbookWorkflowIds,
  verifySummary,
} from './runbooks.js';

type ScheduledRunbook = 'backup' | 'verifyBackup' | 'pruneBackups' | 'disasterRecovery';

export interface ScheduleOptions<I extends { stack: string }> {
  input: I;
  cron: string;
  scheduleId?: string;
  taskQueue?: string;
  /** How late a missed run may still start after an outage (default 1h). */
  catchupWindow?: string;
  pauseOnFailure?: boolean;
  timezone?: string;
}
export type BackupScheduleOptions = ScheduleOptions<BackupInput>;

const RUNBOOKS: Record<ScheduledRunbook, { idPart: string; check(input: unknown): { stack: string }; summary(input: never): string }> = {
  backup: { idPart: 'backup', check: checkBackupInput, summary: (input: BackupInput) => backupSummary(input) },
  verifyBackup: { idPart: 'verify', check: checkVerifyInput, summary: (input: VerifyInput) => verifySummary(input) },
  pruneBackups: { idPart: 'prune', check: checkPruneInput, summary: (input: PruneInput) => `prune of stack ${input.stack}${input.plan ? ` (plan ${input.plan})` : ''}` },
  disasterRecovery: { idPart: 'dr-drill', check: checkDisasterRecoveryInput, summary: (input: DisasterRecoveryInput) => `scheduled DR drill of stack ${input.stack}${input.into ? ` into ${input.into}` : ''}` },
};

/** ragops-backup-prod, or ragops-backup-prod-redis-hourly for a plan's schedule. */
export function scheduleIdFor(runbook: ScheduledRunbook, stack: string, plan?: string): string {
  return `ragops-${RUNBOOKS[runbook].idPart}-${stack}${plan ? `-${plan}` : ''}`;
}

export function backupScheduleId(stack: string): string {
  return scheduleIdFor('backup', stack);
}

/** Everything about a schedule that can be wrong, checked before the server is contacted. */
export function checkSchedule<I extends { stack: string }>(runbook: ScheduledRunbook, options: ScheduleOptions<I>): I {
  const problem = cronProblem(options.cron);
  if (problem) throw new InvalidInput(problem);
  return RUNBOOKS[runbook].check(options.input) as I;
}

export function checkBackupSchedule(options: BackupScheduleOptions): BackupInput {
  return checkSchedule('backup', options);
}

/** A Temporal Schedule (not a cron workflow) that runs a runbook; a run still going skips the next. */
export async function createRunbookSchedule<I extends { stack: string }>(client: Client, runbook: ScheduledRunbook, options: ScheduleOptions<I>): Promise<ScheduleHandle> {
  const input = checkSchedule(runbook, options);
  const { idPart, summary } = RUNBOOKS[runbook];
  return client.schedule.create({
    scheduleId: options.scheduleId ?? scheduleIdFor(runbook, input.stack, (input as { plan?: string }).plan),
    spec: { cronExpressions: [options.cron], timezone: options.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: runbook,
      // The server appends the action time; a run still going makes the next one skip (overlap SKIP), and its leases refuse other runs.
      workflowId: `${(runbookWorkflowIds[runbook] as (input: { stack: string }) => string)(input)}-scheduled`,
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      args: [input],
      typedSearchAttributes: runbookSearchAttributes(runbook, input.stack),
      staticSummary: `scheduled ${summary(input as never)}`,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: options.catchupWindow ?? '1h',
      pauseOnFailure: options.pauseOnFailure ?? false,
    },
    state: { note: `created by ragops schedule ${idPart} (${options.cron})` },
    // The server keeps only the calendars it parsed the cron into; the cron as written is for `schedule list`.
    memo: { ragopsCron: options.cron, ...(options.timezone ? { ragopsTimezone: options.timezone } : {}) },
  });
}

export function createBackupSchedule(client: Client, options: BackupScheduleOptions): Promise<ScheduleHandle> {
  return createRunbookSchedule(client, 'backup', options);
}

export interface ScheduleListing {
  scheduleId: string;
  workflowType?: string;
  paused: boolean;
  note?: string;
  /** The cron as `ragops schedule` created it, else the server's calendars as JSON (an update elsewhere changes only `calendars`). */
  cron: string[];
  timezone?: string;
  /** What the server runs by: its calendars, as JSON. */
  calendars: string[];
  nextActionTimes: string[];
  recentActions: string[];
}

const calendarsOf = (schedule: { spec?: { calendars?: unknown[] } }) => (schedule.spec?.calendars ?? []).map((calendar) => JSON.stringify(calendar));

export async function listRagopsSchedules(client: Client): Promise<ScheduleListing[]> {
  const listings: ScheduleListing[] = [];
  for await (const schedule of client.schedule.list()) {
    if (!schedule.scheduleId.startsWith('ragops-')) continue;
    listings.push({
      scheduleId: schedule.scheduleId,
      workflowType: schedule.action?.type === 'startWorkflow' ? schedule.action.workflowType : undefined,
      paused: schedule.state.paused,
      note: schedule.state.note,
      cron: typeof schedule.memo?.ragopsCron === 'string' ? [schedule.memo.ragopsCron] : calendarsOf(schedule),
      calendars: calendarsOf(schedule),
      ...(typeof schedule.memo?.ragopsTimezone === 'string' ? { timezone: schedule.memo.ragopsTimezone } : {}),
      nextActionTimes: schedule.info.nextActionTimes.map((time) => time.toISOString()),
      recentActions: schedule.info.recentActions.map((action) => action.takenAt.toISOString()),
    });
  }
  return listings.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}
