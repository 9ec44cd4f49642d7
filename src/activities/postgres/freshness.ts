import type pg from 'pg';
import type { PostgresTarget } from '../../config/stacks/index.js';

export type Freshness = NonNullable<PostgresTarget['freshness']>;

/** The newest value of a declared freshness column (e.g. max(updated_at)): how recent the data is; null for an empty table. */
export async function newestFreshValue(client: pg.Client, freshness: Freshness, { timeoutMs }: { timeoutMs?: number } = {}): Promise<{ at: string | null; basis: string }> {
  const table = freshness.table.split('.').map((part) => client.escapeIdentifier(part)).join('.');
  // max() of a column without an index reads the whole table: bounded when asked.
  if (timeoutMs !== undefined) await client.query(`SET statement_timeout = ${Math.ceil(timeoutMs)}`);
  const { rows } = await client.query<{ newest: Date | string | null }>(`SELECT max(${client.escapeIdentifier(freshness.column)}) AS newest FROM ${table}`);
  const newest = rows[0]?.newest ?? null;
  return { at: newest === null ? null : new Date(newest).toISOString(), basis: `max(${freshness.table}.${freshness.column})` };
}
