import type { PostgresArtifact } from '../../config/manifest.js';
import type { PostgresTarget, StoreConfig } from '../../config/stacks/index.js';
import { runCommand, streamCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { putHashed } from '../store/hashing.js';
import { withArtifactStore } from '../store/open.js';
import { CommandFailed } from '../runtime/exec.js';
import type { ArtifactStore } from '../store/types.js';
import { pgDumpCommand, pgDumpGlobalsCommand, pgToolVersionCommand, type PgConnection } from './commands.js';
import { readDatabaseSettings } from './databaseSettings.js';
import { pgBinDirFor } from './binaries.js';
import { requireToolVersion } from './errors.js';
import { connectionFor, exactTableCounts, openSession, type PostgresDeps } from './session.js';

export interface DumpPostgresRequest {
  target: PostgresTarget;
  store: StoreConfig;
  key: string;
}

/** Where a dump's roles and grants go: beside it. */
export const globalsKeyOf = (dumpKey: string) => `${dumpKey.replace(/\.dump$/, '')}.globals.sql`;

/**
 * The cluster's roles and grants, best-effort: a role that may not read them (or an old
 * pg_dumpall) still gets its database backed up, and the manifest says why they are missing.
 */
async function dumpGlobals(connection: PgConnection, store: ArtifactStore, key: string, progress: ProgressHeartbeat, binDir: string | undefined) {
  await store.discardUnfinished(key);
  const globals = streamCommand(pgDumpGlobalsCommand(connection, binDir), { signal: progress.signal });
  try {
    const stored = await putHashed(store, key, globals.stdout, { signal: progress.signal, sourceSucceeded: globals.finished, contentType: 'application/sql' });
    return { key, size: stored.size, sha256: stored.sha256 };
  } catch (error) {
    if (!(error instanceof CommandFailed) || !error.reason.startsWith('exit code')) throw error;
    return { skipped: `pg_dumpall --globals-only as ${connection.user} failed: ${error.stderrTail || error.reason}` };
  }
}

export function createPostgresDumpActivities(deps: PostgresDeps = {}) {
  return {
    /**
     * One consistent dump: a REPEATABLE READ transaction exports its snapshot, pg_dump reads
     * that same snapshot while this session counts every table in it, and the dump streams
     * through SHA-256 into the store. A retry starts over under the same key.
     */
    async dumpPostgres({ target, store: storeConfig, key }: DumpPostgresRequest): Promise<PostgresArtifact> {
      const progress = new ProgressHeartbeat(`pg_dump ${target.name}`);
      const connection = await connectionFor(target);
      const session = await openSession(connection, 'ragops-backup-snapshot');
      try {
        await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const exported = await session.query<{ id: string; version: string; num: string }>(
          "SELECT pg_export_snapshot() AS id, current_setting('server_version') AS version, current_setting('server_version_num') AS num",
        );
        const { id: snapshotId, version: serverVersion, num } = exported.rows[0]!;
        const serverMajor = Math.floor(Number(num) / 10_000);
        const binDir = await pgBinDirFor('pg_dump', serverMajor, deps.pgBinDir);
        const { stdout: versionLine } = await runCommand(pgToolVersionCommand('pg_dump', binDir));
        // Before any byte is stored: an older pg_dump refuses the server on every attempt.
        requireToolVersion('pg_dump', versionLine, serverMajor, `the server ${target.host}:${target.port}`);
        const databaseSettings = await readDatabaseSettings(session);
        // Beats all along: the dump streams, but the exact counts of big tables may outlast it.
        return await progress.during(withArtifactStore(storeConfig, async (store) => {
          const globals = await dumpGlobals(connection, store, globalsKeyOf(key), progress, binDir);
          await store.discardUnfinished(key);
          progress.phase('uploading');
          const dump = streamCommand(pgDumpCommand(connection, snapshotId, binDir), { signal: progress.signal });
          const [stored, tables] = await Promise.all([
            putHashed(store, key, dump.stdout, {
              signal: progress.signal,
              onProgress: progress.bytes,
              sourceSucceeded: dump.finished,
              contentType: 'application/octet-stream',
            }),
            exactTableCounts(session),
          ]);
          return {
            component: 'postgres' as const,
            name: target.name,
            key,
            database: target.database,
            serverVersion,
            pgDumpVersion: versionLine.trim(),
            tables,
            databaseSettings,
            globals,
            ...stored,
            durationMs: progress.elapsedMs(),
          };
        }));
      } finally {
        await session.query('ROLLBACK').catch(() => undefined);
        await session.end().catch(() => undefined);
      }
    },
  };
}
