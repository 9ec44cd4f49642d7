// An independent statement of the keep rules, written without src/workflows/lib/retention.ts
// (its own day / Monday-of-week / month keys), for the tests to compare the planner against.
import type { RetentionPolicy } from '../../src/config/stacks/index.js';

const DAY = 86_400_000;

export interface OracleBackup {
  backupId: string;
  time: string;
}

const mondayOf = (time: string) =>
  new Date(Date.parse(time.slice(0, 10)) - ((new Date(time).getUTCDay() + 6) % 7) * DAY).toISOString().slice(0, 10);

/** The ids that keepLast/Daily/Weekly/Monthly select among `good` backups (any order), capped by maxAgeDays. */
export function selectedByKeepRules(good: OracleBackup[], now: Date, policy: RetentionPolicy): Set<string> {
  const eligible = [...good]
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
    .filter((b) => policy.maxAgeDays === undefined || now.getTime() - Date.parse(b.time) <= policy.maxAgeDays * DAY);
  const selected = new Set(eligible.slice(0, policy.keepLast).map((b) => b.backupId));
  const periodRules: Array<[number, (time: string) => string]> = [
    [policy.keepDaily, (t) => t.slice(0, 10)],
    [policy.keepWeekly, mondayOf],
    [policy.keepMonthly, (t) => t.slice(0, 7)],
  ];
  for (const [limit, period] of periodRules) {
    const periods = [...new Set(eligible.map((b) => period(b.time)))].sort().reverse().slice(0, limit);
    for (const p of periods) selected.add(eligible.find((b) => period(b.time) === p)!.backupId);
  }
  return selected;
}
