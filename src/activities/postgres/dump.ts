import type { PostgresArtifact } from '../../config/manifest.js';
import type { PostgresTarget, StoreConfig } from '../../config/stacks/index.js';
import { runCommand, streamCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { putHashed } from '../store/hashing.js';
import { withStore } from '../store/open.js';
import { pgDumpCommand, pgToolVersionCommand } from './commands.js';
import { requireToolVersion } from './errors.js';
import { connectionFor, exactTableCounts, openSession, type PostgresDeps } from './session.js';

export interface DumpPostgresRequest {
  target: PostgresTarget;
  store: StoreConfig;
  key: string;
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
      const { stdout: versionLine } = await runCommand(pgToolVersionCommand('pg_dump', deps.pgBinDir));
      const session = await openSession(connection, 'ragops-backup-snapshot');
      try {
        await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const exported = await session.query<{ id: string; version: string; num: string }>(
          "SELECT pg_export_snapshot() AS id, current_setting('server_version') AS version, current_setting('server_version_num') AS num",
        );
        const { id: snapshotId, version: serverVersion, num } = exported.rows[0]!;
        // Before any byte is stored: an older pg_dump refuses the server on every attempt.
        requireToolVersion('pg_dump', versionLine, Math.floor(Number(num) / 10_000), `the server ${target.host}:${target.port}`);
        // Beats all along: the dump streams, but the exact counts of big tables may outlast it.
        return await progress.during(withStore(storeConfig, async (store) => {
          await store.discardUnfinished(key);
          progress.phase('uploading');
          const dump = streamCommand(pgDumpCommand(connection, snapshotId, deps.pgBinDir), { signal: progress.signal });
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
