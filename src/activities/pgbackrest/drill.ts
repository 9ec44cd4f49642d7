import { ApplicationFailure } from '@temporalio/common';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import type { PhysicalBackup, VerificationCheck } from '../../config/manifest.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import { measuredRpoSeconds } from '../../core/pgbackrest.js';
import { pitrScratchDirName } from '../../core/runNames.js';
import { drillChecksOf } from '../runtime/drillCheck.js';
import { CommandFailed } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { countBudgetMs, countTablesWithin, type BoundedCounts } from '../postgres/counts.js';
import { newestFreshValue } from '../postgres/freshness.js';
import { runSanityChecks } from '../postgres/restore.js';
import type { PhysicalRequest } from './backup.js';
import { restoreCommand } from './commands.js';
import type { PhysicalPostgresTarget } from './config.js';
import { configureRecoveredServer, makeOwnedDir, removeScratch, socketClient, startRecoveredServer, waitUntilPromoted, type RecoveredServer } from './recoveredServer.js';
import { serverBinDir } from './serverCommands.js';
import { withPgbackrest } from './session.js';

export interface PgbackrestDrillRequest extends PhysicalRequest {
  backup: PhysicalBackup;
  /** ISO time to recover to; absent: the end of the backup (`--type=immediate`). */
  at?: string;
  runTag: string;
  tempDir?: string;
}

/** The scratch server of a drill: data, socket and log under ragops-pitr-<tag>-<label>. */
export function scratchServerOf(request: Pick<PgbackrestDrillRequest, 'target' | 'backup' | 'runTag' | 'tempDir'>): { root: string; server: RecoveredServer } {
  const root = join(request.tempDir ?? tmpdir(), pitrScratchDirName(request.runTag, request.target.name));
  return {
    root,
    server: {
      dataDir: join(root, 'data'),
      socketDir: join(root, 'run'),
      port: 5432,
      binDir: serverBinDir(request.backup.postgresVersion, request.target.physical.binDir),
      logFile: join(root, 'run', 'server.log'),
    },
  };
}


/** Declared tables missing fail the drill; a budget spent before every table was counted leaves it inconclusive. */
function rowCountCheck(target: PhysicalPostgresTarget, counts: BoundedCounts, startedAt: number) {
  const check = drillChecksOf('pgbackrest' as const, target.name);
  const rows = Object.values(counts.tables).reduce((sum, count) => sum + count, 0);
  const counted = `${Object.keys(counts.tables).length} table(s), ${rows} row(s) in ${target.database}`;
  const figures = { tables: counts.tables, rows, ...(counts.missing.length ? { missing: counts.missing } : {}), ...(counts.notCounted.length ? { notCounted: counts.notCounted } : {}) };
  if (counts.missing.length > 0) return check('row counts', 'failed', `declared table(s) not in the recovered database: ${counts.missing.join(', ')}; ${counted}`, figures, startedAt);
  if (counts.notCounted.length > 0) {
    const what = `${counts.notCounted.length} table(s) not counted within ${countBudgetMs(target.physical) / 1000} s (${counts.notCounted.slice(0, 5).join(', ')}${counts.notCounted.length > 5 ? ', …' : ''}): raise physical.drillCountSeconds or declare physical.drillTables`;
    return check('row counts', 'inconclusive', `${what}; ${counted}`, figures, startedAt);
  }
  return check('row counts', 'passed', counted, figures, startedAt);
}

/** The newest value of the target's freshness column, or the last commit recovery replayed. */
async function recoveredPoint(client: pg.Client, target: PhysicalPostgresTarget, lastReplayedCommit: string | null): Promise<{ at: string | null; basis: string }> {
  if (!target.freshness) return { at: lastReplayedCommit, basis: 'the last transaction recovery replayed' };
  return newestFreshValue(client, target.freshness);
}

/**
 * pgBackRest refusing the backup's own files (a checksum, a missing file or set) is a verdict
 * on the backup; anything else (the repository unreachable, a lock) may pass on a retry.
 */
function restoreFault(error: unknown): unknown {
  if (error instanceof CommandFailed && error.exitCode !== undefined && /checksum|invalid|corrupt|missing|does not exist|unable to find backup set/i.test(error.stderrTail)) {
    return ApplicationFailure.nonRetryable(error.message, 'RestoreFailed');
  }
  return error;
}

