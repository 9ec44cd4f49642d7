import { ApplicationFailure } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { PostgresArtifact } from '../../config/manifest.js';
import type { PostgresTarget, StoreConfig } from '../../config/stacks/index.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { compareCounts, restoreDump, type RestoreMode } from './restore.js';
import { watchRestorePhase } from './restorePhase.js';
import { createDatabaseLike } from './databaseSettings.js';
import { globalsKeyOf } from './dump.js';
import { applyMissingRoles } from './roles.js';
import { countTablesIn, databaseExists, dropOwnedDatabase, quoteIdent, withPostgresAdmin, type PostgresDeps } from './session.js';
import { reopenIfClosed, swapBack, swapIntoPlace } from './swap.js';
import type { ArtifactStore } from '../store/types.js';

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
  /** Create the backup's roles that the server lacks (from the globals stored beside the dump). */
  roles?: boolean;
  /**
   * Keep a replaced original under `oldDatabase` (not connectable) instead of dropping it at
   * once: the run drops it when every component is restored, or swaps it back when one fails.
   */
  keepReplaced?: boolean;
}

export interface PostgresUndoRequest {
  target: PostgresTarget;
  backupId: string;
  artifactName: string;
  runTag: string;
  database: string;
  stagingDatabase: string;
  oldDatabase: string;
}

/** What undoing a finished database restore did. */
export type PostgresUndoOutcome = 'original back in place' | 'restored database removed' | 'nothing to undo';

export interface PostgresRestoreResult {
  database: string;
  tables: Record<string, number>;
  replaced: boolean;
  /** What of the database as backed up could not be kept here (e.g. an owner role that does not exist). */
  notKept: string[];
  rolesCreated: string[];
}

async function restoreRoles(admin: pg.Client, store: ArtifactStore, artifact: PostgresArtifact): Promise<string[]> {
  const globals = artifact.globals;
  if (!globals || 'skipped' in globals) {
    throw ApplicationFailure.nonRetryable(
      `"roles": true, but backup of ${artifact.name} holds no roles (${globals ? globals.skipped : 'taken before ragops stored them'}); create the roles by hand or restore without "roles"`,
      'InvalidInput',
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(globals.key ?? globalsKeyOf(artifact.key))) chunks.push(chunk as Buffer);
  const script = Buffer.concat(chunks);
  const sha256 = createHash('sha256').update(script).digest('hex');
  if (sha256 !== globals.sha256) {
    throw ApplicationFailure.nonRetryable(`the stored roles of ${artifact.name} (${globals.key}) do not match the manifest's sha256`, 'ChecksumMismatch');
  }
  return applyMissingRoles(admin, script.toString('utf8'));
}

/** The comment a restored database carries: which backup, which artifact, which run put it there. */
export function restoreMarker(backupId: string, artifactName: string, runTag: string): string {
  return `ragops restore of ${backupId}/${artifactName} by run ${runTag}`;
}

export async function commentOf(admin: pg.Client, database: string): Promise<string | undefined> {
  const result = await admin.query<{ comment: string | null }>(
    "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
    [database],
  );
  return result.rows[0]?.comment ?? undefined;
}

export function createPostgresStagingActivities(deps: PostgresDeps = {}) {
  return {
    /**
     * Restores a dump under `database`: into a staging database of this run first, verified
     * against the manifest's counts and marked with a comment, then renamed into place
     * (the original, when replaced, is renamed aside and dropped only after). Each state a
     * crash can leave is recognised on retry, so no half-restored database is taken for done.
     */
    async restorePostgresDatabase(request: PostgresRestoreRequest): Promise<PostgresRestoreResult> {
      const { target, artifact, database, stagingDatabase, oldDatabase } = request;
      const marker = restoreMarker(request.backupId, artifact.name, request.runTag);
      const progress = new ProgressHeartbeat(`restore ${artifact.name} into ${database}`);
      return progress.during(withPostgresAdmin(target, request.store, async ({ admin, connection, store }) => {
        const notKept: string[] = [];
        let rolesCreated: string[] = [];
        const finish = async (replaced: boolean) => {
          if (!request.keepReplaced) await dropOwnedDatabase(admin, oldDatabase);
          return { database, tables: await countTablesIn(connection, database), replaced, notKept, rolesCreated };
        };
        if ((await commentOf(admin, database)) === marker) return finish(await databaseExists(admin, oldDatabase));

        const stagingDone = (await databaseExists(admin, stagingDatabase)) && (await commentOf(admin, stagingDatabase)) === marker;
        // Before the database is created: its owner may be one of them.
        if (request.roles) rolesCreated = await restoreRoles(admin, store, artifact);
        if (!stagingDone) {
          await dropOwnedDatabase(admin, stagingDatabase);
          notKept.push(...(await createDatabaseLike(admin, stagingDatabase, artifact.databaseSettings)));
          progress.phase('restoring data');
          const stopWatching = watchRestorePhase(admin, stagingDatabase, progress);
          const restored = await restoreDump(store, artifact, { ...connection, database: stagingDatabase }, request.mode, progress, deps, { keepOwnership: true }).finally(stopWatching);
          progress.phase('counting rows');
          if (restored.sha256 !== artifact.sha256) {
            await dropOwnedDatabase(admin, stagingDatabase);
            throw ApplicationFailure.nonRetryable(
              `the dump restored for ${artifact.name} is not the one the manifest names (sha256 ${restored.sha256}, manifest ${artifact.sha256}): the stored dump changed or is damaged; nothing was swapped`,
              'ChecksumMismatch',
            );
          }
          const comparison = compareCounts(artifact.tables, await countTablesIn(connection, stagingDatabase));
          if (!comparison.passed) {
            await dropOwnedDatabase(admin, stagingDatabase);
            throw ApplicationFailure.nonRetryable(`restored ${artifact.name} does not match the manifest: ${comparison.detail}`, 'RestoreFailed');
          }
          await admin.query(`COMMENT ON DATABASE ${quoteIdent(admin, stagingDatabase)} IS ${admin.escapeLiteral(marker)}`);
        }

        const replaced = await swapIntoPlace(
          admin,
          { database, staging: stagingDatabase, old: oldDatabase, replace: request.replace },
          deps.betweenRenames,
        );
        return finish(replaced);
      }));
    },

    /**
     * Undoes a finished restore of this run when a later component failed: the restored
     * database leaves `database` and is dropped (it is this run's own), and a replaced
     * original, kept aside, takes its name back and accepts connections again. Idempotent:
     * a database that no longer carries this run's marker is not this run's to move.
     */
    async undoPostgresRestore(request: PostgresUndoRequest): Promise<PostgresUndoOutcome> {
      const { database, stagingDatabase, oldDatabase } = request;
      return withPostgresAdmin(request.target, undefined, async ({ admin }) => {
        if ((await commentOf(admin, database)) !== restoreMarker(request.backupId, request.artifactName, request.runTag)) {
          // A retry after the swap back committed: the original is in place, maybe still closed.
          if (await databaseExists(admin, database)) await reopenIfClosed(admin, database);
          return 'nothing to undo';
        }
        const hadOriginal = await swapBack(admin, { database, staging: stagingDatabase, old: oldDatabase, replace: true });
        await dropOwnedDatabase(admin, stagingDatabase);
        return hadOriginal ? 'original back in place' : 'restored database removed';
      });
    },
  };
}
