// The raw tool ragops' physical backup is compared with, as an operator types it:
// `runuser -u postgres -- pgbackrest --config=<conf> --stanza=<s> --type=full --start-fast
// --no-expire-auto backup`, the options ragops passes, against the same repository; then
// `pgbackrest info` for what it made.
import { backupCommand, infoCommand, type PgbackrestInvocation } from '../../src/activities/pgbackrest/commands.js';
import { parsePgbackrestInfo } from '../../src/activities/pgbackrest/info.js';
import type { PgbackrestBackup, PgbackrestBackupType } from '../../src/core/pgbackrest.js';
import type { CommandSpec } from '../../src/activities/runtime/exec.js';
import { asPostgresUser } from '../../test/support/pgbackrest.js';
import { timeCommand } from './pgCommands.js';

export interface RawPgbackrestRun {
  ms: number;
  backup: PgbackrestBackup;
}

/** The newest backup `pgbackrest info` lists. */
export async function newestBackup(invocation: PgbackrestInvocation, run: (spec: CommandSpec) => Promise<{ stdout: string }>): Promise<PgbackrestBackup> {
  const info = parsePgbackrestInfo((await run(infoCommand(invocation))).stdout, invocation.stanza);
  const newest = info.backups.at(-1);
  if (!newest) throw new Error(`pgbackrest info of stanza ${invocation.stanza} lists no backup`);
  return newest;
}

/** One `pgbackrest backup` as the postgres OS user, timed from spawn to exit (no shell). */
export async function rawPgbackrestBackup(
  invocation: PgbackrestInvocation,
  type: PgbackrestBackupType,
  run: (spec: CommandSpec) => Promise<{ stdout: string }>,
): Promise<RawPgbackrestRun> {
  const ms = await timeCommand([...asPostgresUser(backupCommand(invocation, { type, startFast: true })).argv]);
  return { ms, backup: await newestBackup(invocation, run) };
}
