import { ScheduleOverlapPolicy, type Client, type ScheduleHandle } from '@temporalio/client';
import { cronProblem } from '../config/cron.js';
import type { BackupInput } from '../config/inputs.js';
import { DEFAULT_TASK_QUEUE } from '../config/temporal.js';
import { backupSummary, checkBackupInput, InvalidInput, runbookSearchAttributes } from './runbooks.js';

export interface BackupScheduleOptions {
  input: BackupInput;
  cron: string;
  scheduleId?: string;
  taskQueue?: string;
  /** How late a missed run may still start after an outage (default 1h). */
  catchupWindow?: string;
  pauseOnFailure?: boolean;
  timezone?: string;
}

export function backupScheduleId(stack: string): string {
  return `ragops-backup-${stack}`;
}

/** Everything about a schedule that can be wrong, checked before the server is contacted. */
export function checkBackupSchedule(options: BackupScheduleOptions): BackupInput {
  const problem = cronProblem(options.cron);
  if (problem) throw new InvalidInput(problem);
  return checkBackupInput(options.input);
}

/** A Temporal Schedule (not a cron workflow) that runs `backup`; a run still going skips the next. */
export async function createBackupSchedule(client: Client, options: BackupScheduleOptions): Promise<ScheduleHandle> {
  const input = checkBackupSchedule(options);
  const scheduleId = options.scheduleId ?? backupScheduleId(input.stack);
  return client.schedule.create({
    scheduleId,
    spec: { cronExpressions: [options.cron], timezone: options.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: 'backup',
      workflowId: `backup-${input.stack}-scheduled`,
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      args: [input],
      typedSearchAttributes: runbookSearchAttributes('backup', input.stack),
      staticSummary: `scheduled ${backupSummary(input)}`,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: options.catchupWindow ?? '1h',
      pauseOnFailure: options.pauseOnFailure ?? false,
    },
    state: { note: `created by ragops schedule backup (${options.cron})` },
  });
}

export interface ScheduleListing {
  scheduleId: string;
  workflowType?: string;
  paused: boolean;
  note?: string;
  cron: string[];
  nextActionTimes: string[];
  recentActions: string[];
}

export async function listRagopsSchedules(client: Client): Promise<ScheduleListing[]> {
  const listings: ScheduleListing[] = [];
  for await (const schedule of client.schedule.list()) {
    if (!schedule.scheduleId.startsWith('ragops-')) continue;
    listings.push({
      scheduleId: schedule.scheduleId,
      workflowType: schedule.action?.type === 'startWorkflow' ? schedule.action.workflowType : undefined,
      paused: schedule.state.paused,
      note: schedule.state.note,
      cron: (schedule.spec?.calendars ?? []).map((calendar) => JSON.stringify(calendar)),
      nextActionTimes: schedule.info.nextActionTimes.map((time) => time.toISOString()),
      recentActions: schedule.info.recentActions.map((action) => action.takenAt.toISOString()),
    });
  }
  return listings.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}
