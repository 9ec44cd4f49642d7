import { newestFreshValue } from '../postgres/freshness.js';
import { connectionFor, openSession } from '../postgres/session.js';
import { stackFromInput, stacksLoader, type LoadStacks } from '../plan/stacks.js';

/** Per database, well inside the activity's two minutes: a full scan that takes longer only costs the RPO its precision. */
const QUERY_TIMEOUT_MS = 30_000;

export interface RestoredFreshness {
  label: string;
  database: string;
  /** The newest value of the declared column in the restored database; null: the table is empty. */
  at: string | null;
  basis: string;
  /** Why it could not be read (a missing table or column, the server not answering): RPO falls back to the snapshot. */
  error?: string;
  /** Set when the value read was after the backup ended (future-dated rows, a zone-less column): then `at` is the backup's end. */
  note?: string;
}

export function createDrFreshnessActivities(deps: { loadStacks?: LoadStacks } = {}) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /**
     * Right after a recovery's restore, before a service writes again: the newest value of the
     * freshness column `stack` declares for each restored database (e.g. max(updated_at)), read
     * in `targetStack`'s database of the same label. Databases without a declared column are left out.
     */
    async measureRestoredFreshness({ stack, targetStack, labels }: { stack: string; targetStack: string; labels: string[] }): Promise<RestoredFreshness[]> {
      const stacks = await loadStacks();
      const declared = stackFromInput(stacks, stack);
      const into = stackFromInput(stacks, targetStack, 'into');
      const measured: RestoredFreshness[] = [];
      for (const label of labels) {
        const freshness = declared.postgres.find((target) => target.name === label)?.freshness;
        const server = into.postgres.find((target) => target.name === label);
        if (!freshness || !server) continue;
        // A misnamed column must not fail a recovery whose data is back: the report says so instead.
        const read = await connectionFor(server).then((connection) => openSession(connection, 'ragops-dr-freshness')).then(
          (client) => newestFreshValue(client, freshness, { timeoutMs: QUERY_TIMEOUT_MS }).finally(() => client.end().catch(() => undefined)),
        ).catch((error: unknown) => ({ at: null, basis: `max(${freshness.table}.${freshness.column})`, error: error instanceof Error ? error.message : String(error) }));
        measured.push({ label, database: server.database, ...read });
      }
      return measured;
    },
  };
}
