import type pg from 'pg';
import { userTables } from './session.js';

/** Exact counts of some tables, and what could not be counted (missing, or past the time budget). */
export interface BoundedCounts {
  tables: Record<string, number>;
  /** Declared tables the database does not have. */
  missing: string[];
  /** Tables not counted because the budget ran out (the one cut off included). */
  notCounted: string[];
}

/**
 * Exact row counts of `tables` (schema.table), or of every user table when none are declared,
 * within `budgetMs`: each count runs with the budget left as its statement_timeout, and no count
 * starts once it is spent.
 */
export async function countTablesWithin(client: pg.Client, { tables, budgetMs }: { tables?: string[]; budgetMs: number }): Promise<BoundedCounts> {
  const startedAt = Date.now();
  const present = await userTables(client);
  const wanted = tables ?? present;
  const result: BoundedCounts = { tables: {}, missing: wanted.filter((table) => !present.includes(table)), notCounted: [] };
  const toCount = wanted.filter((table) => present.includes(table));
  for (const [index, table] of toCount.entries()) {
    const left = budgetMs - (Date.now() - startedAt);
    if (left < 1) {
      result.notCounted = toCount.slice(index);
      break;
    }
    const [schema, name] = table.split('.') as [string, string];
    try {
      await client.query(`SET statement_timeout = ${Math.ceil(left)}`);
      const { rows } = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`);
      result.tables[table] = Number(rows[0]?.count ?? 0);
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
