// A benchmark database of a given size (pg_database_size, indexes included), kept between
// runs: a RAG-like documents/chunks pair with realistic indexes (benchIndexes.ts) plus a
// bulk `bodies` table topped up until the size is reached.
import pg from 'pg';
import { PG } from '../../test/support/postgres.js';
import { BTREE_SQL, ensureTrigramIndex, MIN_TRIGRAM_BUILD_MS, readTrigramIndex, TRIGRAM_INDEX, type TrigramIndex } from './benchIndexes.js';
import { megabytes, seconds } from './textTable.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export interface BenchDatabase {
  name: string;
  bytes: number;
  /** How long seeding took, when this run seeded (or topped up) the database. */
  seededMs?: number;
  trigramIndex: TrigramIndex;
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

const BODY_ROW_BYTES = 200; // 128-char text + tuple header + id + two index entries, roughly
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
  const { buildMs, bytes } = database.trigramIndex;
  const short = buildMs < MIN_TRIGRAM_BUILD_MS ? ` — under the ${seconds(MIN_TRIGRAM_BUILD_MS)} s it is sized for on a full-size database` : '';
  console.log(`  GIN trigram index ${TRIGRAM_INDEX}: ${megabytes(bytes)} MB, built in ${seconds(buildMs)} s when seeded${short}`);
  return database;
}

/**
 * Creates the database and fills it until it is at least `targetBytes`. It is re-created
 * with `fresh`, and when it lacks the GIN index (an older layout, or seeding stopped before
 * the index was built); a database interrupted later is topped up.
 */
export async function ensureBenchDatabase(name: string, targetBytes: number, { fresh }: { fresh: boolean }): Promise<BenchDatabase> {
  const existing = fresh ? undefined : await readTrigramIndexOf(name);
  if (!existing) {
    await withClient('postgres', async (admin) => {
      const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount !== 0 && !fresh) console.log(`  ${name} has no recorded ${TRIGRAM_INDEX} (an older layout, or seeding was interrupted): re-seeding it`);
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    });
  }
  return withClient(name, async (db) => {
    const sizeBefore = existing ? await databaseSize(db) : 0;
    if (existing && sizeBefore >= targetBytes) return { name, bytes: sizeBefore, trigramIndex: existing };

    const started = performance.now();
    await db.query('SET synchronous_commit = off');
    await db.query(SCHEMA_SQL);
    await db.query(BTREE_SQL);
    await seedDocumentsAndChunks(db, targetBytes);
    const trigramIndex = await ensureTrigramIndex(db);
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
    return { name, bytes, seededMs: performance.now() - started, trigramIndex };
  });
}

/** The GIN index of database `name` with its recorded build time; undefined when either is missing. */
async function readTrigramIndexOf(name: string): Promise<TrigramIndex | undefined> {
  const found = await withClient('postgres', (admin) => admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]));
  return found.rowCount === 0 ? undefined : withClient(name, readTrigramIndex);
}

/**
 * Documents with 4 chunks each (about 150 characters of text + an 8-float embedding); all or
 * nothing. At 1 GiB: 250k documents and 1M chunks, 290 MB of tables and 400 MB of indexes,
 * 308 MB of them the GIN index, whose build took 57 s on an idle 2-core machine (the one the
 * benchmark was sized on) and twice that while tests ran beside it.
 */
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
     SELECT d, o, 'chunk ' || o || ' of document ' || d || ': '
                  || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text),
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
