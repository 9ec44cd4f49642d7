import { Command, Option } from 'commander';
import { ConfigError, configPathFromEnv, loadStacksFile, stackOrThrow, stacksFileJsonSchema } from '../config/load.js';
import { taskQueueFromEnv } from '../config/temporal.js';
import { listBackupsIn } from '../activities/store.js';
import { withStore } from '../activities/store/open.js';
import { connectClient, webUiUrl, type Connected } from './connect.js';
import { checkBackupInput, InvalidInput, startBackup } from './runbooks.js';
import { backupScheduleId, checkBackupSchedule, createBackupSchedule, listRagopsSchedules } from './schedules.js';
import { formatBackupListing } from './listing.js';
import { formatPruneReport } from './pruneReport.js';
import { checkPruneInput, startPrune } from './runbooks.js';

const program = new Command('ragops').description('Durable runbooks for self-hosted RAG stacks, on Temporal');
const collect = (value: string, previous: string[] = []) => [...previous, value];

async function withClient<T>(use: (connected: Connected) => Promise<T>): Promise<T> {
  const connected = await connectClient();
  try {
    return await use(connected);
  } finally {
    await connected.close();
  }
}

program
  .command('worker')
  .description('run a worker on the ragops task queue (TEMPORAL_* env or envconfig profile for the server)')
  .option('--task-queue <name>', 'task queue', taskQueueFromEnv())
  .option('--metrics <host:port>', 'serve the SDK metrics for Prometheus here', process.env.RAGOPS_METRICS_ADDRESS)
  .action(async (options: { taskQueue: string; metrics?: string }) => {
    const { runWorker } = await import('../worker.js');
    await runWorker({ taskQueue: options.taskQueue, metricsAddress: options.metrics });
  });

program
  .command('dev')
  .description('the embedded default: a Temporal dev server with its Web UI, a worker and a local stack')
  .option('--port <port>', 'Temporal frontend port', '7233')
  .option('--ui-port <port>', 'Web UI port', '8233')
  .option('--no-initial-backup', 'do not run a first backup of the default stack')
  .action(async (options: { port: string; uiPort: string; initialBackup: boolean }) => {
    const { runDev } = await import('./dev.js');
    await runDev({ port: Number(options.port), uiPort: Number(options.uiPort), initialBackup: options.initialBackup });
  });

const config = program.command('config').description('the stacks file');
config
  .command('check [file]')
  .description('validate the stacks file (default RAGOPS_CONFIG or ./ragops.yaml); every problem with its path')
  .action(async (file?: string) => {
    const path = file ?? configPathFromEnv();
    const stacks = await loadStacksFile(path);
    console.log(`${path}: ok — stacks ${Object.keys(stacks.stacks).join(', ')}`);
  });
config
  .command('schema')
  .description('print the JSON Schema of the stacks file')
  .action(() => console.log(JSON.stringify(stacksFileJsonSchema(), null, 2)));

const backupCommand = program.command('backup').description('the backup runbook');
backupCommand
  .command('run')
  .description('start a backup; prints the workflow id and its Web UI link')
  .requiredOption('--stack <name>', 'stack from the stacks file')
  .option('--component <kind>', 'postgres or qdrant (repeatable; default all configured)', collect)
  .option('--collection <name>', 'only this Qdrant collection (repeatable)', collect)
  .addOption(new Option('--verify <depth>', 're-read every artifact after writing').choices(['none', 'checksum']).default('none'))
  .option('--task-queue <name>', 'task queue', taskQueueFromEnv())
  .option('--wait', 'wait for the result and print the report')
  .action(async (options: { stack: string; component?: string[]; collection?: string[]; verify: string; taskQueue: string; wait?: boolean }) => {
    const input = checkBackupInput({ stack: options.stack, components: options.component, collections: options.collection, verify: options.verify });
    await withClient(async ({ client, namespace }) => {
      const handle = await startBackup(client, input, { taskQueue: options.taskQueue });
      console.log(`started backup ${handle.workflowId}`);
      console.log(`  ${webUiUrl(namespace, handle.workflowId, handle.firstExecutionRunId)}`);
      if (options.wait) console.log(JSON.stringify(await handle.result(), null, 2));
    });
  });
