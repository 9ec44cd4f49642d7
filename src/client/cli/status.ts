import type { Command } from 'commander';
import { collect } from './common.js';

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('per stack: last backup per plan, last drill, last DR drill, schedules, runs in progress and SLO breaches (store first; Temporal when reachable)')
    .option('--stack <name>', 'only this stack (repeatable)', collect)
    .option('--json', 'one JSON object instead of tables')
    .option('--no-pitr', 'do not read the PITR status of physical postgres targets')
    .action(async (flags: { stack?: string[]; json?: boolean; pitr: boolean }) => {
      // Loaded here, not at start-up: the store and Temporal clients are most of the command's time, and other commands need none of it.
      const [{ configPathFromEnv, loadStacksFile }, { renderStatus }, { readStatus }] = await Promise.all([import('../../config/load.js'), import('../../core/status.js'), import('../api/status.js')]);
      const file = await loadStacksFile(configPathFromEnv());
      const report = await readStatus(file, { ...(flags.stack ? { stacks: flags.stack } : {}), pitr: flags.pitr });
      // A Temporal connection given up on may still be retrying: once the answer is out, end.
      process.stdout.write(`${flags.json ? JSON.stringify(report, null, 2) : renderStatus(report)}\n`, () => process.exit(0));
    });
}
