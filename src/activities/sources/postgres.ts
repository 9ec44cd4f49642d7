import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import type { PostgresTarget } from '../../config/stacks/index.js';
import type { PostgresSource } from '../../config/stacks/reingest.js';
import { columnName } from '../../config/stacks/reingest.js';
import { connectionFor, openSession } from '../postgres/session.js';
import type { SourceRow } from './types.js';

// A PostgreSQL re-ingestion source: the declared query read in keyset pages, each page in a
// REPEATABLE READ READ ONLY transaction of its own (a consistent page; the run as a whole is
// not one snapshot — the catch-up pass over `updatedAt` picks up what changed meanwhile).
// Keys travel as text (`<key>::text`): exact for every key type (bigint beyond 2^53,
// timestamps with microseconds, numeric), and the comparison `<key> > $1` casts them back.

export interface PostgresPage {
  rows: SourceRow[];
  /** The last row's key: where the next page starts (unchanged when the page is empty). */
  lastKey: string | undefined;
  /** Fewer rows than asked: nothing after `lastKey` (as of this page's snapshot). */
  done: boolean;
  /**
   * The page's transaction time (the server's clock, ISO 8601): a catch-up pass starts from the
   * first page's. Rows a writer changed in a transaction that began before it and committed after
   * carry an older `updatedAt` (now() is the writer's start time): give the catch-up a margin.
   */
  snapshotAt: string;
}

export interface SourceCount {
  rows: number;
  /** Rows whose key is NULL: keyset pages never reach them. */
  nullKeys: number;
  /** Rows that share a key with another: keyset pages would skip some of them. */
  duplicateKeys: number;
}

const KEY_ALIAS = 'ragops_source_key';

function quote(name: string, what: string, source: string): string {
  const parsed = columnName.safeParse(name);
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`source "${source}": ${what} "${name}" is not a column name (letters, digits and "_")`, 'InvalidInput');
  return `"${name}"`;
}

/** The SQL of one page; the names are validated identifiers, the query is the stacks file's own. */
export function keysetPageSql(source: Pick<PostgresSource, 'query' | 'key' | 'updatedAt'>, options: { after: boolean; since?: boolean }, name = 'source'): string {
  const key = `source.${quote(source.key, 'key column', name)}`;
  const conditions: string[] = [];
  let parameter = 1;
  if (options.since) {
    if (source.updatedAt === undefined) throw ApplicationFailure.nonRetryable(`source "${name}" declares no updatedAt column: no catch-up pass by update time`, 'InvalidInput');
    conditions.push(`source.${quote(source.updatedAt, 'updatedAt column', name)} > $${parameter++}`);
  }
  if (options.after) conditions.push(`${key} > $${parameter++}`);
  else conditions.push(`${key} IS NOT NULL`);
  return `SELECT source.*, ${key}::text AS ${KEY_ALIAS} FROM (${source.query}) AS source WHERE ${conditions.join(' AND ')} ORDER BY ${key} LIMIT $${parameter}`;
}

export function countSql(source: Pick<PostgresSource, 'query' | 'key'>, name = 'source'): string {
  const key = `source.${quote(source.key, 'key column', name)}`;
  return `SELECT count(*)::bigint AS rows, count(DISTINCT ${key})::bigint AS distinct_keys, (count(*) - count(${key}))::bigint AS null_keys FROM (${source.query}) AS source`;
}

/** SQLSTATE classes no retry fixes: the query, its columns or the role's rights are wrong. */
const STATEMENT_ERRORS: Record<string, string> = {
  '42601': 'the query has a syntax error',
  '42703': 'a column it names does not exist',
  '42P01': 'a table it names does not exist',
  '42883': 'an operator or function does not exist for these types (can the key column be compared with ">"?)',
  '42501': "the stack's role may not read it (GRANT SELECT)",
  '42804': 'a type does not match',
  '22P02': 'a value could not be converted (the key given to resume from does not fit the key column)',
  '42702': 'a column name is ambiguous',
  '42803': 'a grouping error',
  '25006': 'the query writes (nextval, a volatile function that modifies data), and sources are read in read-only transactions',
};

function statementFailure(where: string, error: unknown): Error {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message;
  if (code !== undefined && STATEMENT_ERRORS[code] !== undefined) {
    return ApplicationFailure.nonRetryable(`${where}: ${message} (SQLSTATE ${code}: ${STATEMENT_ERRORS[code]}); fix the source in the stacks file`, 'SourceQueryFailed');
  }
  return new Error(`${where}: ${message}`);
}

/** A payload value as JSON can carry it: timestamps as ISO 8601 text, bytea as base64. */
function jsonValue(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}