backupCommand
  .command('list')
  .description("list the stack's backups found in its store, newest first")
  .requiredOption('--stack <name>', 'stack from the stacks file')
  .option('--json', 'print JSON')
  .action(async (options: { stack: string; json?: boolean }) => {
    const stack = stackOrThrow(await loadStacksFile(), options.stack);
    const listings = await withStore(stack.store, (store) => listBackupsIn(store, options.stack));
    console.log(options.json ? JSON.stringify(listings, null, 2) : formatBackupListing(listings));
  });

program
  .command('prune')
  .description('the pruneBackups runbook (retention)')
  .command('run')
  .description("apply the stack's retention policy; prints the plan as a table with --wait or --dry-run")
  .requiredOption('--stack <name>', 'stack from the stacks file (needs a retention policy)')
  .option('--dry-run', 'plan only: delete and abort nothing')
  .option('--wait', 'wait for the result and print it')
  .option('--json', 'print the report as JSON instead of a table')
  .option('--task-queue <name>', 'task queue', taskQueueFromEnv())
  .action(async (options: { stack: string; dryRun?: boolean; wait?: boolean; json?: boolean; taskQueue: string }) => {
    const input = checkPruneInput({ stack: options.stack, dryRun: options.dryRun ?? false });
    await withClient(async ({ client, namespace }) => {
      const handle = await startPrune(client, input, { taskQueue: options.taskQueue });
      console.log(`started pruneBackups ${handle.workflowId}`);
      console.log(`  ${webUiUrl(namespace, handle.workflowId, handle.firstExecutionRunId)}`);
      if (!options.wait && !options.dryRun) return;
      const report = await handle.result();
      console.log(options.json ? JSON.stringify(report, null, 2) : formatPruneReport(report));
    });
  });

const schedule = program.command('schedule').description('Temporal Schedules of ragops runbooks');
schedule
  .command('backup')
  .description('create a Schedule that runs backup (overlapping runs are skipped)')
  .requiredOption('--stack <name>', 'stack from the stacks file')
  .requiredOption('--cron <expr>', 'five-field cron, e.g. "0 */6 * * *" (UTC unless --timezone)')
  .option('--id <scheduleId>', 'schedule id (default ragops-backup-<stack>)')
  .option('--timezone <tz>', 'IANA time zone of the cron expression')
  .option('--catchup-window <duration>', 'how late a missed run may still start', '1h')
  .option('--pause-on-failure', 'pause the schedule when a run fails')
  .addOption(new Option('--verify <depth>', 'verify after writing').choices(['none', 'checksum']).default('none'))
  .option('--task-queue <name>', 'task queue', taskQueueFromEnv())
  .action(async (options: { stack: string; cron: string; id?: string; timezone?: string; catchupWindow: string; pauseOnFailure?: boolean; verify: 'none' | 'checksum'; taskQueue: string }) => {
    const scheduleOptions = {
      input: { stack: options.stack, verify: options.verify },
      cron: options.cron,
      scheduleId: options.id ?? backupScheduleId(options.stack),
      timezone: options.timezone,
      catchupWindow: options.catchupWindow,
      pauseOnFailure: options.pauseOnFailure ?? false,
      taskQueue: options.taskQueue,
    };
    checkBackupSchedule(scheduleOptions);
    await withClient(async ({ client }) => {
      const handle = await createBackupSchedule(client, scheduleOptions);
      console.log(`created schedule ${handle.scheduleId} (${options.cron})`);
    });
  });
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

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const known = error instanceof ConfigError || error instanceof InvalidInput;
  console.error(`ragops: ${(error as Error).message}`);
  process.exit(known ? 2 : 1);
}
