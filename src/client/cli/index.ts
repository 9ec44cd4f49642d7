import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { configPathFromEnv, loadStacksFile, stacksFileJsonSchema } from '../../config/load.js';
import { taskQueueFromEnv } from '../../config/temporal.js';
import { addBackupCommands } from './backup.js';
import { addCanaryCommands } from './canary.js';
import { addDeployCommands } from './deploy.js';
import { addReingestCommands } from './reingest.js';
import { addJanitorCommand } from './janitor.js';
import { addPitrCommands } from './pitr.js';
import { addDrCommands } from './dr.js';
import { addPruneCommands } from './prune.js';
import { addRestoreCommands } from './restore.js';
import { addVerifyCommands } from './verify.js';
import { addScheduleCommands } from './schedules.js';
import { EXIT_CODES_HELP, debugText, errorLine, exitCodeOf } from './errors.js';

// exitOverride before any subcommand is added, so they inherit it: usage errors exit 2 below, not commander's 1.
const program = new Command('ragops').description('Durable runbooks for self-hosted RAG stacks, on Temporal').exitOverride().addHelpText('after', EXIT_CODES_HELP);
program.version((createRequire(import.meta.url)('../../../package.json') as { version: string }).version);

program
  .command('worker')
  .description('run a worker on the ragops task queue (TEMPORAL_* env or envconfig profile for the server)')
  .option('--task-queue <name>', 'task queue', taskQueueFromEnv())
  .option('--metrics <host:port>', "serve Prometheus metrics here: the SDK's and ragops' backup, drill, DR and SLO gauges (RAGOPS_METRICS_ADDRESS)", process.env.RAGOPS_METRICS_ADDRESS)
  .action(async (options: { taskQueue: string; metrics?: string }) => {
    const { runWorker } = await import('../../worker.js');
    await runWorker({ taskQueue: options.taskQueue, metricsAddress: options.metrics });
  });

program
  .command('dev')
  .description('the embedded default: a Temporal dev server with its Web UI, a worker and a local stack')
  .option('--port <port>', 'Temporal frontend port', '7233')
  .option('--ui-port <port>', 'Web UI port', '8233')
  .option('--no-initial-backup', 'do not run a first backup of the default stack')
  .action(async (options: { port: string; uiPort: string; initialBackup: boolean }) => {
    const { runDev } = await import('../dev/index.js');
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

addBackupCommands(program);
addVerifyCommands(program);
addRestoreCommands(program);
addPruneCommands(program);
addDeployCommands(program);
addCanaryCommands(program);
addReingestCommands(program);
addScheduleCommands(program);
addJanitorCommand(program);
addPitrCommands(program);
addDrCommands(program);
(await import('./status.js')).addStatusCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has printed its own message (usage error) or the help already.
  if (!(error instanceof CommanderError)) {
    console.error(errorLine(error));
    if (process.env.RAGOPS_DEBUG === '1') console.error(debugText(error));
  }
  process.exit(exitCodeOf(error));
}
