import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import type { PostgresArtifact } from '../../config/manifest.js';
import type { PostgresTarget, StoreConfig } from '../../config/stacks/index.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { compareCounts, restoreDump, type RestoreMode } from './restore.js';
import { countTablesIn, createOwnedDatabase, databaseExists, dropOwnedDatabase, quoteIdent, withPostgresAdmin, type PostgresDeps } from './session.js';

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
  /** The restoring execution's tag: its marker tells a finished staging database from a half-restored one. */
  runTag: string;
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

export function createPostgresStagingActivities(deps: PostgresDeps = {}) {
  return {
    /**
     * Restores a dump under `database`: into a staging database of this run first, verified
     * against the manifest's counts and marked with a comment, then renamed into place
     * (the original, when replaced, is renamed aside and dropped only after). Each state a
     * crash can leave is recognised on retry, so no half-restored database is taken for done.
     */
    async restorePostgresDatabase(request: PostgresRestoreRequest): Promise<{ database: string; tables: Record<string, number>; replaced: boolean }> {
      const { target, artifact, database, stagingDatabase, oldDatabase } = request;
      const marker = `ragops restore of ${request.backupId}/${artifact.name} by run ${request.runTag}`;
      const progress = new ProgressHeartbeat(`restore ${artifact.name} into ${database}`);
      return progress.during(withPostgresAdmin(target, request.store, async ({ admin, connection, store }) => {
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
      }));
    },
  };
}
