// The raw restore ragops' drill is compared with, as an operator types it:
// `createdb <scratch>`, `pg_restore -j N -d <scratch> <file>`, `dropdb <scratch>`.
import { dropDatabaseIfExists } from './benchDatabase.js';
import { connectionArgs, timeCommand } from './pgCommands.js';

export interface RawRestoreResult {
  /** pg_restore's wall time: the baseline. */
  ms: number;
  createdbMs: number;
  dropdbMs: number;
}

/** Restores `file` into a new `scratch` database with `jobs` parallel jobs, then drops it (also on failure). */
export async function pgRestoreFromFile(file: string, scratch: string, jobs: number): Promise<RawRestoreResult> {
  const createdbMs = await timeCommand(['createdb', ...connectionArgs, scratch]);
  let dropped = false;
  try {
    const ms = await timeCommand(['pg_restore', `-j`, String(jobs), ...connectionArgs, '-d', scratch, file]);
    const dropdbMs = await timeCommand(['dropdb', ...connectionArgs, scratch]);
    dropped = true;
    return { ms, createdbMs, dropdbMs };
  } finally {
    if (!dropped) await dropDatabaseIfExists(scratch);
  }
}
