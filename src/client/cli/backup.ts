import { Option, type Command } from 'commander';
import { listBackupsIn } from '../../activities/store/catalog.js';
import { withStore } from '../../activities/store/open.js';
import { loadStacksFile, stackOrThrow } from '../../config/load.js';
import { checkBackupInput, startBackup } from '../api/runbooks.js';
import { collect, startAndFollow, withRunOptions, type RunFlags } from './common.js';
import { formatBackupListing } from './listing.js';
import { backupSummary } from './summary.js';

export function addBackupCommands(program: Command): void {
  const backup = program.command('backup').description('the backup runbook');
  withRunOptions(
    backup
      .command('run')
      .description('start a backup; prints the workflow id and its Web UI link')
      .requiredOption('--stack <name>', 'stack from the stacks file')
      .option('--plan <name>', "one of the stack's backup plans: its components, pruned by its retention")
      .option('--component <kind>', 'postgres, pgbackrest, qdrant, redis, mirror or exec (repeatable; default all configured)', collect)
      .addOption(new Option('--physical-type <type>', "pgBackRest's backup type (default the plan's, else incr)").choices(['full', 'diff', 'incr']))
      .option('--collection <name>', 'only this Qdrant collection (repeatable)', collect)
      .addOption(new Option('--verify <depth>', 're-read every artifact after writing').choices(['none', 'checksum']).default('none'))
      .option('--no-prune', "do not apply the stack's retention policy afterwards"),
  ).action(async (o: RunFlags & { stack: string; plan?: string; component?: string[]; collection?: string[]; verify: string; prune: boolean; physicalType?: string }) => {
    const input = checkBackupInput({ stack: o.stack, plan: o.plan, components: o.component, collections: o.collection, verify: o.verify, prune: o.prune, physicalType: o.physicalType });
    await startAndFollow('backup', o, (client, options) => startBackup(client, input, options), backupSummary);
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
}
