import pg from 'pg';
import type { PostgresTarget, StoreConfig } from '../../config/stacks/index.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import { isOwnedDatabase } from '../../core/runNames.js';
import { withArtifactStore } from '../store/open.js';
import type { ArtifactStore } from '../store/types.js';
import type { PgConnection } from './commands.js';
import { connectFailure } from './errors.js';
import { bothRefused, nodePgSsl } from './tls.js';

export interface PostgresDeps {
  /** Directory of pg_dump/pg_restore; PATH when unset. */
  pgBinDir?: string;
  /** Tests only: runs inside the swap transaction, after the original is renamed aside (a fault there must leave it in place). */
  betweenRenames?: () => Promise<void>;
}

export async function connectionFor(target: PostgresTarget): Promise<PgConnection> {
  return { ...target, password: await resolveOptionalSecret(target.password) };
}

export async function openSession(connection: PgConnection, applicationName: string): Promise<pg.Client> {
  const where = `cannot connect to PostgreSQL ${connection.name} at ${connection.host}:${connection.port}/${connection.database} as ${connection.user}`;
  let tls: ReturnType<typeof nodePgSsl>;
  try {
    tls = nodePgSsl(connection);
  } catch (error) {
    throw connectFailure(where, error);
  }
  const attempt = async (ssl: ReturnType<typeof nodePgSsl>['ssl']) => {
    const client = new pg.Client({
      host: connection.host,
      port: connection.port,
      user: connection.user,
      password: connection.password,
      database: connection.database,
      application_name: applicationName,
      connectionTimeoutMillis: 10_000,
      ssl,
    });
    await client.connect();
    return client;
  };
  try {
    return await attempt(tls.ssl);
  } catch (error) {
    // prefer/allow: the other way once, as libpq does when the first is refused.
    if (tls.fallback === undefined) throw connectFailure(where, error);
    try {
      return await attempt(tls.fallback);
    } catch (second) {
      throw connectFailure(where, bothRefused(error, second, tls.ssl !== false));
    }
  }
}

/** User tables whose data pg_dump writes: plain tables and partitions, not extension members. */
const USER_TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS table
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2`;

/** The user tables (see USER_TABLES_SQL), sorted. */
export async function userTables(client: pg.Client): Promise<Array<{ schema: string; table: string }>> {
  return (await client.query<{ schema: string; table: string }>(USER_TABLES_SQL)).rows;
}

export async function exactTableCounts(client: pg.Client): Promise<Record<string, number>> {
  const tables = await client.query<{ schema: string; table: string }>(USER_TABLES_SQL);
  const counts: Record<string, number> = {};
  for (const { schema, table } of tables.rows) {
    const qualified = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)}`;
    const result = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${qualified}`);
    counts[`${schema}.${table}`] = Number(result.rows[0]?.count ?? 0);
  }
  return counts;
}

export function quoteIdent(client: pg.Client, name: string): string {
  return client.escapeIdentifier(name);
}

export async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  const result = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (result.rowCount ?? 0) > 0;
}

export async function dropOwnedDatabase(admin: pg.Client, name: string): Promise<boolean> {
  if (!isOwnedDatabase(name)) throw new Error(`refusing to drop "${name}": not a database ragops created`);
  if (!(await databaseExists(admin, name))) return false;
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(admin, name)} WITH (FORCE)`);
  return true;
}

/** A fresh empty database for this run; a leftover of the same name is this run's own. */
export async function createOwnedDatabase(admin: pg.Client, name: string): Promise<void> {
  await dropOwnedDatabase(admin, name);
  await admin.query(`CREATE DATABASE ${quoteIdent(admin, name)} TEMPLATE template0`);
}

export interface PostgresAdminSession {
  admin: pg.Client;
  connection: PgConnection;
  store: ArtifactStore;
}

/** Opens an admin session on the target's server and the store, for the length of `use`. */
export async function withPostgresAdmin<T>(target: PostgresTarget, storeConfig: StoreConfig | undefined, use: (session: PostgresAdminSession) => Promise<T>): Promise<T> {
  const connection = await connectionFor(target);
  // The maintenance database, so the target database itself can be renamed or replaced.
  const admin = await openSession({ ...connection, database: 'postgres' }, 'ragops-restore-admin');
  try {
    if (!storeConfig) return await use({ admin, connection, store: undefined as never });
    return await withArtifactStore(storeConfig, (store) => use({ admin, connection, store }));
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export async function countTablesIn(connection: PgConnection, database: string): Promise<Record<string, number>> {
  const client = await openSession({ ...connection, database }, 'ragops-restore-count');
  try {
    return await exactTableCounts(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
