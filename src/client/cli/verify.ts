import { Option, type Command } from 'commander';
import { checkVerifyInput, startVerify } from '../api/runbooks.js';
import { startAndFollow, withRunOptions, type RunFlags } from './common.js';
import { verifySummary } from './summary.js';

export function addVerifyCommands(program: Command): void {
  withRunOptions(
    program
      .command('verify')
      .description('the verifyBackup runbook (restore drill)')
      .command('run')
      .description('drill a backup (the latest complete one unless --backup-id); a failed drill fails the run')
      .requiredOption('--stack <name>', 'stack from the stacks file')
      .option('--backup-id <id>', 'the backup to drill')
      .option('--at <time>', 'physical backups: recover to this time (ISO 8601 with its zone); without --backup-id, from the newest backup that ended before it')
      .addOption(new Option('--depth <depth>', 'checksum re-reads; restore restores into scratch targets').choices(['checksum', 'restore']).default('restore')),
  ).action(async (o: RunFlags & { stack: string; backupId?: string; depth: 'checksum' | 'restore'; at?: string }) => {
    const input = checkVerifyInput({ stack: o.stack, backupId: o.backupId, depth: o.depth, at: o.at });
    await startAndFollow('verifyBackup', o, (client, options) => startVerify(client, input, options), verifySummary);
  });
}
