import { ScheduleAlreadyRunning } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { checkSchedule, createRunbookSchedule, listRagopsSchedules, scheduleIdFor, type ScheduleOptions } from '../api/schedules.js';
import { InvalidInput } from '../api/runbooks.js';
import { taskQueueOption, withClient } from './common.js';

interface CommonScheduleFlags {
  stack: string;
  cron: string;
  id?: string;
  timezone?: string;
  catchupWindow: string;
  pauseOnFailure?: boolean;
  taskQueue: string;
}

function scheduleCommand(schedule: Command, name: string, description: string): Command {
  return schedule
    .command(name)
    .description(description)
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .requiredOption('--cron <expr>', 'five-field cron, e.g. "0 */6 * * *" (UTC unless --timezone)')
    .option('--id <scheduleId>', `schedule id (default ragops-${name}-<stack>)`)
    .option('--timezone <tz>', 'IANA time zone of the cron expression')
    .option('--catchup-window <duration>', 'how late a missed run may still start', '1h')
    .option('--pause-on-failure', 'pause the schedule when a run fails')
    .addOption(taskQueueOption());
}

async function create<I extends { stack: string }>(runbook: 'backup' | 'verifyBackup' | 'pruneBackups' | 'disasterRecovery', flags: CommonScheduleFlags, input: I): Promise<void> {
  const options: ScheduleOptions<I> = {
    input,
    cron: flags.cron,
    scheduleId: flags.id ?? scheduleIdFor(runbook, flags.stack, (input as { plan?: string }).plan),
    timezone: flags.timezone,
    catchupWindow: flags.catchupWindow,
    pauseOnFailure: flags.pauseOnFailure ?? false,
    taskQueue: flags.taskQueue,
  };
  checkSchedule(runbook, options);
  await withClient(async ({ client }) => {
    const handle = await createRunbookSchedule(client, runbook, options).catch((error: unknown) => {
      // The SDK's "Schedule already exists and is running" names neither the schedule nor the way out.
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      throw new InvalidInput(
        `schedule ${options.scheduleId} already exists; nothing was changed: delete it first (ragops schedule delete ${options.scheduleId}) to replace it, or pass --id for another schedule of this runbook`,
        { cause: error },
      );
    });
    console.log(`created schedule ${handle.scheduleId} (${flags.cron})`);
  });
}

export function addScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('Temporal Schedules of ragops runbooks (overlapping runs are skipped)');
  scheduleCommand(schedule, 'backup', 'create a Schedule that runs backup')
    .addOption(new Option('--verify <depth>', 'verify after writing').choices(['none', 'checksum']).default('none'))
    .option('--plan <name>', "one of the stack's backup plans (its components and retention); default every component")
    .action((flags: CommonScheduleFlags & { verify: 'none' | 'checksum'; plan?: string }) =>
      create('backup', flags, { stack: flags.stack, verify: flags.verify, ...(flags.plan ? { plan: flags.plan } : {}) }),
    );
  scheduleCommand(schedule, 'verify', 'create a Schedule that drills the latest backup')
    .addOption(new Option('--depth <depth>', 'drill depth').choices(['checksum', 'restore']).default('restore'))
    .action((flags: CommonScheduleFlags & { depth: 'checksum' | 'restore' }) => create('verifyBackup', flags, { stack: flags.stack, depth: flags.depth }));
  scheduleCommand(schedule, 'prune', "create a Schedule that applies the stack's retention policy")
    .option('--plan <name>', "prune this backup plan's backups by its retention (default: the backups made without a plan)")
    .action((flags: CommonScheduleFlags & { plan?: string }) => create('pruneBackups', flags, { stack: flags.stack, dryRun: false, ...(flags.plan ? { plan: flags.plan } : {}) })),
  scheduleCommand(schedule, 'drill', 'create a Schedule that runs a DR drill into another stack (approve: auto), e.g. monthly: --cron "0 3 1 * *"')
    .option('--into <stack>', "the stack restored into (default the stack's dr.drillStack)")
    .action((flags: CommonScheduleFlags & { into?: string }) =>
      create('disasterRecovery', flags, { stack: flags.stack, mode: 'drill', approve: 'auto', ...(flags.into ? { into: flags.into } : {}) }),
    );
  schedule
    .command('list')
    .description('list ragops schedules')
    .action(async () => {
      await withClient(async ({ client }) => console.log(JSON.stringify(await listRagopsSchedules(client), null, 2)));
    });
  for (const verb of ['pause', 'unpause', 'trigger', 'delete'] as const) {
    schedule
      .command(`${verb} <scheduleId>`)
      .description(`${verb} a schedule`)
      .action(async (scheduleId: string) => {
        await withClient(async ({ client }) => {
          const handle = client.schedule.getHandle(scheduleId);
          if (verb === 'trigger') await handle.trigger();
          else if (verb === 'delete') await handle.delete();
          else await handle[verb](`${verb}d with ragops`);
          console.log(`${verb}: ${scheduleId} done`);
        });
      });
  }
}
