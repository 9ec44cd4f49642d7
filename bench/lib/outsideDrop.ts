// A drill's scratch database is a `ragops_drill_<tag>_<label>` database on a server that tests
// share. Another ragops' janitor (the sweep after pruneBackups, `ragops janitor`) asks its own
// Temporal server which drills run, does not find this benchmark's, takes the database for an
// orphan and drops it (WITH FORCE), which kills the drill's pg_restore. Such a run says
// nothing about ragops' speed: it is run again after a pause (sweeps come in bursts while a
// test suite prunes), and the benchmark says so.
import { setTimeout as sleep } from 'node:timers/promises';

const DROPPED_FROM_OUTSIDE = [/terminating connection due to administrator command/, /database "ragops_drill_[^"]+" does not exist/];

function messages(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message);
  return parts.join('\n');
}

export function wasDroppedFromOutside(error: unknown): boolean {
  const text = messages(error);
  return DROPPED_FROM_OUTSIDE.some((pattern) => pattern.test(text));
}

/** Runs `once`; when its scratch database was dropped from outside, says so and runs it again (`attempts` in all). */
export async function retryIfDroppedFromOutside<T>(label: string, once: () => Promise<T>, attempts = 5, pauseMs = 30_000): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once();
    } catch (error) {
      if (attempt >= attempts || !wasDroppedFromOutside(error)) throw error;
      console.log(`  ${label.padEnd(24)} its scratch database was dropped from outside (another ragops' janitor on this server?): running it again in ${pauseMs / 1000} s`);
      await sleep(pauseMs);
    }
  }
}
