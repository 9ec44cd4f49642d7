import type { Command } from 'commander';
import { checkPruneInput, startPrune } from '../api/runbooks.js';
import { startAndFollow, withRunOptions, type RunFlags } from './common.js';
import { formatPruneReport } from './pruneReport.js';

export function addPruneCommands(program: Command): void {
  withRunOptions(
    program
      .command('prune')
      .description('the pruneBackups runbook (retention)')
      .command('run')
      .description("apply the stack's retention policy; prints the plan as a table with --wait or --dry-run")
      .requiredOption('--stack <name>', 'stack from the stacks file (needs a retention policy)')
      .option('--plan <name>', "prune this backup plan's backups by its retention (default: the backups made without a plan)")
      .option('--dry-run', 'plan only: delete and abort nothing'),
  ).action(async (o: RunFlags & { stack: string; plan?: string; dryRun?: boolean }) => {
    const input = checkPruneInput({ stack: o.stack, ...(o.plan ? { plan: o.plan } : {}), dryRun: o.dryRun ?? false });
    // A dry run is only useful with its plan, so it always waits.
    await startAndFollow('pruneBackups', { ...o, wait: o.wait || o.dryRun }, (client, options) => startPrune(client, input, options), formatPruneReport);
  });
}
