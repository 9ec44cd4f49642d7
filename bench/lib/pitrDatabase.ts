// The data of the point-in-time benchmark, in a cluster that archives its WAL: a `bulk` table
// of random md5 text (which gzip halves, no better) split by id range into partitions of
// equal row counts, filled to a size; 1 % slices of it rewritten by id range; and a wait
// until the archiver has pushed every WAL segment written so far.
//
// pgBackRest 2.45's incrementals are file-level: a relation file (a segment of up to 1 GiB)
// that changed is copied whole. How much of the database a 1 % change touches depends on how
// many files the changed rows live in, hence the partitions (one file each at these sizes).
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';

/** 128 characters of hex: four md5s of random numbers. */
const RANDOM_BODY = 'md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text)';
const CALIBRATION_ROWS = 20_000;
/** Rows per INSERT, so a large partition does not become one huge transaction. */
const INSERT_ROWS = 250_000;

export interface BulkTable {
  rows: number;
  partitions: number;
  rowsPerPartition: number;
  /** pg_database_size of the database once filled, vacuumed and checkpointed. */
  databaseBytes: number;
  fillMs: number;
}

export const databaseSize = (client: pg.Client): Promise<number> =>
  client.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes').then((r) => Number(r.rows[0]!.bytes));

/** Bytes a row of `bulk` takes on disk, heap and primary key, measured on a sample. */
async function bytesPerRow(client: pg.Client): Promise<number> {
  await client.query('CREATE TEMP TABLE bulk_sample (id bigint PRIMARY KEY, body text NOT NULL)');
  try {
    await client.query(`INSERT INTO bulk_sample SELECT g, ${RANDOM_BODY} FROM generate_series(1, ${CALIBRATION_ROWS}) g`);
    const { rows } = await client.query<{ bytes: string }>("SELECT pg_total_relation_size('bulk_sample') AS bytes");
    return Number(rows[0]!.bytes) / CALIBRATION_ROWS;
  } finally {
    await client.query('DROP TABLE bulk_sample');
  }
}

/**
 * Creates `bulk` with `partitions` range partitions of equal row counts (1: a plain table) and
 * fills it until the database is about `targetBytes`; then VACUUM (FREEZE, ANALYZE), so no
 * autovacuum rewrites pages between the backups, and a checkpoint.
 */
export async function fillBulkTable(client: pg.Client, targetBytes: number, partitions: number, onProgress: (done: number, of: number) => void): Promise<BulkTable> {
  const started = performance.now();
  const perRow = await bytesPerRow(client);
  const missing = Math.max(0, targetBytes - (await databaseSize(client)));
  const rowsPerPartition = Math.max(1, Math.round(missing / perRow / partitions));
  const rows = rowsPerPartition * partitions;
  if (partitions === 1) {
    await client.query('CREATE TABLE bulk (id bigint PRIMARY KEY, body text NOT NULL)');
  } else {
    await client.query('CREATE TABLE bulk (id bigint PRIMARY KEY, body text NOT NULL) PARTITION BY RANGE (id)');
    for (let p = 0; p < partitions; p++) {
      await client.query(`CREATE TABLE bulk_${String(p).padStart(3, '0')} PARTITION OF bulk FOR VALUES FROM (${p * rowsPerPartition + 1}) TO (${(p + 1) * rowsPerPartition + 1})`);
    }
  }
  for (let first = 1; first <= rows; first += INSERT_ROWS) {
    const last = Math.min(rows, first + INSERT_ROWS - 1);
    await client.query(`INSERT INTO bulk SELECT g, ${RANDOM_BODY} FROM generate_series($1::bigint, $2::bigint) g`, [first, last]);
    onProgress(last, rows);
  }
  await client.query('VACUUM (FREEZE, ANALYZE) bulk');
  await client.query('CHECKPOINT');
  return { rows, partitions, rowsPerPartition, databaseBytes: await databaseSize(client), fillMs: performance.now() - started };
}

/** Rewrites every row of the `slice`-th run of `fraction` of the rows (by id), with new random text; returns how many. */
export async function rewriteSlice(client: pg.Client, table: BulkTable, fraction: number, slice: number): Promise<number> {
  const count = Math.max(1, Math.round(table.rows * fraction));
  const first = (slice * count) % table.rows + 1;
  const last = Math.min(table.rows, first + count - 1);
  const result = await client.query(`UPDATE bulk SET body = ${RANDOM_BODY} WHERE id BETWEEN $1 AND $2`, [first, last]);
  return result.rowCount ?? 0;
}

/** Switches the WAL and waits until the archiver has pushed the segment it closed (and so every one before it). */
export async function waitForArchive(client: pg.Client, timeoutMs: number): Promise<void> {
  const { rows } = await client.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment');
  const segment = rows[0]!.segment;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows: archiver } = await client.query<{ last: string | null; failed: string | null; failedCount: string }>(
      'SELECT last_archived_wal AS last, last_failed_wal AS failed, failed_count AS "failedCount" FROM pg_stat_archiver',
    );
    const { last, failed, failedCount } = archiver[0]!;
    if (last !== null && last >= segment) return;
    if (Date.now() > deadline) {
      throw new Error(`WAL segment ${segment} was not archived within ${timeoutMs / 1000} s (last archived ${last ?? 'none'}; ${failedCount} failed, last ${failed ?? 'none'})`);
    }
    await sleep(200);
  }
}
