import { Option, type Command } from 'commander';
import { listBackupsIn } from '../../activities/store.js';
import { withStore } from '../../activities/store/open.js';
import { loadStacksFile, stackOrThrow } from '../../config/load.js';
import { taskQueueFromEnv } from '../../config/temporal.js';
import { formatBackupListing } from '../listing.js';
import { formatPruneReport } from '../pruneReport.js';
import {
  checkBackupInput,
  checkDeployInput,
  checkPruneInput,
  checkRestoreInput,
  checkVerifyInput,
  startBackup,
  startDeploy,
  startPrune,
  startRestore,
  startVerify,
} from '../runbooks.js';
import { collect, pairs, printStarted, withClient } from './common.js';

const taskQueueOption = () => new Option('--task-queue <name>', 'task queue').default(taskQueueFromEnv());

export function addRunbookCommands(program: Command): void {
  const backup = program.command('backup').description('the backup runbook');
  backup
    .command('run')
    .description('start a backup; prints the workflow id and its Web UI link')
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .option('--component <kind>', 'postgres or qdrant (repeatable; default all configured)', collect)
    .option('--collection <name>', 'only this Qdrant collection (repeatable)', collect)
    .addOption(new Option('--verify <depth>', 're-read every artifact after writing').choices(['none', 'checksum']).default('none'))
    .option('--no-prune', "do not apply the stack's retention policy afterwards")
    .addOption(taskQueueOption())
    .option('--wait', 'wait for the result and print the report')
    .action(async (o: { stack: string; component?: string[]; collection?: string[]; verify: string; prune: boolean; taskQueue: string; wait?: boolean }) => {
      const input = checkBackupInput({ stack: o.stack, components: o.component, collections: o.collection, verify: o.verify, prune: o.prune });
      await withClient(async ({ client, namespace }) => {
        const handle = await startBackup(client, input, { taskQueue: o.taskQueue });
        printStarted('backup', namespace, handle);
        if (o.wait) console.log(JSON.stringify(await handle.result(), null, 2));
      });
    });
  backup
    .command('list')
    .description("list the stack's backups found in its store, newest first, with their last drill")
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .option('--json', 'print JSON')
    .action(async (o: { stack: string; json?: boolean }) => {
      const stack = stackOrThrow(await loadStacksFile(), o.stack);
      const listings = await withStore(stack.store, (store) => listBackupsIn(store, o.stack));
      console.log(o.json ? JSON.stringify(listings, null, 2) : formatBackupListing(listings));
    });

  program
    .command('verify')
    .description('the verifyBackup runbook (restore drill)')
    .command('run')
    .description('drill a backup (the latest complete one unless --backup-id); a failed drill fails the run')
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .option('--backup-id <id>', 'the backup to drill')
    .addOption(new Option('--depth <depth>', 'checksum re-reads; restore restores into scratch targets').choices(['checksum', 'restore']).default('restore'))
    .addOption(taskQueueOption())
    .option('--wait', 'wait for the result and print the report')
    .action(async (o: { stack: string; backupId?: string; depth: 'checksum' | 'restore'; taskQueue: string; wait?: boolean }) => {
      const input = checkVerifyInput({ stack: o.stack, backupId: o.backupId, depth: o.depth });
      await withClient(async ({ client, namespace }) => {
        const handle = await startVerify(client, input, { taskQueue: o.taskQueue });
        printStarted('verifyBackup', namespace, handle);
        if (o.wait) console.log(JSON.stringify(await handle.result(), null, 2));
      });
    });

  program
    .command('restore')
    .description('the restore runbook')
    .command('run')
    .description('restore components of a backup; existing targets are replaced only when named with --confirm')
    .requiredOption('--stack <name>', 'stack the backup belongs to')
    .option('--backup-id <id>', 'the backup to restore (default: the latest complete one)')
    .option('--target-stack <name>', "restore into this stack's servers")
    .option('--component <kind>', 'postgres or qdrant (repeatable; default all)', collect)
    .option('--database <label=name>', 'restore the dump labelled <label> as database <name> (repeatable)', collect)
    .option('--collection <source=name>', 'restore collection <source> as <name> (repeatable)', collect)
    .option('--confirm <name>', 'replace this existing database or collection (repeatable)', collect)
    .option('--aliases', "point the backup's aliases at the restored collections")
    .addOption(new Option('--recovery <method>', 'how Qdrant gets the snapshot').choices(['upload', 'location']).default('upload'))
    .addOption(taskQueueOption())
    .option('--wait', 'wait for the result and print the report')
    .action(async (o: { stack: string; backupId?: string; targetStack?: string; component?: string[]; database?: string[]; collection?: string[]; confirm?: string[]; aliases?: boolean; recovery: string; taskQueue: string; wait?: boolean }) => {
      const confirmed = (name: string) => (o.confirm?.includes(name) ? name : undefined);
      const input = checkRestoreInput({
        stack: o.stack,
        backupId: o.backupId,
        targetStack: o.targetStack,
        components: o.component,
        postgres: Object.fromEntries(pairs(o.database, '--database').map(([label, database]) => [label, { database, confirm: confirmed(database) }])),
        qdrant: Object.fromEntries(pairs(o.collection, '--collection').map(([source, collection]) => [source, { collection, confirm: confirmed(collection) }])),
        aliases: o.aliases ?? false,
        recovery: o.recovery,
      });
      await withClient(async ({ client, namespace }) => {
        const handle = await startRestore(client, input, { taskQueue: o.taskQueue });
        printStarted('restore', namespace, handle);
        if (o.wait) console.log(JSON.stringify(await handle.result(), null, 2));
      });
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
    .addOption(taskQueueOption())
    .action(async (o: { stack: string; dryRun?: boolean; wait?: boolean; json?: boolean; taskQueue: string }) => {
      const input = checkPruneInput({ stack: o.stack, dryRun: o.dryRun ?? false });
      await withClient(async ({ client, namespace }) => {
        const handle = await startPrune(client, input, { taskQueue: o.taskQueue });
        printStarted('pruneBackups', namespace, handle);
        if (!o.wait && !o.dryRun) return;
        const report = await handle.result();
        console.log(o.json ? JSON.stringify(report, null, 2) : formatPruneReport(report));
      });
    });

  const deploy = program.command('deploy').description('the deploy runbook');
  deploy
    .command('run')
    .description('deploy an image to a service; a failed rollout or check rolls back')
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .requiredOption('--service <name>', 'service from the stack\'s deploy section')
    .requiredOption('--image <ref>', 'image reference, e.g. registry.example.com/api:1.4.2')
    .addOption(new Option('--strategy <strategy>', 'rolling, or blueGreen on Kubernetes').choices(['rolling', 'blueGreen']).default('rolling'))
    .option('--backup', 'run a backup (child workflow) before anything changes')
    .option('--rollback-window <seconds>', 'blue-green: how long the old colour stays ready', (value) => Number(value), 600)
    .addOption(taskQueueOption())
    .option('--wait', 'wait for the result and print the report')
    .action(async (o: { stack: string; service: string; image: string; strategy: string; backup?: boolean; rollbackWindow: number; taskQueue: string; wait?: boolean }) => {
      const input = checkDeployInput({ stack: o.stack, service: o.service, image: o.image, strategy: o.strategy, backup: o.backup ?? false, rollbackWindowSeconds: o.rollbackWindow });
      await withClient(async ({ client, namespace }) => {
        const handle = await startDeploy(client, input, { taskQueue: o.taskQueue });
        printStarted('deploy', namespace, handle);
        if (o.wait) console.log(JSON.stringify(await handle.result(), null, 2));
      });
    });
  deploy
    .command('rollback <workflowId>')
    .description('blue-green: switch back to the old colour while its window is open')
    .action(async (workflowId: string) => {
      await withClient(async ({ client }) => {
        await client.workflow.getHandle(workflowId).signal('rollback');
        console.log(`rollback requested for ${workflowId}`);
      });
    });
  deploy
    .command('status <workflowId>')
    .description("print a deploy's report so far")
    .action(async (workflowId: string) => {
      await withClient(async ({ client }) => console.log(JSON.stringify(await client.workflow.getHandle(workflowId).query('status'), null, 2)));
    });
}
