import type { PostgresArtifact, VerificationCheck } from '../../config/manifest.js';
import type { PostgresTarget, StoreConfig } from '../../config/stacks/index.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { compareCounts, restoreDump, runSanityChecks, type RestoreMode } from './restore.js';
import { watchRestorePhase } from './restorePhase.js';
import { countTablesIn, createOwnedDatabase, dropOwnedDatabase, openSession, withPostgresAdmin, type PostgresDeps } from './session.js';

export interface PostgresDrillRequest {
  target: PostgresTarget;
  store: StoreConfig;
  artifact: PostgresArtifact;
  scratchDatabase: string;
  mode: RestoreMode;
}

export function createPostgresDrillActivities(deps: PostgresDeps = {}) {
  return {
    /**
     * Restore drill: the dump into a scratch database of this run, exact counts against the
     * manifest, the stack's sanity SQL; the scratch database is dropped whatever happens.
     */
    async drillPostgresRestore(request: PostgresDrillRequest): Promise<VerificationCheck[]> {
      const { target, artifact, scratchDatabase } = request;
      const progress = new ProgressHeartbeat(`restore drill ${artifact.name}`);
      // Beats all along: pg_restore building indexes and the exact counts report nothing themselves.
      return progress.during(withPostgresAdmin(target, request.store, async ({ admin, connection, store }) => {
        await createOwnedDatabase(admin, scratchDatabase);
        try {
          const started = Date.now();
          progress.phase('restoring data');
          const stopWatching = watchRestorePhase(admin, scratchDatabase, progress);
          const restored = await restoreDump(store, artifact, { ...connection, database: scratchDatabase }, request.mode, progress, deps).finally(stopWatching);
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
          progress.phase('counting rows');
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
          progress.phase('running sanity checks');
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
      }));
    },
  };
}
