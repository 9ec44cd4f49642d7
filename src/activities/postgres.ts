import pg from 'pg';
import type { PostgresArtifact } from '../config/manifest.js';
import { resolveOptionalSecret } from '../config/secrets.js';
import type { PostgresTarget, StoreConfig } from '../config/stacks.js';
import { pgDumpCommand, pgToolVersionCommand, type PgConnection } from './commands/postgres.js';
import { runCommand, streamCommand } from './exec.js';
import { ProgressHeartbeat } from './heartbeat.js';
import { putHashed } from './store/hashing.js';
import { withStore } from './store/open.js';

export interface PostgresDeps {
  /** Directory of pg_dump/pg_restore; PATH when unset. */
  pgBinDir?: string;
}

export interface DumpPostgresRequest {
  target: PostgresTarget;
  store: StoreConfig;
  key: string;
}

export async function connectionFor(target: PostgresTarget): Promise<PgConnection> {
  return { ...target, password: await resolveOptionalSecret(target.password) };
}

export async function openSession(connection: PgConnection, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password: connection.password,
    database: connection.database,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    ssl: connection.sslmode && !['disable', 'allow', 'prefer'].includes(connection.sslmode) ? true : undefined,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `cannot connect to PostgreSQL ${connection.name} at ${connection.host}:${connection.port}/${connection.database} as ${connection.user}: ${(error as Error).message}`,
    );
  }
  return client;
}

/** User tables whose data pg_dump writes: plain tables and partitions, not extension members. */
const USER_TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS table
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2`;

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

export function createPostgresActivities(deps: PostgresDeps = {}) {
  return {
    /**
     * One consistent dump: a REPEATABLE READ transaction exports its snapshot, pg_dump reads
     * that same snapshot while this session counts every table in it, and the dump streams
     * through SHA-256 into the store. A retry starts over under the same key.
     */
    async dumpPostgres({ target, store: storeConfig, key }: DumpPostgresRequest): Promise<PostgresArtifact> {
      const progress = new ProgressHeartbeat(`pg_dump ${target.name}`);
      const connection = await connectionFor(target);
      const { stdout: versionLine } = await runCommand(pgToolVersionCommand('pg_dump', deps.pgBinDir));
      const session = await openSession(connection, 'ragops-backup-snapshot');
      try {
        await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const exported = await session.query<{ id: string; version: string }>(
          "SELECT pg_export_snapshot() AS id, current_setting('server_version') AS version",
        );
        const { id: snapshotId, version: serverVersion } = exported.rows[0]!;
        return await withStore(storeConfig, async (store) => {
          await store.discardUnfinished(key);
          const dump = streamCommand(pgDumpCommand(connection, snapshotId, deps.pgBinDir), { signal: progress.signal });
          const [stored, tables] = await Promise.all([
            putHashed(store, key, dump.stdout, {
              signal: progress.signal,
              onProgress: progress.bytes,
              sourceSucceeded: dump.finished,
              contentType: 'application/octet-stream',
            }),
            exactTableCounts(session),
          ]);
          return {
            component: 'postgres' as const,
            name: target.name,
            key,
            database: target.database,
            serverVersion,
            pgDumpVersion: versionLine.trim(),
            tables,
            ...stored,
            durationMs: progress.elapsedMs(),
          };
        });
      } finally {
        await session.query('ROLLBACK').catch(() => undefined);
        await session.end().catch(() => undefined);
      }
    },
  };
}
