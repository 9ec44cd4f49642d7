// The bench database's indexes beyond its primary keys, as a RAG application has them: a
// secondary btree on every table and a GIN trigram index (pg_trgm) on the chunks' text, the
// slow one a restore rebuilds. The GIN index is built once the chunks are loaded, timed
// alone, and its build time is kept as the index's comment, so a reused database reports it.
import type pg from 'pg';

export const TRIGRAM_INDEX = 'chunks_content_trgm';
/** What the GIN build should take at the full size, so restores have a realistic index build to wait for. */
export const MIN_TRIGRAM_BUILD_MS = 30_000;

export interface TrigramIndex {
  /** CREATE INDEX wall time when the database was seeded (server defaults: maintenance_work_mem as pg_restore gets it). */
  buildMs: number;
  bytes: number;
}

/** Before the chunks are loaded: the extension, and the btrees that are cheap to keep up while inserting. */
export const BTREE_SQL = `
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX IF NOT EXISTS documents_source_uri ON documents (source_uri);
  CREATE INDEX IF NOT EXISTS bodies_body_prefix ON bodies (left(body, 16));`;
// chunks' secondary btree is its UNIQUE (document_id, ord), which also serves the foreign key.

/** Builds the GIN trigram index on chunks.content if it is missing, timing the build; returns the index either way. */
export async function ensureTrigramIndex(db: pg.Client): Promise<TrigramIndex> {
  const existing = await readTrigramIndex(db);
  if (existing) return existing;
  const started = performance.now();
  await db.query(`CREATE INDEX ${TRIGRAM_INDEX} ON chunks USING gin (content gin_trgm_ops)`);
  const buildMs = Math.round(performance.now() - started);
  await db.query(`COMMENT ON INDEX ${TRIGRAM_INDEX} IS '${JSON.stringify({ buildMs })}'`);
  const built = await readTrigramIndex(db);
  if (!built) throw new Error(`${TRIGRAM_INDEX} not found right after CREATE INDEX`);
  return built;
}

/** The GIN index and its recorded build time, or undefined when it is missing or has no recorded time. */
export async function readTrigramIndex(db: pg.Client): Promise<TrigramIndex | undefined> {
  const { rows } = await db.query<{ comment: string | null; bytes: string }>(
    `SELECT obj_description(c.oid, 'pg_class') AS comment, pg_relation_size(c.oid) AS bytes
     FROM pg_class c WHERE c.relname = $1 AND c.relkind = 'i'`,
    [TRIGRAM_INDEX],
  );
  const row = rows[0];
  if (!row?.comment) return undefined;
  let buildMs = NaN;
  try {
    buildMs = Number((JSON.parse(row.comment) as { buildMs?: unknown }).buildMs);
  } catch {
    // Not a comment this benchmark wrote.
  }
  return Number.isFinite(buildMs) ? { buildMs, bytes: Number(row.bytes) } : undefined;
}
