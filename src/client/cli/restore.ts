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
  mirrorConfirm?: string[];
  mirrorInto?: string[];
  execConfirm?: string[];
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

/** "restored-docs/2026/" → bucket "restored-docs", prefix "2026/" (the schema checks both). */
function bucketAndPrefix(where: string, flag: string): { bucket: string; prefix: string } {
  const slash = where.indexOf('/');
  if (where.length === 0) throw new InvalidInput(`${flag} takes <name>=<bucket>[/<prefix>/], got an empty target`);
  return slash < 0 ? { bucket: where, prefix: '' } : { bucket: where.slice(0, slash), prefix: where.slice(slash + 1) };
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
      .option('--component <kind>', 'postgres, qdrant, redis, mirror or exec (repeatable; default postgres, qdrant, redis and the mirrors and exec dumps named below)', collect)
      .option('--database <label=name>', 'restore the dump labelled <label> as database <name> (repeatable)', collect)
      .option('--collection <source=name>', 'restore collection <source> as <name> (repeatable)', collect)
      .option('--confirm <name>', 'replace this existing database or collection (repeatable)', collect)
      .option('--redis-confirm <label>', "replace the data of the stack's running Redis <label> (stop, RDB in place, start; repeatable)", collect)
      .option('--redis-into <label=port:dir>', 'restore Redis <label> into a new redis-server on 127.0.0.1:<port> with its data in <dir> (repeatable)', collect)
      .option('--mirror-confirm <name>', "put mirror <name>'s objects back into its own bucket and prefix (objects the backup lacks are left; repeatable)", collect)
      .option('--mirror-into <name=bucket/prefix/>', 'put mirror <name> into a new, empty prefix of <bucket> on its endpoint (repeatable)', collect)
      .option('--exec-confirm <name>', "run exec dump <name>'s restore command with the backup on stdin (repeatable)", collect)
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
      mirror: {
        ...Object.fromEntries((o.mirrorConfirm ?? []).map((name) => [name, { confirm: name }])),
        ...Object.fromEntries(pairs(o.mirrorInto, '--mirror-into').map(([name, where]) => [name, { into: bucketAndPrefix(where, '--mirror-into') }])),
      },
      exec: Object.fromEntries((o.execConfirm ?? []).map((name) => [name, { confirm: name }])),
      aliases: o.aliases ?? false,
      roles: o.roles ?? false,
      recovery: o.recovery,
    });
    await startAndFollow('restore', o, (client, options) => startRestore(client, input, options), (report) =>
      genericSummary(report, `restored backup ${report.backupId} of stack ${report.stack} into stack ${report.targetStack}`),
    );
  });
}