export function createPgbackrestDrillActivities() {
  return {
    /**
     * A point-in-time drill: `pgbackrest restore` of the backup into a scratch directory, a
     * scratch server (Unix socket only) recovering to the target and promoting, then counts,
     * the stack's sanity SQL and the recovered point. The server and directory are always
     * removed — also an earlier, killed attempt's.
     */
    async drillPgbackrest(request: PgbackrestDrillRequest): Promise<VerificationCheck[]> {
      const { target, backup } = request;
      const progress = new ProgressHeartbeat(`point-in-time drill ${target.name}`);
      const check = drillChecksOf('pgbackrest' as const, target.name);
      const { root, server } = scratchServerOf(request);
      const password = await resolveOptionalSecret(target.password);
      return progress.during(
        withPgbackrest(target, request.store, async (session) => {
          await removeScratch(session, root, server);
          const checks: VerificationCheck[] = [];
          try {
            await makeOwnedDir(session, root, 0o711);
            await makeOwnedDir(session, server.socketDir, 0o700);
            await makeOwnedDir(session, server.dataDir, 0o700);
            const restoreStarted = Date.now();
            progress.phase(`pgbackrest restore ${backup.label}`);
            const recoveryTarget = request.at ? { type: 'time' as const, at: new Date(request.at) } : { type: 'immediate' as const };
            await session
              .run(restoreCommand(session.invocation, { pgData: server.dataDir, target: recoveryTarget, archiving: 'off', set: backup.label }), { signal: progress.signal })
              .catch((error: unknown) => {
                throw restoreFault(error);
              });
            checks.push(check('pgbackrest restore', 'passed', `restored backup ${backup.label} (${backup.type}) into ${server.dataDir}`, { label: backup.label }, restoreStarted));

            const recoveryStarted = Date.now();
            const hbaFile = join(server.socketDir, 'ragops_hba.conf');
            await configureRecoveredServer(session, server, { listenAddresses: '', hbaFile }, `local all all ${password ? 'md5' : 'trust'}\n`);
            progress.phase(request.at ? `recovering to ${request.at}` : 'recovering to the end of the backup');
            await startRecoveredServer(session, server, progress.signal);
            const connect = socketClient(server, { user: target.user, password, database: target.database });
            const promoted = await waitUntilPromoted(server, connect, progress, progress.signal);
            checks.push(
              check('recovery', 'passed', `consistent and promoted after ${promoted.recoverySeconds.toFixed(1)} s, on timeline ${promoted.timeline}`, { ...promoted }, recoveryStarted),
            );

            const client = await connect();
            try {
              const countStarted = Date.now();
              progress.phase(target.physical.drillTables ? `counting rows of ${target.physical.drillTables.length} declared table(s)` : 'counting rows');
              checks.push(rowCountCheck(target, await countTablesWithin(client, { tables: target.physical.drillTables, budgetMs: countBudgetMs(target.physical) }), countStarted));

              const pointStarted = Date.now();
              const point = await recoveredPoint(client, target, promoted.lastReplayedCommit);
              const figures = { recoveredPoint: point.at, basis: point.basis, target: request.at ?? null, backupStoppedAt: backup.stoppedAt };
              if (point.at === null) {
                checks.push(check('recovered point', 'inconclusive', `${point.basis} is empty: nothing tells how recent the recovered data is`, figures, pointStarted));
              } else if (request.at && point.at > new Date(request.at).toISOString()) {
                checks.push(check('recovered point', 'failed', `${point.basis} is ${point.at}, after the target ${request.at}: recovery went past it`, figures, pointStarted));
              } else {
                const rpo = request.at ? measuredRpoSeconds(new Date(request.at), new Date(point.at)) : undefined;
                const detail = `${point.basis} is ${point.at}${request.at ? `, ${rpo} s before the target ${request.at}` : ''}`;
                checks.push(check('recovered point', 'passed', detail, { ...figures, ...(rpo !== undefined ? { measuredRpoSeconds: rpo } : {}) }, pointStarted));
              }
              progress.phase('running sanity checks');
              const sanity = await runSanityChecks(client, target.name, target.sanityChecks);
              checks.push(...sanity.map((entry) => ({ ...entry, component: 'pgbackrest' as const })));
            } finally {
              await client.end().catch(() => undefined);
            }
            return checks;
          } finally {
            progress.phase('stopping the scratch server');
            await removeScratch(session, root, server);
          }
        }),
      );
    },

    /** Stops and removes a drill's scratch server and directory (what a crashed attempt may leave). */
    async removePgbackrestScratch(request: Pick<PgbackrestDrillRequest, 'target' | 'store' | 'backup' | 'runTag' | 'tempDir'>): Promise<{ stoppedServer: boolean }> {
      const { root, server } = scratchServerOf(request);
      return withPgbackrest(request.target, request.store, (session) => removeScratch(session, root, server));
    },
  };
}
