import type { Command } from 'commander';
import { applyPitrSetup } from '../../activities/pgbackrest/apply.js';
import { hasPhysical, type PhysicalPostgresTarget } from '../../activities/pgbackrest/config.js';
import { defaultArchiveConfigFile, formatPitrSetup, pitrSetupSteps } from '../../activities/pgbackrest/setup.js';
import { readPitrStatus, type PitrStatus } from '../../activities/pgbackrest/status.js';
import { configPathFromEnv, loadStacksFile } from '../../config/load.js';
import { safeAbsolutePath, type StackConfig } from '../../config/stacks/index.js';
import { InvalidInput } from '../api/runbooks.js';

async function loadStack(name: string, config: string | undefined): Promise<StackConfig> {
  const file = await loadStacksFile(config ?? configPathFromEnv());
  const stack = file.stacks[name];
  if (!stack) throw new InvalidInput(`unknown stack "${name}"; the stacks file defines: ${Object.keys(file.stacks).join(', ')}`);
  return stack;
}

function physicalTarget(stack: StackConfig, stackName: string, label: string): PhysicalPostgresTarget {
  const target = stack.postgres.find((candidate) => candidate.name === label);
  if (!target) throw new InvalidInput(`stack ${stackName} has no postgres target "${label}"; it has: ${stack.postgres.map((t) => t.name).join(', ') || 'none'}`);
  if (!hasPhysical(target)) throw new InvalidInput(`postgres target "${label}" of stack ${stackName} has no physical section: add one (stanza, pgData) to the stacks file`);
  return target;
}

const RPO_BASIS = { 'archived-wal': 'the server archived its newest WAL segment', 'backup-stop': 'the newest backup stopped' } as const;

export function formatPitrStatus(stack: string, status: PitrStatus): string {
  const lines = [`${stack}/${status.target} (database ${status.database}, stanza ${status.stanza}; repository ${status.repository})`];
  if (status.stanzaInfo) {
    const { status: stanzaStatus, backups, archive } = status.stanzaInfo;
    lines.push(`  repository: ${stanzaStatus.message} (pgBackRest status ${stanzaStatus.code})`);
    lines.push(`  backups: ${backups.length === 0 ? 'none' : backups.length}`);
    for (const backup of backups) lines.push(`    ${backup.label.padEnd(34)} ${backup.type.padEnd(4)}  stopped ${backup.stoppedAt}`);
    lines.push(`  archived WAL: ${archive ? `${archive.minWal} to ${archive.maxWal}` : 'none'}`);
  } else {
    lines.push(`  repository: COULD NOT BE READ: ${status.repositoryError}`);
  }
  const archiver = status.archiver;
  if (archiver) {
    const last = archiver.lastArchivedWal ? `last archived ${archiver.lastArchivedWal} at ${archiver.lastArchivedAt}` : 'nothing archived since the server started';
    lines.push(`  server: archive_mode ${archiver.archiveMode}; ${last}`);
    lines.push(
      `  archive failures: ${archiver.failedCount}${archiver.lastFailedWal ? `, the last ${archiver.lastFailedWal} at ${archiver.lastFailedAt}` : ''}${archiver.failing ? ' — FAILING: the newest attempt failed' : ''}`,
    );
  } else {
    lines.push(`  server: COULD NOT BE READ (only the repository's side is shown): ${status.serverError}`);
  }
  lines.push(
    status.rpo
      ? `  achievable RPO: ${status.rpo.seconds} s (${RPO_BASIS[status.rpo.basis]} at ${status.rpo.recoverableTo})`
      : '  achievable RPO: unknown (no backup, and no archived WAL the server could report)',
  );
  return lines.join('\n');
}

