// Throwaway databases on the machine's PostgreSQL (127.0.0.1:5432, trust auth), a RAG-like
// seed that makes 100k+ rows in seconds, and exact row counts to compare restores with.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' } as const;

export interface TestDatabase {
  name: string;
  url: string;
  /** A connected client; drop() ends every client it handed out. */
  client(): Promise<pg.Client>;
  drop(): Promise<void>;
}

export function databaseUrl(name: string): string {
  return `postgresql://${PG.user}@${PG.host}:${PG.port}/${name}`;
}

async function connect(database: string): Promise<pg.Client> {
  const client = new pg.Client({ ...PG, database });
  // A dropped (FORCE) or restarted server ends the connection with an 'error' event,
  // which would crash the test process if nobody listened.
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function withClient<T>(database: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(database);
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const safePrefix = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30);
  const name = `ragops_t_${safePrefix}_${randomBytes(4).toString('hex')}`;
  await withClient('postgres', (admin) => admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const clients: pg.Client[] = [];
  return {
    name,
    url: databaseUrl(name),
    async client() {
      const client = await connect(name);
      clients.push(client);
      return client;
    },
    async drop() {
      await Promise.allSettled(clients.splice(0).map((client) => client.end()));
      await withClient('postgres', (admin) =>
        admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
      );
    },
  };
}

/**
 * Creates a RAG-like schema and fills it: users, documents, chunks (3 per document),
 * audit.events (1 per 10 documents), and an empty ingest_queue. Returns the exact row
 * counts it wrote, keyed "schema.table" like exactCounts().
 */
export async function seedRagDatabase(dbName: string, { documents }: { documents: number }): Promise<Record<string, number>> {
  const users = Math.max(1, Math.ceil(documents / 100));
  const events = Math.floor(documents / 10);
  await withClient(dbName, async (db) => {
    await db.query(`
      CREATE TABLE users (
        id bigserial PRIMARY KEY,
        email text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE documents (
        id bigserial PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users(id),
        title text NOT NULL,
        source_uri text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE chunks (
        id bigserial PRIMARY KEY,
        document_id bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ord int NOT NULL,
        content text NOT NULL,
        embedding real[] NOT NULL,
        UNIQUE (document_id, ord)
      );
      CREATE TABLE ingest_queue (
        id bigserial PRIMARY KEY,
        source_uri text NOT NULL,
        enqueued_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE SCHEMA audit;
      CREATE TABLE audit.events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL,
        payload jsonb NOT NULL
      );
    `);
    // Fresh tables, so the serial ids are exactly 1..n and can be computed below.
    await db.query(`INSERT INTO users (email) SELECT 'user' || g || '@example.test' FROM generate_series(1, $1::int) g`, [users]);
    await db.query(
      `INSERT INTO documents (user_id, title, source_uri, metadata)
       SELECT 1 + g % $2::int, 'Document ' || g, 's3://docs/' || g || '.pdf', jsonb_build_object('pages', 1 + g % 40)
       FROM generate_series(1, $1::int) g`,
      [documents, users],
    );
    await db.query(
      `INSERT INTO chunks (document_id, ord, content, embedding)
       SELECT d, o, 'chunk ' || o || ' of document ' || d || ': ' || md5((d * 3 + o)::text),
              ARRAY[random(), random(), random(), random()]::real[]
       FROM generate_series(1, $1::int) d, generate_series(0, 2) o`,
      [documents],
    );
    await db.query(
      `INSERT INTO audit.events (kind, payload)
       SELECT 'document.ingested', jsonb_build_object('document_id', g * 10) FROM generate_series(1, $1::int) g`,
      [events],
    );
    await db.query('ANALYZE');
  });
  return {
    'audit.events': events,
    'public.chunks': documents * 3,
    'public.documents': documents,
    'public.ingest_queue': 0,
    'public.users': users,
  };
}

/** Exact count(*) of every user table, keyed "schema.table", sorted by key. */
export async function exactCounts(dbName: string): Promise<Record<string, number>> {
  return withClient(dbName, async (db) => {
    const { rows: tables } = await db.query<{ schema: string; table: string }>(
      `SELECT table_schema AS schema, table_name AS table FROM information_schema.tables
       WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
       ORDER BY 1, 2`,
    );
    const counts: Record<string, number> = {};
    for (const { schema, table } of tables) {
      const { rows } = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`,
      );
      counts[`${schema}.${table}`] = Number(rows[0]?.n);
    }
    return counts;
  });
}

/** Names of the databases whose name starts with `prefix`. */
export async function listDatabases(prefix: string): Promise<string[]> {
  return withClient('postgres', async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname',
      [prefix],
    );
    return rows.map((row) => row.datname);
  });
}

/** Drops a database a test made under its own name (e.g. a restore target), if it is there. */
export async function dropDatabaseIfExists(name: string): Promise<void> {
  await withClient('postgres', (admin) => admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}
