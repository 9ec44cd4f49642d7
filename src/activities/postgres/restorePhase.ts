import type pg from 'pg';
import type { ProgressHeartbeat } from '../runtime/heartbeat.js';

/** What pg_restore's sessions in `database` are doing, from the statements they run now. */
export function restorePhaseOf(activeQueries: string[]): string | undefined {
  if (activeQueries.some((query) => /^\s*(CREATE\s+(UNIQUE\s+)?INDEX|ALTER\s+TABLE\b.*\bADD\s+CONSTRAINT)/is.test(query))) return 'building indexes';
  if (activeQueries.some((query) => /^\s*COPY\b/i.test(query))) return 'restoring data';
  return undefined;
}

/**
 * Watches pg_stat_activity of the database being restored and puts its phase in the heartbeat:
 * a streamed pg_restore's input is drained long before it ends (it still builds indexes), and
 * with parallel jobs from a file nothing else tells the two apart. Returns the stop function.
 */
export function watchRestorePhase(admin: pg.Client, database: string, progress: ProgressHeartbeat, everyMs = 2_000): () => void {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  const look = async () => {
    const result = await admin.query<{ query: string }>(
      "SELECT query FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()",
      [database],
    );
    const phase = restorePhaseOf(result.rows.map((row) => row.query));
    if (phase && !stopped) progress.phase(phase);
  };
  const timer = setInterval(() => {
    running = running.then(look).catch(() => undefined); // a missed look only delays the phase
  }, everyMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