export interface PostgresSourceReader {
  /** Up to `limit` rows with keys after `after` (from the first when undefined), in key order. */
  page(after: string | undefined, limit: number): Promise<PostgresPage>;
  /** Rows whose `updatedAt` is after `since`, keyset-paged the same way. */
  catchUpPage(since: string, after: string | undefined, limit: number): Promise<PostgresPage>;
  /** Rows, NULL keys and duplicate keys of the whole query, in one snapshot. */
  count(): Promise<SourceCount>;
  close(): Promise<void>;
}

/**
 * Opens the source's database with the stack's target (TLS and password by reference, as every
 * ragops session), read-only. The reader keeps one connection; each call is its own transaction.
 */
export async function openPostgresSource(target: PostgresTarget, source: PostgresSource, name = 'source'): Promise<PostgresSourceReader> {
  // Every name is checked before connecting: a bad one fails the step at once.
  for (const [what, column] of [['key column', source.key], ['text column', source.text], ...source.payload.map((p) => ['payload column', p]), ...(source.updatedAt ? [['updatedAt column', source.updatedAt]] : [])] as const) {
    quote(column, what, name);
  }
  const connection = await connectionFor(target);
  const client = await openSession(connection, 'ragops-reingest-source');
  // A server that goes away mid-run ends the connection with 'error'; the next query reports it.
  client.on('error', () => undefined);
  const where = `source "${name}" in PostgreSQL ${target.name} (${target.host}:${target.port}/${target.database})`;

  // One transaction at a time on the one connection: a page read ahead and another call would
  // otherwise interleave their BEGIN and COMMIT.
  let queue: Promise<unknown> = Promise.resolve();
  function inSnapshot<T>(what: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
    const turn = queue.then(() => snapshot(what, run));
    queue = turn.catch(() => undefined);
    return turn;
  }

  async function snapshot<T>(what: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await run(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw statementFailure(`${where}: ${what}`, error);
    }
  }

  async function readPage(sql: string, params: unknown[], limit: number, what: string): Promise<PostgresPage> {
    if (!Number.isInteger(limit) || limit < 1) throw ApplicationFailure.nonRetryable(`${where}: a page of ${limit} rows`, 'InvalidInput');
    const { result, snapshotAt } = await inSnapshot(what, async (session) => {
      const now = await session.query<{ now: Date }>('SELECT transaction_timestamp() AS now');
      return { result: await session.query<Record<string, unknown>>(sql, params), snapshotAt: now.rows[0]!.now.toISOString() };
    });
    const columns = new Set(result.fields.map((field) => field.name));
    for (const [what, column] of [['text', source.text], ...source.payload.map((p) => ['payload', p])] as const) {
      if (!columns.has(column)) {
        throw ApplicationFailure.nonRetryable(`${where}: the query returns no column "${column}" (its ${what} column); it returns ${[...columns].filter((c) => c !== KEY_ALIAS).join(', ')}`, 'SourceQueryFailed');
      }
    }
    const rows = result.rows.map((row): SourceRow => {
      const key = row[KEY_ALIAS] as string;
      const text = row[source.text];
      if (typeof text !== 'string') {
        throw ApplicationFailure.nonRetryable(`${where}: the row with key ${key} has ${text === null ? 'NULL' : `a ${typeof text}`} in its text column "${source.text}", not text; fix the row or filter it out in the query`, 'SourceRowInvalid');
      }
      const payload: Record<string, unknown> = {};
      for (const field of source.payload) payload[field] = jsonValue(row[field]);
      return { key, text, payload };
    });
    return { rows, lastKey: rows.at(-1)?.key as string | undefined, done: rows.length < limit, snapshotAt };
  }

  return {
    async page(after, limit) {
      const sql = keysetPageSql(source, { after: after !== undefined }, name);
      return readPage(sql, after === undefined ? [limit] : [after, limit], limit, `reading the page after key ${after ?? '(start)'}`);
    },
    async catchUpPage(since, after, limit) {
      const sql = keysetPageSql(source, { after: after !== undefined, since: true }, name);
      return readPage(sql, after === undefined ? [since, limit] : [since, after, limit], limit, `reading rows updated after ${since} (after key ${after ?? '(start)'})`);
    },
    async count() {
      const { rows } = await inSnapshot('counting rows', (session) =>
        session.query<{ rows: string; distinct_keys: string; null_keys: string }>(countSql(source, name)),
      );
      const row = rows[0]!;
      const total = Number(row.rows);
      const nullKeys = Number(row.null_keys);
      return { rows: total, nullKeys, duplicateKeys: total - nullKeys - Number(row.distinct_keys) };
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

export async function withPostgresSource<T>(target: PostgresTarget, source: PostgresSource, name: string, use: (reader: PostgresSourceReader) => Promise<T>): Promise<T> {
  const reader = await openPostgresSource(target, source, name);
  try {
    return await use(reader);
  } finally {
    await reader.close();
  }
}
