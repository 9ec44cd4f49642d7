import type pg from 'pg';
import { userTables } from './session.js';

/** How long a drill or a point-in-time restore may spend counting rows (physical.drillCountSeconds, default 600 s). */
export const countBudgetMs = (physical: { drillCountSeconds?: number }) => (physical.drillCountSeconds ?? 600) * 1000;

/** Exact counts of some tables (`schema.table`), and what could not be counted (missing, or past the time budget). */
export interface BoundedCounts {
  tables: Record<string, number>;
  /** Declared tables the database does not have. */
  missing: string[];
  /** Tables not counted because the budget ran out (the one cut off included). */
  notCounted: string[];
}

/**
 * Exact row counts of `tables` (`schema.table`, as declared), or of every user table when none
 * are declared, within `budgetMs`: each count runs with the budget left as its statement_timeout,
 * and no count starts once it is spent.
 */
export async function countTablesWithin(client: pg.Client, { tables, budgetMs }: { tables?: string[]; budgetMs: number }): Promise<BoundedCounts> {
  const startedAt = Date.now();
  // Names as pairs: a quoted schema or table name may itself hold a dot.
  const present = new Map((await userTables(client)).map((entry) => [`${entry.schema}.${entry.table}`, entry]));
  const wanted = tables ?? [...present.keys()];
  const result: BoundedCounts = { tables: {}, missing: wanted.filter((name) => !present.has(name)), notCounted: [] };
  const toCount = wanted.filter((name) => present.has(name));
  for (const [index, name] of toCount.entries()) {
    const left = budgetMs - (Date.now() - startedAt);
    if (left < 1) {
      result.notCounted = toCount.slice(index);
      break;
    }
    const { schema, table } = present.get(name)!;
    try {
      await client.query(`SET statement_timeout = ${Math.ceil(left)}`);
      const { rows } = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)}`);
      result.tables[name] = Number(rows[0]?.count ?? 0);
    } catch (error) {
      // 57014: canceled by statement_timeout.
      if ((error as { code?: string }).code !== '57014') throw error;
      result.notCounted = toCount.slice(index);
      break;
    } finally {
      await client.query('RESET statement_timeout').catch(() => undefined);
    }
  }
  return result;
}
