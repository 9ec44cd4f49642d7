import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import type { PostgresArtifact, VerificationCheck } from '../config/manifest.js';
import type { PostgresTarget, StoreConfig } from '../config/stacks.js';
import { ProgressHeartbeat } from './heartbeat.js';
import type { PostgresDeps } from './postgres.js';
import {
  compareCounts,
  countTablesIn,
  createOwnedDatabase,
  databaseExists,
  dropOwnedDatabase,
  openSession,
  quoteIdent,
  restoreDump,
  runSanityChecks,
  withPostgresAdmin,
  type RestoreMode,
} from './postgres-restore.js';

export interface PostgresDrillRequest {
  target: PostgresTarget;
  store: StoreConfig;
  artifact: PostgresArtifact;
  scratchDatabase: string;
  mode: RestoreMode;
}

export interface PostgresRestoreRequest {
  target: PostgresTarget;
  store: StoreConfig;
  artifact: PostgresArtifact;
  backupId: string;
  /** Final name; replaced only when `replace` (the operator confirmed it). */
  database: string;
  replace: boolean;
  stagingDatabase: string;
  oldDatabase: string;
  runId: string;
  mode: RestoreMode;
}

async function commentOf(admin: pg.Client, database: string): Promise<string | undefined> {
  const result = await admin.query<{ comment: string | null }>(
    "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
    [database],
  );
  return result.rows[0]?.comment ?? undefined;
}

async function closeConnections(admin: pg.Client, database: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${quoteIdent(admin, database)} WITH ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
}

export function createPostgresRestoreActivities(deps: PostgresDeps = {}) {
  return {
    /**
     * Restore drill: the dump into a scratch database of this run, exact counts against the
     * manifest, the stack's sanity SQL; the scratch database is dropped whatever happens.
     */
    async drillPostgresRestore(request: PostgresDrillRequest): Promise<VerificationCheck[]> {
      const { target, artifact, scratchDatabase } = request;
      const progress = new ProgressHeartbeat(`restore drill ${artifact.name}`);
      return withPostgresAdmin(target, request.store, async ({ admin, connection, store }) => {
        await createOwnedDatabase(admin, scratchDatabase);
        try {
          const started = Date.now();
          const restored = await restoreDump(store, artifact, { ...connection, database: scratchDatabase }, request.mode, progress, deps);
          const restoreMs = Date.now() - started;
          const checks: VerificationCheck[] = [
            {
              name: 'pg_restore',
              component: 'postgres',
              artifact: artifact.name,
              passed: restored.sha256 === artifact.sha256,
              detail: `restored ${restored.bytes} bytes into ${scratchDatabase}${request.mode.localDisk ? ` with ${request.mode.jobs} jobs` : ' streamed'}; sha256 ${restored.sha256 === artifact.sha256 ? 'matches' : 'DIFFERS from'} the manifest`,
              figures: { bytes: restored.bytes, sha256: restored.sha256, jobs: request.mode.localDisk ? request.mode.jobs : 1 },
              durationMs: restoreMs,
            },
          ];
          const countStarted = Date.now();
          const counts = await countTablesIn(connection, scratchDatabase);
          const comparison = compareCounts(artifact.tables, counts);
          checks.push({
            name: 'row counts',
            component: 'postgres',
            artifact: artifact.name,
            passed: comparison.passed,
            detail: comparison.detail,
            figures: { tables: Object.keys(counts).length, rows: Object.values(counts).reduce((a, b) => a + b, 0) },
            durationMs: Date.now() - countStarted,
          });
          const scratch = await openSession({ ...connection, database: scratchDatabase }, 'ragops-drill-sanity');
          try {
            checks.push(...(await runSanityChecks(scratch, artifact.name, target.sanityChecks)));
          } finally {
            await scratch.end().catch(() => undefined);
          }
          return checks;
        } finally {
          await dropOwnedDatabase(admin, scratchDatabase);
        }
      });
    },

    /** Drops a database this run created (scratch, staging, or the replaced original); idempotent. */
    async dropRunDatabase({ target, database }: { target: PostgresTarget; database: string }): Promise<boolean> {
      return withPostgresAdmin(target, undefined, ({ admin }) => dropOwnedDatabase(admin, database));
    },

    async postgresDatabaseExists({ target, database }: { target: PostgresTarget; database: string }): Promise<boolean> {
      return withPostgresAdmin(target, undefined, ({ admin }) => databaseExists(admin, database));
    },

    /**
     * Restores a dump under `database`: into a staging database of this run first, verified
     * against the manifest's counts and marked with a comment, then renamed into place
     * (the original, when replaced, is renamed aside and dropped only after). Each state a
     * crash can leave is recognised on retry, so no half-restored database is taken for done.
     */
    async restorePostgresDatabase(request: PostgresRestoreRequest): Promise<{ database: string; tables: Record<string, number>; replaced: boolean }> {
      const { target, artifact, database, stagingDatabase, oldDatabase } = request;
      const marker = `ragops restore of ${request.backupId}/${artifact.name} by run ${request.runId}`;
      const progress = new ProgressHeartbeat(`restore ${artifact.name} into ${database}`);
      return withPostgresAdmin(target, request.store, async ({ admin, connection, store }) => {
        const finish = async (replaced: boolean) => {
          await dropOwnedDatabase(admin, oldDatabase);
          return { database, tables: await countTablesIn(connection, database), replaced };
        };
        if ((await commentOf(admin, database)) === marker) return finish(await databaseExists(admin, oldDatabase));

        const stagingDone = (await databaseExists(admin, stagingDatabase)) && (await commentOf(admin, stagingDatabase)) === marker;
        if (!stagingDone) {
          await createOwnedDatabase(admin, stagingDatabase);
          await restoreDump(store, artifact, { ...connection, database: stagingDatabase }, request.mode, progress, deps);
          const comparison = compareCounts(artifact.tables, await countTablesIn(connection, stagingDatabase));
          if (!comparison.passed) {
            await dropOwnedDatabase(admin, stagingDatabase);
            throw ApplicationFailure.nonRetryable(`restored ${artifact.name} does not match the manifest: ${comparison.detail}`, 'RestoreFailed');
          }
          await admin.query(`COMMENT ON DATABASE ${quoteIdent(admin, stagingDatabase)} IS ${admin.escapeLiteral(marker)}`);
        }

        let replaced = await databaseExists(admin, oldDatabase);
        if (await databaseExists(admin, database)) {
          if (!request.replace) {
            throw ApplicationFailure.nonRetryable(`database "${database}" exists and replacing it was not confirmed`, 'InvalidInput');
          }
          await closeConnections(admin, database);
          await admin.query(`ALTER DATABASE ${quoteIdent(admin, database)} RENAME TO ${quoteIdent(admin, oldDatabase)}`);
          replaced = true;
        }
        await admin.query(`ALTER DATABASE ${quoteIdent(admin, stagingDatabase)} RENAME TO ${quoteIdent(admin, database)}`);
        return finish(replaced);
      });
    },
  };
}
