import { Option, type Command } from 'commander';
import { InvalidInput, checkRestoreInput, startRestore } from '../api/runbooks.js';
import { collect, pairs, startAndFollow, withRunOptions, type RunFlags } from './common.js';
import { genericSummary } from './summary.js';

interface RestoreFlags extends RunFlags {
  stack: string;
  backupId?: string;
  targetStack?: string;
  component?: string[];
  database?: string[];
  collection?: string[];
  confirm?: string[];
  redisConfirm?: string[];
  redisInto?: string[];
  postgresInto?: string[];
  at?: string;
  toArchiveEnd?: boolean;
  aliases?: boolean;
  roles?: boolean;
  recovery: string;
}

/** "7001:/srv/redis-restored" → the new server's port and data directory (the schema checks both). */
function portAndDir(where: string, flag: string): { port: number; dir: string } {
  const colon = where.indexOf(':');
  if (colon < 1) throw new InvalidInput(`${flag} takes <label>=<port>:<dir>, got "${where}"`);
  return { port: Number(where.slice(0, colon)), dir: where.slice(colon + 1) };
}

export function addRestoreCommands(program: Command): void {
  withRunOptions(
    program
      .command('restore')
      .description('the restore runbook')
      .command('run')
      .description('restore components of a backup; existing targets are replaced only when named with --confirm')
      .requiredOption('--stack <name>', 'stack the backup belongs to')
      .option('--backup-id <id>', 'the backup to restore (default: the latest complete one)')
      .option('--target-stack <name>', "restore into this stack's servers")
      .option('--component <kind>', 'postgres, qdrant or redis (repeatable; default all)', collect)
      .option('--database <label=name>', 'restore the dump labelled <label> as database <name> (repeatable)', collect)
      .option('--collection <source=name>', 'restore collection <source> as <name> (repeatable)', collect)
      .option('--confirm <name>', 'replace this existing database or collection (repeatable)', collect)
      .option('--redis-confirm <label>', "replace the data of the stack's running Redis <label> (stop, RDB in place, start; repeatable)", collect)
      .option('--redis-into <label=port:dir>', 'restore Redis <label> into a new redis-server on 127.0.0.1:<port> with its data in <dir> (repeatable)', collect)
      .option('--postgres-into <label=port:dir>', "recover Postgres <label> from its pgBackRest repository into a new cluster in <dir> (new or empty) on <port>, left running (repeatable)", collect)
      .option('--at <time>', 'with --postgres-into: recover to this time (ISO 8601 with its zone); default the end of the backup')
      .option('--to-archive-end', 'with --postgres-into and no --at: replay every archived WAL segment after the backup')
      .option('--aliases', "point the backup's aliases at the restored collections")
      .option('--roles', "first create the backup's roles the target server lacks (without passwords: set them after)")
      .addOption(new Option('--recovery <method>', 'how Qdrant gets the snapshot').choices(['upload', 'location']).default('upload')),
  ).action(async (o: RestoreFlags) => {
    const confirmed = (name: string) => (o.confirm?.includes(name) ? name : undefined);
    const input = checkRestoreInput({
      stack: o.stack,
      backupId: o.backupId,
      targetStack: o.targetStack,
      components: o.component,
      postgres: {
        ...Object.fromEntries(pairs(o.database, '--database').map(([label, database]) => [label, { database, confirm: confirmed(database) }])),
        ...Object.fromEntries(
          pairs(o.postgresInto, '--postgres-into').map(([label, where]) => {
            const { port, dir } = portAndDir(where, '--postgres-into');
            return [label, { into: { dataDirectory: dir, port } }];
          }),
        ),
      },
      at: o.at,
      ...(o.toArchiveEnd ? { recoverTo: 'archive-end' } : {}),
      qdrant: Object.fromEntries(pairs(o.collection, '--collection').map(([source, collection]) => [source, { collection, confirm: confirmed(collection) }])),
      redis: {
        ...Object.fromEntries((o.redisConfirm ?? []).map((label) => [label, { confirm: label }])),
        ...Object.fromEntries(pairs(o.redisInto, '--redis-into').map(([label, where]) => [label, { into: portAndDir(where, '--redis-into') }])),
      },
      aliases: o.aliases ?? false,
      roles: o.roles ?? false,
      recovery: o.recovery,
    });
    await startAndFollow('restore', o, (client, options) => startRestore(client, input, options), (report) =>
      genericSummary(report, `restored backup ${report.backupId} of stack ${report.stack} into stack ${report.targetStack}`),
    );
  });
}
