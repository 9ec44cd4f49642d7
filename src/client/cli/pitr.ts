import type { Command } from 'commander';
import { hasPhysical } from '../../activities/pgbackrest/config.js';
import { defaultArchiveConfigFile, formatPitrSetup, pitrSetupSteps } from '../../activities/pgbackrest/setup.js';
import { configPathFromEnv, loadStacksFile } from '../../config/load.js';
import { safeAbsolutePath } from '../../config/stacks/index.js';
import { InvalidInput } from '../api/runbooks.js';

export function addPitrCommands(program: Command): void {
  const pitr = program.command('pitr').description('point-in-time recovery of PostgreSQL with pgBackRest');
  pitr
    .command('setup')
    .description('print what the operator does once for a database with a postgres.physical section: its pgBackRest config, stanza-create, archive_command, check')
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .requiredOption('--database <label>', 'the postgres target\'s label')
    .option('--pgbackrest-config <file>', 'where the database host keeps the config the archive_command reads (default /etc/pgbackrest/ragops-<stack>-<label>.conf)')
    .option('--config <file>', 'stacks file (default RAGOPS_CONFIG or ./ragops.yaml)')
    .action(async (o: { stack: string; database: string; pgbackrestConfig?: string; config?: string }) => {
      const file = await loadStacksFile(o.config ?? configPathFromEnv());
      const stack = file.stacks[o.stack];
      if (!stack) throw new InvalidInput(`unknown stack "${o.stack}"; the stacks file defines: ${Object.keys(file.stacks).join(', ')}`);
      const target = stack.postgres.find((candidate) => candidate.name === o.database);
      if (!target) throw new InvalidInput(`stack ${o.stack} has no postgres target "${o.database}"; it has: ${stack.postgres.map((t) => t.name).join(', ') || 'none'}`);
      if (!hasPhysical(target)) throw new InvalidInput(`postgres target "${o.database}" of stack ${o.stack} has no physical section: add one (stanza, pgData) to the stacks file`);
      const configFile = o.pgbackrestConfig ?? defaultArchiveConfigFile(o.stack, target.name);
      const checked = safeAbsolutePath.safeParse(configFile);
      if (!checked.success) throw new InvalidInput(`--pgbackrest-config ${JSON.stringify(configFile)}: ${checked.error.issues[0]!.message}`);
      let steps;
      try {
        steps = pitrSetupSteps(target, stack.store, checked.data, process.cwd());
      } catch (error) {
        throw new InvalidInput((error as Error).message);
      }
      console.log(formatPitrSetup(`Point-in-time recovery of ${o.stack}/${target.name} (database ${target.database}, stanza ${target.physical.stanza}): run once`, steps));
    });
}
