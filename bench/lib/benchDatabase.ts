// A benchmark database of a given size (pg_database_size), kept between runs: a RAG-like
// documents/chunks pair plus a bulk `bodies` table topped up until the size is reached.
import pg from 'pg';
import { PG } from '../../test/support/postgres.js';
import { seconds } from './textTable.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export interface BenchDatabase {
  name: string;
  bytes: number;
  /** How long seeding took, when this run seeded (or topped up) the database. */
  seededMs?: number;
}

export interface BenchDatabaseSpec {
  name: string;
  targetBytes: number;
}

/** The databases the benchmarks share and keep between runs: a base size and twice it, full or `--quick`. */
export const BENCH_DATABASES: Record<'full' | 'quick', readonly [BenchDatabaseSpec, BenchDatabaseSpec]> = {
  full: [
    { name: 'ragops_bench_1g', targetBytes: 1 * GiB },
    { name: 'ragops_bench_2g', targetBytes: 2 * GiB },
  ],
  quick: [
    { name: 'ragops_bench_q', targetBytes: 200 * MiB },
    { name: 'ragops_bench_q2', targetBytes: 400 * MiB },
  ],
};

const BODY_ROW_BYTES = 170; // 128-char text + tuple header + id + index entry, roughly
const SCHEMA_SQL = `
  CREATE TABLE IF NOT EXISTS documents (
    id bigint PRIMARY KEY,
    title text NOT NULL,
    source_uri text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS chunks (
    id bigserial PRIMARY KEY,
    document_id bigint NOT NULL REFERENCES documents(id),
    ord int NOT NULL,
    content text NOT NULL,
    embedding real[] NOT NULL,
    UNIQUE (document_id, ord)
  );
  CREATE TABLE IF NOT EXISTS bodies (
    id bigserial PRIMARY KEY,
    body text NOT NULL
  );`;

/** A connection to `database` on the machine's server for the length of `use`. */
export async function withClient<T>(database: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...PG, database });
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

const databaseSize = (db: pg.Client): Promise<number> =>
  db.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes').then((r) => Number(r.rows[0]?.bytes));

/** `ensureBenchDatabase`, saying what it does: reusing the database, or how long seeding took. */
export async function prepareBenchDatabase({ name, targetBytes }: BenchDatabaseSpec, options: { fresh: boolean }): Promise<BenchDatabase> {
  console.log(`database ${name}: ensuring at least ${(targetBytes / GiB).toFixed(2)} GiB…`);
  const database = await ensureBenchDatabase(name, targetBytes, options);
  const size = `${database.bytes} bytes (${(database.bytes / GiB).toFixed(2)} GiB)`;
  console.log(database.seededMs === undefined ? `  reusing it: ${size} (--fresh to re-seed)` : `  seeded ${size} in ${seconds(database.seededMs)} s`);
  return database;
}

/** Creates (or with `fresh`, re-creates) the database and fills it until it is at least `targetBytes`. */
export async function ensureBenchDatabase(name: string, targetBytes: number, { fresh }: { fresh: boolean }): Promise<BenchDatabase> {
  const exists = await withClient('postgres', async (admin) => {
    if (fresh) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return found.rowCount !== 0;
  });
  return withClient(name, async (db) => {
    const sizeBefore = exists ? await databaseSize(db) : 0;
    if (sizeBefore >= targetBytes) return { name, bytes: sizeBefore };

    const started = performance.now();
    await db.query('SET synchronous_commit = off');
    await db.query(SCHEMA_SQL);
    await seedDocumentsAndChunks(db, targetBytes);
    const batchRows = Math.max(100_000, Math.round(targetBytes / 20 / BODY_ROW_BYTES));
    let bytes = await databaseSize(db);
    while (bytes < targetBytes) {
      const missingRows = Math.ceil((targetBytes - bytes) / BODY_ROW_BYTES);
      await db.query(
        `INSERT INTO bodies (body)
         SELECT md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text)
         FROM generate_series(1, $1::int)`,
        [Math.min(batchRows, missingRows + 1000)],
      );
      bytes = await databaseSize(db);
    }
    // Hint bits and statistics now, so no timed dump pays for them.
    await db.query('VACUUM (ANALYZE)');
    bytes = await databaseSize(db);
    return { name, bytes, seededMs: performance.now() - started };
  });
}

/** Documents with 4 chunks each (text + an 8-float embedding), about a sixth of the target; all or nothing. */
async function seedDocumentsAndChunks(db: pg.Client, targetBytes: number): Promise<void> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM documents');
  if (Number(rows[0]?.n) > 0) return;
  const documents = Math.round((targetBytes / GiB) * 250_000);
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO documents (id, title, source_uri, metadata)
     SELECT g, 'Document ' || g, 's3://docs/' || g || '.pdf', jsonb_build_object('pages', 1 + g % 40, 'lang', 'en')
     FROM generate_series(1, $1::int) g`,
    [documents],
  );
  await db.query(
    `INSERT INTO chunks (document_id, ord, content, embedding)
     SELECT d, o, 'chunk ' || o || ' of document ' || d || ': ' || md5(random()::text) || md5(random()::text),
            ARRAY[random(), random(), random(), random(), random(), random(), random(), random()]::real[]
     FROM generate_series(1, $1::int) d, generate_series(0, 3) o`,
    [documents],
  );
  await db.query('COMMIT');
}

/** Reads every table once, so each timed dump finds the data in the OS page cache. */
export async function warmPageCache(name: string): Promise<void> {
  await withClient(name, async (db) => {
    for (const table of ['documents', 'chunks', 'bodies']) await db.query(`SELECT count(*) FROM ${table}`);
  });
}

/** Flushes dirty buffers now, so a timed run does not inherit a checkpoint the previous one caused. */
export async function checkpoint(): Promise<void> {
  await withClient('postgres', (admin) => admin.query('CHECKPOINT'));
}

/** Drops a database the benchmark created, if it is still there (connections are closed first). */
export async function dropDatabaseIfExists(name: string): Promise<boolean> {
  return withClient('postgres', async (admin) => {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) return false;
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    return true;
  });
}
