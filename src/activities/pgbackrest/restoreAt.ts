import { ApplicationFailure } from '@temporalio/common';
import { createServer } from 'node:net';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { PhysicalBackup } from '../../config/manifest.js';
import type { NewClusterInput } from '../../config/inputs.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { findProcesses, killProcesses } from '../runtime/processes.js';
import { connectionFor, openSession } from '../postgres/session.js';
import { countBudgetMs, countTablesWithin } from '../postgres/counts.js';
import type { PhysicalRequest } from './backup.js';
import { restoreCommand } from './commands.js';
import { configureRecoveredServer, makeOwnedDir, requireEmptyDir, socketClient, startRecoveredServer, stopRecoveredServer, waitUntilPromoted, type RecoveredServer } from './recoveredServer.js';
import { serverBinDir } from './serverCommands.js';
import { withPgbackrest } from './session.js';

export interface RestoreAtRequest extends PhysicalRequest {
  backup: PhysicalBackup;
  at?: string;
  /** Without `at`: replay every archived WAL segment after the backup instead of stopping at its end. */
  toArchiveEnd?: boolean;
  /** Absent in requests recorded before it: then archiving off. */
  into: Omit<NewClusterInput, 'archiving'> & { archiving?: NewClusterInput['archiving'] };
}

export interface RestoreAtReport {
  name: string;
  label: string;
  dataDirectory: string;
  port: number;
  target: string | null;
  /** The commit time of the last transaction recovery replayed. */
  recoveredPoint: string | null;
  timeline: number;
  recoverySeconds: number;
  tables: Record<string, number>;
  /** Tables not counted: declared but missing, or past the counting budget. */
  uncounted?: string[];
  /** What the operator does next: the new cluster runs beside the old one until they switch. */
  nextSteps: string[];
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** Empties a directory this run restored into (a killed or failed attempt's), keeping the directory. */
async function emptyOurDirectory(server: RecoveredServer, stop: () => Promise<unknown>): Promise<void> {
  const writers = await findProcesses((argv) => argv.includes(`--pg1-path=${server.dataDir}`));
  if (writers.length > 0) await killProcesses(writers.map((entry) => entry.pid));
  await stop();
  for (const entry of await readdir(server.dataDir).catch(() => [] as string[])) await rm(join(server.dataDir, entry), { recursive: true, force: true });
}

export function createPgbackrestRestoreActivities() {
  return {
    /**
     * Recovers a physical backup (to `at`, or its end) into a new data directory and starts it
     * on the operator's port, left running beside the original, which is never touched.
     */
    async restorePgbackrestAt(request: RestoreAtRequest): Promise<RestoreAtReport> {
      const { target, backup, into } = request;
      const progress = new ProgressHeartbeat(`restore ${target.name} into ${into.dataDirectory}`);
      const earlier = progress.previousDetails<{ restoringInto?: string }>();
      // Into the target's own (lost) data directory on its port: it becomes the cluster again, its settings as they were.
      const inPlace = into.dataDirectory === target.physical.pgData && into.port === target.port;
      const server: RecoveredServer = {
        dataDir: into.dataDirectory,
        socketDir: inPlace ? (target.physical.socketPath ?? into.dataDirectory) : into.dataDirectory,
        port: into.port,
        binDir: serverBinDir(backup.postgresVersion, target.physical.binDir),
        logFile: join(into.dataDirectory, 'ragops-server.log'), // the cluster's OS user may not write beside it
      };
      return progress.during(
        withPgbackrest(target, request.store, async (session) => {
          // Only what this run itself restored may be cleared: an earlier attempt's heartbeat says so.
          if (earlier?.restoringInto === into.dataDirectory) await emptyOurDirectory(server, () => stopRecoveredServer(session, server));
          try {
            await requireEmptyDir(into.dataDirectory);
          } catch (error) {
            throw ApplicationFailure.nonRetryable((error as Error).message, 'InvalidInput');
          }
          if (!(await portIsFree(into.port))) throw ApplicationFailure.nonRetryable(`port ${into.port} is in use on this host: give a free port for the restored cluster`, 'InvalidInput');
          progress.beat({ restoringInto: into.dataDirectory }, true);
          try {
            await makeOwnedDir(session, into.dataDirectory, 0o700);
            progress.phase(`pgbackrest restore ${backup.label}`);
            const recoveryTarget = request.at ? { type: 'time' as const, at: new Date(request.at) } : request.toArchiveEnd ? { type: 'archive-end' as const } : { type: 'immediate' as const };
            await session.run(restoreCommand(session.invocation, { pgData: server.dataDir, target: recoveryTarget, archiving: into.archiving ?? 'off', set: backup.label }), { signal: progress.signal });
            // Listens where the original did (its postgresql.conf), on the operator's port; in place, exactly as it was.
            if (!inPlace) await configureRecoveredServer(session, server, {});
            progress.phase(request.at ? `recovering to ${request.at}` : 'recovering to the end of the backup');
            await startRecoveredServer(session, server, progress.signal);
            const connection = await connectionFor(target);
            const overTcp = () => openSession({ ...connection, host: '127.0.0.1', port: into.port }, 'ragops-restore');
            const overSocket = socketClient(server, { user: target.user, password: connection.password, database: target.database });
            const connect = (): Promise<pg.Client> => overTcp().catch(() => overSocket());
            const promoted = await waitUntilPromoted(server, connect, progress, progress.signal);
            const client = await connect();
            // Bounded like a drill's count: a recovery's RTO must not wait on counting a huge table.
            const counted = await countTablesWithin(client, { tables: target.physical.drillTables, budgetMs: countBudgetMs(target.physical) }).finally(() => client.end().catch(() => undefined));
            const tables = counted.tables;
            const uncounted = [...counted.missing.map((name) => `${name} (missing)`), ...counted.notCounted];
            return {
              name: target.name,
              label: backup.label,
              dataDirectory: into.dataDirectory,
              port: into.port,
              target: request.at ?? null,
              recoveredPoint: promoted.lastReplayedCommit,
              timeline: promoted.timeline,
              recoverySeconds: promoted.recoverySeconds,
              tables,
              ...(uncounted.length ? { uncounted } : {}),
              nextSteps: [
                inPlace
                  ? `The cluster runs again from ${into.dataDirectory} on port ${into.port} (log ${server.logFile}), archiving ${into.archiving === 'preserve' ? 'as before' : 'off'}; take a full backup once it is checked.`
                  : `The recovered cluster runs from ${into.dataDirectory} on port ${into.port} (log ${server.logFile}), archiving ${into.archiving === 'preserve' ? 'as the original' : 'off'}; the original on port ${target.port} is untouched.`,
                `Check it: psql -h 127.0.0.1 -p ${into.port} -U ${target.user} ${target.database}`,
                `Switch the application: point its database URL at port ${into.port} (or stop the original and move this directory into its place), then turn archiving on for it and run \`pgbackrest stanza-upgrade\`/\`check\` before its first backup.`,
              ],
            };
          } catch (error) {
            // Nothing half-made is left behind: the directory is ours until the server is up and checked.
            await emptyOurDirectory(server, () => stopRecoveredServer(session, server)).catch(() => undefined);
            throw error;
          }
        }),
      );
    },
  };
}
