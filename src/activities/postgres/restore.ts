import { ApplicationFailure } from '@temporalio/activity';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { PostgresArtifact, VerificationCheck } from '../../config/manifest.js';
import type { DrillConfig, SanityCheck } from '../../config/stacks/index.js';
import { assertFreeSpace, isNoSpace, noSpaceFailure } from '../runtime/diskSpace.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import type { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { HashingMeter, hashStored } from '../store/hashing.js';
import type { ArtifactStore } from '../store/types.js';
import { pgRestoreCommand, pgToolVersionCommand, type PgConnection } from './commands.js';
import { pgBinDirFor } from './binaries.js';
import { majorVersionOf, requireToolVersion } from './errors.js';
import type { PostgresDeps } from './session.js';

export type RestoreMode = Pick<DrillConfig, 'localDisk' | 'tempDir' | 'jobs'>;

/** Streams (or downloads, then restores with parallel jobs) one dump into `into`. */
export async function restoreDump(
  store: ArtifactStore,
  artifact: PostgresArtifact,
  into: PgConnection,
  mode: RestoreMode,
  progress: ProgressHeartbeat,
  deps: PostgresDeps,
  { keepOwnership = false }: { keepOwnership?: boolean } = {},
): Promise<{ sha256: string; bytes: number }> {
  // pg_restore cannot read an archive written by a newer pg_dump: say so before downloading it.
  const dumpMajor = majorVersionOf(artifact.pgDumpVersion);
  const binDir = await pgBinDirFor('pg_restore', dumpMajor, deps.pgBinDir);
  const restoreFrom = async (file: string) => {
    const command = pgRestoreCommand(into, { file, jobs: mode.jobs }, binDir, keepOwnership);
    await progress.during(runCommand(command, { signal: progress.signal }), { phase: 'pg_restore', jobs: mode.jobs });
  };
  if (dumpMajor !== undefined) {
    const { stdout } = await runCommand(pgToolVersionCommand('pg_restore', binDir));
    requireToolVersion('pg_restore', stdout, dumpMajor, `the pg_dump that wrote ${artifact.name} (${artifact.pgDumpVersion})`);
  }
  try {
    const localFile = mode.localDisk ? store.localPath?.(artifact.key) : undefined;
    if (localFile) {
      // Already on this host: restore from the store's own file, hashing it alongside.
      const [, stored] = await Promise.all([restoreFrom(localFile), hashStored(store, artifact.key, { signal: progress.signal })]);
      return { sha256: stored.sha256, bytes: stored.size };
    }
    const meter = new HashingMeter(progress.bytes);
    const body = await store.get(artifact.key, { signal: progress.signal });
    if (!mode.localDisk) {
      await runCommand(pgRestoreCommand(into, 'stdin', binDir, keepOwnership), { signal: progress.signal, stdin: body.pipe(meter) });
    } else {
      const tempRoot = mode.tempDir ?? tmpdir();
      await assertFreeSpace(tempRoot, artifact.size, `the local copy of ${artifact.name}`).catch((error) => {
        body.destroy();
        throw error;
      });
      const dir = await mkdtemp(join(tempRoot, 'ragops-restore-'));
      try {
        const file = join(dir, 'dump');
        await pipeline(body, meter, createWriteStream(file), { signal: progress.signal }).catch((error: unknown) => {
          throw isNoSpace(error) ? noSpaceFailure(`the drill's temp dir ${tempRoot} (the local copy of ${artifact.name})`, error) : error;
        });
        await restoreFrom(file);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    return { sha256: meter.hash.digest('hex'), bytes: meter.bytes };
  } catch (error) {
    if (error instanceof CommandFailed && error.reason.startsWith('exit code')) {
      // A dump that does not restore will not restore on a retry either.
      throw ApplicationFailure.nonRetryable(`${artifact.name} (${artifact.key}): ${error.message}`, 'RestoreFailed');
    }
    throw error;
  }
}

/** Exact table counts against the manifest: every table, both ways. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): { passed: boolean; detail: string; mismatches: string[] } {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  const mismatches = tables
    .filter((table) => expected[table] !== actual[table])
    .map((table) => `${table}: manifest ${expected[table] ?? 'absent'}, restored ${actual[table] ?? 'absent'}`);
  const rows = Object.values(actual).reduce((sum, count) => sum + count, 0);
  return {
    passed: mismatches.length === 0,
    detail: mismatches.length === 0 ? `${tables.length} tables, ${rows} rows, all equal to the manifest` : mismatches.join('; '),
    mismatches,
  };
}

function sameValue(actual: unknown, expected: SanityCheck['expect']): boolean {
  if (actual === null || actual === undefined) return false;
  if (typeof expected === 'boolean') return actual === expected || String(actual) === (expected ? 't' : 'f');
  return String(actual) === String(expected);
}

/**
 * The stack's own sanity SQL against the restored database, each check one statement: the
 * extended protocol (node-pg's `queryMode: 'extended'`; an empty `values` array does not force it) rejects several, so no `COMMIT; DROP ...` can leave the
 * READ ONLY transaction it runs in; the session's default is read-only too, and each statement
 * has its own statement_timeout. A check that fails or times out fails the check, not the drill.
 */
export async function runSanityChecks(client: pg.Client, label: string, checks: SanityCheck[]): Promise<VerificationCheck[]> {
  const results: VerificationCheck[] = [];
  await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  for (const check of checks) {
    const started = Date.now();
    let actual: unknown;
    let detail: string;
    try {
      await client.query('BEGIN READ ONLY');
      await client.query("SELECT set_config('statement_timeout', $1, true)", [`${check.timeoutSeconds * 1000}`]);
      const result = await client.query({ text: check.sql, queryMode: 'extended', rowMode: 'array' } as pg.QueryConfig & { queryMode: 'extended' });
      actual = (result.rows[0] as unknown[] | undefined)?.[0];
      detail = `returned ${JSON.stringify(actual)}, expected ${JSON.stringify(check.expect)}`;
    } catch (error) {
      const { code, message } = error as { code?: string; message: string };
      detail = code === '57014' ? `query ran past its ${check.timeoutSeconds} s timeout: ${message}` : `query failed: ${message}`;
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
    results.push({
      name: `sanity: ${check.name}`,
      component: 'postgres',
      artifact: label,
      passed: sameValue(actual, check.expect),
      detail,
      figures: { actual: actual ?? null, expected: check.expect },
      durationMs: Date.now() - started,
    });
  }
  return results;
}
