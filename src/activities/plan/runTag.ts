import { randomBytes } from 'node:crypto';

/**
 * The tag every id of one execution derives from (backup id, scratch and staging names).
 * Made here, in the run's first activity, so it is recorded in history: a replay or a Reset
 * to a later point reuses it, and every new execution — a cron run, a continue-as-new, a
 * Reset to the start — gets its own. Never derived from the run id, which a Reset changes.
 */
export function newRunTag(): string {
  return randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0').slice(-8);
}