export function addPitrCommands(program: Command): void {
  const pitr = program.command('pitr').description('point-in-time recovery of PostgreSQL with pgBackRest');
  pitr
    .command('setup')
    .description('print what the operator does once for a database with a postgres.physical section: its pgBackRest config, stanza-create, archive_command, check (--apply: do it)')
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .requiredOption('--database <label>', 'the postgres target\'s label')
    .option('--pgbackrest-config <file>', 'where the database host keeps the config the archive_command reads (default /etc/pgbackrest/ragops-<stack>-<label>.conf)')
    .option('--apply', 'run the steps on this host: write the config (secrets resolved), stanza-create, ALTER SYSTEM and reload, check')
    .option('--config <file>', 'stacks file (default RAGOPS_CONFIG or ./ragops.yaml)')
    .action(async (o: { stack: string; database: string; pgbackrestConfig?: string; apply?: boolean; config?: string }) => {
      const stack = await loadStack(o.stack, o.config);
      const target = physicalTarget(stack, o.stack, o.database);
      const configFile = o.pgbackrestConfig ?? defaultArchiveConfigFile(o.stack, target.name);
      const checked = safeAbsolutePath.safeParse(configFile);
      if (!checked.success) throw new InvalidInput(`--pgbackrest-config ${JSON.stringify(configFile)}: ${checked.error.issues[0]!.message}`);
      let steps;
      try {
        steps = pitrSetupSteps(target, stack.store, checked.data, process.cwd());
      } catch (error) {
        throw new InvalidInput((error as Error).message);
      }
      const subject = `${o.stack}/${target.name} (database ${target.database}, stanza ${target.physical.stanza})`;
      if (!o.apply) {
        console.log(formatPitrSetup(`Point-in-time recovery of ${subject}: run once`, steps));
        console.log('\nOr run this command with --apply on the database host (as root, or as the cluster\'s OS user): it does these steps.');
        return;
      }
      console.log(`Setting up point-in-time recovery of ${subject}:`);
      const result = await applyPitrSetup(target, stack.store, { stack: o.stack, configFile: checked.data, say: (line) => console.log(line) });
      if (result.restartNeeded) {
        const again = ['ragops pitr setup --stack', o.stack, '--database', target.name, ...(o.pgbackrestConfig ? ['--pgbackrest-config', checked.data] : []), '--apply'].join(' ');
        console.log(
          [
            '',
            'RESTART NEEDED: archive_mode takes effect only when the server starts; until then no WAL is archived.',
            `Restart it (e.g. pg_ctlcluster <version> <cluster> restart, or pg_ctl -D ${target.physical.pgData} restart${target.physical.osUser ? ` as ${target.physical.osUser}` : ''}),`,
            `then run \`${again}\` again: it checks that a WAL switch reaches the repository.`,
          ].join('\n'),
        );
      } else {
        console.log(`\nDone: the server archives its WAL into the repository (checked). Status: ragops pitr status --stack ${o.stack} --database ${target.name}`);
      }
    });

  pitr
    .command('status')
    .description("per physical target: the repository's backups and archived WAL, the server's archiver (last archived WAL, failures) and the achievable RPO; exits 1 when a side could not be read")
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .option('--database <label>', 'one postgres target (default: every one with a physical section)')
    .option('--json', 'print the status as JSON')
    .option('--config <file>', 'stacks file (default RAGOPS_CONFIG or ./ragops.yaml)')
    .action(async (o: { stack: string; database?: string; json?: boolean; config?: string }) => {
      const stack = await loadStack(o.stack, o.config);
      const targets = o.database ? [physicalTarget(stack, o.stack, o.database)] : stack.postgres.filter(hasPhysical);
      if (targets.length === 0) throw new InvalidInput(`stack ${o.stack} has no postgres target with a physical section`);
      const statuses: PitrStatus[] = [];
      for (const target of targets) statuses.push(await readPitrStatus(target, stack.store));
      console.log(o.json ? JSON.stringify(statuses, null, 2) : statuses.map((status) => formatPitrStatus(o.stack, status)).join('\n\n'));
      if (statuses.some((status) => status.repositoryError !== undefined || status.serverError !== undefined)) process.exitCode = 1;
    });
}
