import type { Command } from 'commander';
import { configPathFromEnv, loadStacksFile } from '../../config/load.js';
import { renderStatus } from '../../core/status.js';
import { readStatus } from '../api/status.js';
import { collect } from './common.js';

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('per stack: last backup per plan, last drill, last DR drill, schedules, runs in progress and SLO breaches (store first; Temporal when reachable)')
    .option('--stack <name>', 'only this stack (repeatable)', collect)
    .option('--json', 'one JSON object instead of tables')
    .option('--no-pitr', 'do not read the PITR status of physical postgres targets')
    .action(async (flags: { stack?: string[]; json?: boolean; pitr: boolean }) => {
      const file = await loadStacksFile(configPathFromEnv());
      const report = await readStatus(file, { ...(flags.stack ? { stacks: flags.stack } : {}), pitr: flags.pitr });
      console.log(flags.json ? JSON.stringify(report, null, 2) : renderStatus(report));
      // A Temporal connection given up on may still be retrying: the answer is printed, so end now.
      process.exit(0);
    });
}
