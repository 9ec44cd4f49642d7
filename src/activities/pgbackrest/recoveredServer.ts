import { ApplicationFailure } from '@temporalio/common';
import { appendFile, chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { PgbackrestSession } from './session.js';
import { pgCtlStartCommand, pgCtlStopCommand, serverSettings, type ServerSettings } from './serverCommands.js';
import { findProcesses, isAlive, killProcesses, processWorksIn } from '../runtime/processes.js';
import type { ProgressHeartbeat } from '../runtime/heartbeat.js';

// A PostgreSQL server started from a data directory pgBackRest restored: a drill's scratch
// server (socket only, in a ragops-owned temp dir) or a restore's new cluster (the operator's
// directory and port). Started, watched until recovery has promoted it, and stopped.

export interface RecoveredServer {
  dataDir: string;
  socketDir: string;
  port: number;
  binDir: string;
  logFile: string;
}

/** Makes `dir` (and its parents) for the cluster's OS user, mode `mode`. */
export async function makeOwnedDir(session: PgbackrestSession, dir: string, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, mode);
  if (session.osUser) await chown(dir, session.osUser.uid, session.osUser.gid);
}

/** A directory ragops may restore into: absent or empty; anything else is refused, never overwritten. */
export async function requireEmptyDir(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0) throw new Error(`${dir} is not empty: ragops restores only into a new or empty directory, never over a data directory`);
}

/** The restored directory's server settings, written as the cluster's OS user would own them. */
export async function configureRecoveredServer(session: PgbackrestSession, server: RecoveredServer, settings: Omit<ServerSettings, 'port' | 'socketDir'>, hba?: string): Promise<void> {
  const own = async (file: string) => {
    if (session.osUser) await chown(file, session.osUser.uid, session.osUser.gid);
  };
  // A packaged cluster keeps postgresql.conf outside the data directory: the server still needs one.
  const conf = join(server.dataDir, 'postgresql.conf');
  if (!(await stat(conf).catch(() => undefined))) {
    await writeFile(conf, '# Written by ragops: the restored cluster kept its configuration outside the data directory.\n', { mode: 0o600 });
    await own(conf);
  }
  if (hba !== undefined && settings.hbaFile) {
    await writeFile(settings.hbaFile, hba, { mode: 0o600 });
    await own(settings.hbaFile);
  }
  await appendFile(join(server.dataDir, 'postgresql.auto.conf'), serverSettings({ ...settings, port: server.port, socketDir: server.socketDir }));
}

export async function startRecoveredServer(session: PgbackrestSession, server: RecoveredServer, signal?: AbortSignal): Promise<void> {
  await session.run(pgCtlStartCommand(server.binDir, server.dataDir, server.logFile), { signal, timeoutMs: 60_000 });
}

/** The postmaster's pid from postmaster.pid, if it is running. */
export async function runningPostmaster(dataDir: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A pid file can outlive its server: only a postmaster working in this directory counts.
  return (await processWorksIn(pid, dataDir)) ? pid : undefined;
}

async function logTail(server: RecoveredServer): Promise<string> {
  const text = await readFile(server.logFile, 'utf8').catch(() => '');
  return text.trim() ? text.trim().split('\n').slice(-12).join('\n') : `(${server.logFile} is empty or missing: the server never started)`;
}

export interface Promoted {
  /** Seconds from start until the server had recovered to its target and promoted. */
  recoverySeconds: number;
  timeline: number;
  /** The commit time of the last transaction recovery replayed (null when it replayed none). */
  lastReplayedCommit: string | null;
}

/**
 * Waits until the server has finished recovery and been promoted, beating all along; fails
 * with the server's own log when it stops instead (e.g. the target lies past the archive's end).
 */
export async function waitUntilPromoted(server: RecoveredServer, connect: () => Promise<pg.Client>, progress: ProgressHeartbeat, signal: AbortSignal): Promise<Promoted> {
  const started = Date.now();
  let sawPostmaster = false;
  for (;;) {
    signal.throwIfAborted();
    const pid = await runningPostmaster(server.dataDir);
    if (pid) sawPostmaster = true;
    else if (sawPostmaster || Date.now() - started > 30_000) {
      // The same WAL and target give the same end: a retry would only repeat it.
      const tail = await logTail(server);
      const lastCommit = /last completed transaction was at log time ([^\n]+)/.exec(tail)?.[1];
      const short = /recovery ended before configured recovery target was reached/.test(tail);
      const why = short
        ? `the WAL archive does not reach the target: its last transaction is at ${lastCommit ?? 'an unknown time'}, and recovery stops at the first commit after the target (recover to an earlier time, or wait until later WAL is archived)`
        : 'it stopped before recovery finished';
      // An archive that ends too early says nothing against the backup: a drill is inconclusive then, not failed.
      throw ApplicationFailure.nonRetryable(`the server recovered into ${server.dataDir}: ${why}; its log ends:\n${tail}`, short ? 'RecoveryTargetNotReached' : 'RestoreFailed');
    }
    const client = pid ? await connect().catch(() => undefined) : undefined;
    if (client) {
      try {
        const { rows } = await client.query<{ recovering: boolean; timeline: number; replayed: Date | null }>(
          'SELECT pg_is_in_recovery() AS recovering, (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline, pg_last_xact_replay_timestamp() AS replayed',
        );
        const row = rows[0]!;
        if (!row.recovering) {
          // The checkpoint's timeline lags the promotion until the end-of-recovery checkpoint: wait for it too.
          return { recoverySeconds: (Date.now() - started) / 1000, timeline: row.timeline, lastReplayedCommit: row.replayed ? row.replayed.toISOString() : null };
        }
        progress.beat({ phase: 'recovering', recoverySeconds: Math.round((Date.now() - started) / 1000) });
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    await sleep(500);
  }
}

/** Stops the server if it runs (fast, then immediate, then SIGKILL), whatever state it is in. */
export async function stopRecoveredServer(session: Pick<PgbackrestSession, 'run'>, server: Pick<RecoveredServer, 'binDir' | 'dataDir'>): Promise<boolean> {
  const pid = await runningPostmaster(server.dataDir);
  if (!pid) return false;
  for (const mode of ['fast', 'immediate'] as const) {
    const stopped = await session.run(pgCtlStopCommand(server.binDir, server.dataDir, mode), { timeoutMs: 150_000 }).then(() => true, () => false);
    if (stopped && !(await runningPostmaster(server.dataDir))) return true;
  }
  await killProcesses([pid]);
  return true;
}

/**
 * Removes a drill's scratch directory and what may still run in it: a server a killed worker
 * started, or a `pgbackrest restore` still writing into it.
 */
export async function removeScratch(session: PgbackrestSession, root: string, server: Pick<RecoveredServer, 'binDir' | 'dataDir'>): Promise<{ stoppedServer: boolean }> {
  if (!(await stat(root).catch(() => undefined))) return { stoppedServer: false };
  const writers = await findProcesses((argv) => argv.includes(`--pg1-path=${server.dataDir}`));
  if (writers.length > 0) await killProcesses(writers.map((entry) => entry.pid));
  const stoppedServer = await stopRecoveredServer(session, server);
  await rm(root, { recursive: true, force: true });
  return { stoppedServer };
}

/** A client over the scratch server's Unix socket as the target's user. */
export function socketClient(server: RecoveredServer, login: { user: string; password?: string; database: string }): () => Promise<pg.Client> {
  return async () => {
    const client = new pg.Client({ host: server.socketDir, port: server.port, user: login.user, password: login.password, database: login.database, connectionTimeoutMillis: 5_000, application_name: 'ragops-pitr' });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
}
