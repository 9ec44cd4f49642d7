// Re-ingestion sources against real services: a 5,000-chunk PostgreSQL table read by a
// non-superuser role (password by reference) in keyset pages — on the machine's server, and on a
// cluster of the test's own that checks the password (scram) over verified TLS — and the same
// corpus as JSONL objects in moto's S3, streamed line by line and resumed from a checkpoint.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { createSourceActivities, openReingestSource, prefetchedPages, type SourceCheckpoint } from '../src/activities/sources/index.js';
import { openPostgresSource, keysetPageSql } from '../src/activities/sources/postgres.js';
import { linesOf, openS3Source, type S3Position } from '../src/activities/sources/s3.js';
import { postgresTargetSchema, storeSchema, type S3StoreConfig } from '../src/config/stacks/index.js';
import { reingestSchema, type PostgresSource, type S3Source } from '../src/config/stacks/reingest.js';
import { buildCorpus, estimatedTokens, goldenQueries, jsonlLine, loadCorpus, writeCorpusJsonl, type Chunk } from './support/corpus.js';
import { startMoto, s3StoreConfig, type TestMoto } from './support/moto.js';
import { startPgCluster, type PgCluster } from './support/pgcluster.js';
import { tempDir } from './support/ragops.js';

type Failure = Error & { nonRetryable?: boolean; type?: string };
async function failure(attempt: Promise<unknown>): Promise<Failure> {
  return attempt.then(
    () => assert.fail('it succeeded'),
    (error: unknown) => error as Failure,
  );
}

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' } as const;
const corpus: Chunk[] = buildCorpus(5000);

function parseSections(sources: Record<string, unknown>) {
  return reingestSchema.parse({ sources, golden: goldenQueries(corpus, 5), gate: { k: 10, minRecall: 0.9 } });
}

describe('the test corpus', () => {
  test('5,000 distinct chunks of 300–600 characters, the same every time, with golden queries found in exactly one chunk', () => {
    assert.equal(corpus.length, 5000);
    assert.deepEqual(corpus.map((c) => c.id), Array.from({ length: 5000 }, (_, i) => i + 1));
    for (const chunk of corpus) {
      assert.ok(chunk.text.length >= 300 && chunk.text.length <= 600, `chunk ${chunk.id} is ${chunk.text.length} characters`);
      // The test embedding server refuses inputs over 256 tokens: every chunk stays well under.
      assert.ok(estimatedTokens(chunk.text) <= 180, `chunk ${chunk.id} may be ${estimatedTokens(chunk.text)} tokens`);
    }
    assert.equal(new Set(corpus.map((c) => c.text)).size, 5000);
    const golden = goldenQueries(corpus);
    assert.equal(golden.length, 20);
    for (const { query, expect } of golden) {
      const holders = corpus.filter((c) => c.text.toLowerCase().includes(query.toLowerCase())).map((c) => c.id);
      assert.deepEqual(holders, expect, query);
    }
    assert.deepEqual(goldenQueries(corpus), golden, 'deterministic');
  });
});

describe('reingest source: PostgreSQL', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `ragops_reingest_test_${suffix}`;
  const role = `ragops_reingest_reader_${suffix}`;
  let admin: pg.Client;
  let db: pg.Client;
  let source: PostgresSource;
  const target = () =>
    postgresTargetSchema.parse({ name: 'app', ...PG, database, user: role, password: { env: 'REINGEST_TEST_PG_PASSWORD' } });

  before(async () => {
    process.env.REINGEST_TEST_PG_PASSWORD = `pw-${suffix}`;
    admin = new pg.Client({ ...PG, database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER PASSWORD '${process.env.REINGEST_TEST_PG_PASSWORD}'`);
    db = new pg.Client({ ...PG, database });
    await db.connect();
    await loadCorpus(db, corpus);
    await db.query(`GRANT SELECT ON chunks TO ${role}`);
    await db.query('CREATE SEQUENCE s');
    await db.query('CREATE TABLE secret (LIKE chunks)');
    await db.query(`GRANT USAGE ON SEQUENCE s TO ${role}`);
    source = parseSections({
      chunks: {
        postgres: 'app',
        query: 'SELECT id, text, document_id, updated_at FROM chunks',
        key: 'id',
        text: 'text',
        payload: ['document_id', 'updated_at'],
        updatedAt: 'updated_at',
      },
    }).sources['chunks'] as PostgresSource;
  });

  after(async () => {
    await db?.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.end();
  });

  test('the page SQL is the declared query as a subquery, keyset by the key, names quoted', () => {
    assert.equal(
      keysetPageSql(source, { after: true }),
      'SELECT source.*, source."id"::text AS ragops_source_key FROM (SELECT id, text, document_id, updated_at FROM chunks) AS source WHERE source."id" > $1 ORDER BY source."id" LIMIT $2',
    );
    assert.match(keysetPageSql(source, { after: true, since: true }), /WHERE source\."updated_at" > \$1 AND source\."id" > \$2 ORDER BY source\."id" LIMIT \$3$/);
    assert.throws(() => keysetPageSql({ ...source, key: 'id; DROP TABLE chunks' }, { after: true }), /not a column name/);
  });

  test('keyset pages read all 5,000 rows exactly once, in key order, as the non-superuser role', async () => {
    const reader = await openPostgresSource(target(), source, 'chunks');
    try {
      const seen: number[] = [];
      let after: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await reader.page(after, 317);
        pages += 1;
        for (const row of page.rows) {
          const chunk = corpus[Number(row.key) - 1]!;
          assert.equal(row.text, chunk.text);
          assert.deepEqual(row.payload, { document_id: chunk.documentId, updated_at: chunk.updatedAt });
          seen.push(Number(row.key));
        }
        if (page.done) break;
        after = page.lastKey;
      }
      assert.equal(pages, Math.ceil(5000 / 317));
      assert.equal(seen.length, 5000);
      assert.deepEqual(seen, Array.from({ length: 5000 }, (_, i) => i + 1));
      assert.deepEqual(await reader.count(), { rows: 5000, nullKeys: 0, duplicateKeys: 0 });
    } finally {
      await reader.close();
    }
    const { rows } = await admin.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [role]);
    assert.equal(rows[0]?.rolsuper, false);
  });

  test('a resumed read starts right after the checkpointed key; keys travel as text', async () => {
    const reader = await openReingestSource('chunks', source, { postgres: target() });
    try {
      const resumed = await reader.page({ kind: 'postgres', lastKey: '2500' }, 100);
      assert.deepEqual(resumed.rows.map((r) => r.key), Array.from({ length: 100 }, (_, i) => String(2501 + i)));
      assert.deepEqual(resumed.checkpoint, { kind: 'postgres', lastKey: '2600' });
      const end = await reader.page({ kind: 'postgres', lastKey: '4990' }, 100);
      assert.equal(end.rows.length, 10);
      assert.equal(end.done, true);
      const none = await reader.page({ kind: 'postgres', lastKey: '5000' }, 100);
      assert.deepEqual({ ...none, snapshotAt: undefined }, { rows: [], checkpoint: { kind: 'postgres', lastKey: '5000' }, done: true, snapshotAt: undefined });
      assert.match((await failure(reader.page({ kind: 's3', position: { object: 'x', etag: undefined, byte: 0, line: 0, complete: false } }, 10))).message, /a s3 checkpoint cannot resume it/);
    } finally {
      await reader.close();
    }
  });

  test('catch-up: rows updated after the first page are read again, by updated_at', async () => {
    const reader = await openPostgresSource(target(), source, 'chunks');
    try {
      const first = await reader.page(undefined, 50);
      await db.query(`UPDATE chunks SET text = text || ' (revised)', updated_at = now() WHERE id IN (10, 4000)`);
      const changed = await reader.catchUpPage(first.snapshotAt, undefined, 100);
      assert.deepEqual(changed.rows.map((r) => r.key), ['10', '4000']);
      assert.ok(changed.rows.every((r) => r.text.endsWith(' (revised)')));
      assert.equal(changed.done, true);
      const afterKey = await reader.catchUpPage(first.snapshotAt, '10', 100);
      assert.deepEqual(afterKey.rows.map((r) => r.key), ['4000']);
    } finally {
      await reader.close();
      await db.query(`UPDATE chunks SET text = replace(text, ' (revised)', '') WHERE id IN (10, 4000)`);
    }
    const noUpdatedAt = await openPostgresSource(target(), { ...source, updatedAt: undefined }, 'chunks');
    try {
      assert.match((await failure(noUpdatedAt.catchUpPage('2026-01-01T00:00:00Z', undefined, 10))).message, /declares no updatedAt column/);
    } finally {
      await noUpdatedAt.close();
    }
  });

  test('pages read ahead: every row once, the next page read while the caller works on this one', async () => {
    const reader = await openReingestSource('chunks', source, { postgres: target() });
    try {
      const seen: string[] = [];
      let reads = 0;
      const counting = { page: (from: SourceCheckpoint | undefined, limit: number) => (reads++, reader.page(from, limit)) };
      for await (const page of prefetchedPages(counting, { kind: 'postgres', lastKey: '3000' }, 400)) {
        // The next read is already under way while this page is handled.
        assert.equal(reads, page.done ? seen.length / 400 + 1 : seen.length / 400 + 2);
        seen.push(...page.rows.map((r) => String(r.key)));
      }
      assert.deepEqual(seen, Array.from({ length: 2000 }, (_, i) => String(3001 + i)));
      // Stopping early leaves no unhandled read behind, and the reader serves the next call in its own transaction.
      for await (const page of prefetchedPages(reader, undefined, 10)) if (page.rows.length > 0) break;
      const [a, b] = await Promise.all([reader.page({ kind: 'postgres', lastKey: '10' }, 5), reader.page({ kind: 'postgres', lastKey: '20' }, 5)]);
      assert.deepEqual([a.rows.map((r) => r.key), b.rows.map((r) => r.key)], [['11', '12', '13', '14', '15'], ['21', '22', '23', '24', '25']]);
    } finally {
      await reader.close();
    }
  });

  test('through the one reader of both kinds: the catch-up pass, and the count as an activity', async () => {
    const reader = await openReingestSource('chunks', source, { postgres: target() });
    try {
      const first = await reader.page(undefined, 10);
      assert.ok(first.snapshotAt && !Number.isNaN(Date.parse(first.snapshotAt)));
      await db.query(`UPDATE chunks SET updated_at = now() WHERE id = 4321`);
      const changed = await reader.catchUpPage!(first.snapshotAt!, undefined, 10);
      assert.deepEqual(changed.rows.map((r) => r.key), ['4321']);
      assert.deepEqual(changed.checkpoint, { kind: 'postgres', lastKey: '4321' });
    } finally {
      await reader.close();
    }
    const frozen = await openReingestSource('chunks', { ...source, updatedAt: undefined }, { postgres: target() });
    assert.equal(frozen.catchUpPage, undefined, 'no updatedAt: no catch-up pass');
    await frozen.close();
    const counted = await new MockActivityEnvironment().run(createSourceActivities().countReingestSource, { name: 'chunks', source, postgres: target() });
    assert.deepEqual(counted, { rows: 5000, nullKeys: 0, duplicateKeys: 0 });
    const noTarget = await failure(new MockActivityEnvironment().run(createSourceActivities().countReingestSource, { name: 'chunks', source }));
    assert.match(noTarget.message, /source "chunks" reads PostgreSQL "app", and no such database target was given/);
  });

  test('a bad query, a missing column or a NULL text fails at once, naming the source and what to fix', async () => {
    const check = async (override: Partial<PostgresSource>, pattern: RegExp, page = (r: Awaited<ReturnType<typeof openPostgresSource>>) => r.page(undefined, 10)) => {
      const reader = await openPostgresSource(target(), { ...source, ...override }, 'chunks');
      try {
        const error = await failure(page(reader));
        assert.equal(error.nonRetryable, true, error.message);
        assert.match(error.message, pattern);
      } finally {
        await reader.close();
      }
    };
    await check({ query: 'SELECT id, body FROM chunks' }, /source "chunks" in PostgreSQL app \(127\.0\.0\.1:5432\/ragops_reingest_test_\w+\): reading the page after key \(start\): column "body" does not exist \(SQLSTATE 42703/);
    await check({ query: 'SELECT id, text FROM chunks' }, /the query returns no column "document_id" \(its payload column\); it returns id, text/);
    await check({ query: "SELECT id, CASE WHEN id = 3 THEN NULL ELSE text END AS text, document_id, updated_at FROM chunks" }, /the row with key 3 has NULL in its text column "text"/);
    await check({ query: 'SELECT id, text, document_id, updated_at, nextval(\'s\') AS n FROM chunks' }, /read-only transaction.*SQLSTATE 25006/);
    await check({ query: 'SELECT * FROM secret' }, /permission denied.*SQLSTATE 42501: the stack's role may not read it/);
    await check({}, /SQLSTATE 22P02/, (r) => r.page('not-a-number', 10));
  });

  test('NULL and duplicate keys are counted, so the plan can refuse a source keyset pages would miss rows of', async () => {
    const reader = await openPostgresSource(target(), { ...source, query: 'SELECT CASE WHEN id <= 5 THEN NULL ELSE id % 1000 END AS id, text, document_id, updated_at FROM chunks' }, 'chunks');
    try {
      assert.deepEqual(await reader.count(), { rows: 5000, nullKeys: 5, duplicateKeys: 5000 - 5 - 1000 });
    } finally {
      await reader.close();
    }
  });

  test('names are checked before connecting', async () => {
    const error = await failure(openPostgresSource(target(), { ...source, payload: ['document_id', 'x"y'] }, 'chunks'));
    assert.equal(error.nonRetryable, true);
    assert.match(error.message, /payload column "x"y" is not a column name/);
  });
});

describe('reingest source: PostgreSQL with scram-sha-256 over verified TLS', () => {
  // The machine's server trusts loopback, so a password there proves nothing: this cluster checks it.
  let cluster: PgCluster;
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    [cluster, dir] = await Promise.all([startPgCluster(), tempDir('reingest-pg')]);
    const admin = await cluster.connect();
    await admin.query(`CREATE ROLE reader LOGIN NOSUPERUSER PASSWORD 'reader-secret'`);
    await admin.query('CREATE DATABASE app');
    await admin.end();
    const app = await cluster.connect('app');
    await loadCorpus(app, corpus.slice(0, 1000));
    await app.query('GRANT SELECT ON chunks TO reader');
    await app.end();
    await writeFile(join(dir.path, 'pw'), 'reader-secret\n');
    await writeFile(join(dir.path, 'wrong'), 'not-it\n');
  });
  after(async () => {
    await Promise.allSettled([cluster?.stop(), dir?.remove()]);
  });

  const source = (): PostgresSource => ({ kind: 'postgres', postgres: 'app', query: 'SELECT id, text FROM chunks', key: 'id', text: 'text', payload: [] });
  const target = (passwordFile: string) =>
    postgresTargetSchema.parse({ name: 'app', host: '127.0.0.1', port: cluster.port, database: 'app', user: 'reader', password: { file: join(dir.path, passwordFile) }, sslmode: 'verify-full', sslrootcert: cluster.caFile });

  test('the password from a file reference and verify-full TLS: pages read', async () => {
    const reader = await openPostgresSource(target('pw'), source(), 'chunks');
    try {
      const page = await reader.page('990', 100);
      assert.deepEqual(page.rows.map((r) => r.key), ['991', '992', '993', '994', '995', '996', '997', '998', '999', '1000']);
      assert.equal(page.done, true);
    } finally {
      await reader.close();
    }
  });

  test('a wrong password fails at once, naming the reference to check, never the password', async () => {
    const error = await failure(openPostgresSource(target('wrong'), source(), 'chunks'));
    assert.equal(error.nonRetryable, true);
    assert.equal(error.type, 'AuthenticationFailed');
    assert.match(error.message, /cannot connect to PostgreSQL app at 127\.0\.0\.1:\d+\/app as reader: authentication failed/);
    assert.doesNotMatch(error.message, /not-it|reader-secret/);
  });
});

describe('reingest source: S3 JSONL', () => {
  let moto: TestMoto;
  let store: S3StoreConfig;
  const bucket = 'reingest-source';
  const sourceAt = (prefix: string, extra: Record<string, unknown> = {}) =>
    parseSections({ chunks: { s3: { bucket, prefix, ...extra }, payload: ['document_id', 'updated_at'] } }).sources['chunks'] as S3Source;

  before(async () => {
    moto = await startMoto();
    process.env.REINGEST_TEST_S3_KEY = moto.accessKeyId;
    process.env.REINGEST_TEST_S3_SECRET = moto.secretAccessKey;
    store = storeSchema.parse(s3StoreConfig(moto, bucket, 'backups/', { accessKeyId: 'REINGEST_TEST_S3_KEY', secretAccessKey: 'REINGEST_TEST_S3_SECRET' })) as S3StoreConfig;
    await moto.createBucket(bucket);
    await writeCorpusJsonl(moto.s3, bucket, 'corpus/', corpus, 1000);
    // A folder marker and an empty object are passed over.
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'corpus/', Body: '' }));
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'corpus/part-00000-empty.jsonl', Body: '' }));
  });
  after(() => moto?.stop());

  test('lines are split at newlines across chunk boundaries, UTF-8 intact, byte offsets exact', async () => {
    const text = '{"a":"grüße"}\r\n\n{"b":"日本"}\n{"c":1}';
    const bytes = Buffer.from(text);
    const pieces = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    const lines = [];
    for await (const line of linesOf(Readable.from(pieces), 100)) lines.push([line.bytes.toString(), line.endByte]);
    const first = Buffer.byteLength('{"a":"grüße"}\r\n');
    assert.deepEqual(lines, [
      ['{"a":"grüße"}\r', 100 + first],
      ['', 101 + first],
      ['{"b":"日本"}', 101 + first + Buffer.byteLength('{"b":"日本"}\n')],
      ['{"c":1}', 100 + bytes.length],
    ]);
    await assert.rejects(async () => {
      for await (const _ of linesOf(Readable.from([Buffer.alloc(50, 65)]), 0, 10)) void _;
    }, /more than 10 bytes/);
  });

  test('pages stream every object under the prefix in key order: 5,000 rows exactly once, settings borrowed from the S3 store', async () => {
    const reader = await openReingestSource('chunks', sourceAt('corpus/'), { store });
    try {
      const seen: number[] = [];
      let from: SourceCheckpoint | undefined;
      for (;;) {
        const page = await reader.page(from, 700);
        for (const row of page.rows) {
          const chunk = corpus[(row.key as number) - 1]!;
          assert.equal(row.text, chunk.text);
          assert.deepEqual(row.payload, { document_id: chunk.documentId, updated_at: chunk.updatedAt });
          seen.push(row.key as number);
        }
        from = page.checkpoint;
        if (page.done) break;
      }
      assert.deepEqual(seen, Array.from({ length: 5000 }, (_, i) => i + 1));
      assert.deepEqual(await reader.count(), { rows: 5000, nullKeys: 0, duplicateKeys: 0 });
    } finally {
      await reader.close();
    }
  });

  test('a retried read resumes right after the checkpoint (mid-object, with a ranged read), and at an object end moves on', async () => {
    const source = sourceAt('corpus/', { endpoint: moto.endpoint, forcePathStyle: true, accessKeyId: { env: 'REINGEST_TEST_S3_KEY' }, secretAccessKey: { env: 'REINGEST_TEST_S3_SECRET' } });
    const first = await openS3Source(source, undefined, 'chunks');
    let checkpoint: S3Position | undefined;
    try {
      const page = await first.page(undefined, 1500);
      checkpoint = page.position;
    } finally {
      first.close();
    }
    assert.equal(checkpoint?.object, 'corpus/part-00002.jsonl');
    assert.equal(checkpoint?.line, 500);
    const object = await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'corpus/part-00002.jsonl' }));
    const lines = (await object.Body!.transformToString()).split('\n');
    assert.equal(checkpoint?.byte, Buffer.byteLength(lines.slice(0, 500).join('\n')) + 1);

    // A new reader, as a retried activity on another worker would open.
    const second = await openS3Source(source, undefined, 'chunks');
    try {
      const resumed = await second.page(checkpoint, 10);
      assert.deepEqual(resumed.rows.map((r) => r.key), Array.from({ length: 10 }, (_, i) => 1501 + i));
      const atEnd = await second.page({ ...checkpoint!, byte: Buffer.byteLength(lines.join('\n')), line: 1000 }, 3);
      assert.deepEqual(atEnd.rows.map((r) => r.key), [2001, 2002, 2003]);
      assert.equal(atEnd.position?.object, 'corpus/part-00003.jsonl');
    } finally {
      second.close();
    }
  });

  test('an object that changed since the checkpoint is refused, not misread', async () => {
    const prefix = 'changing/';
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}a.jsonl`, Body: corpus.slice(0, 20).map((c) => `${jsonlLine(c)}\n`).join('') }));
    const reader = await openS3Source(sourceAt(prefix), store, 'chunks');
    try {
      const page = await reader.page(undefined, 5);
      await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}a.jsonl`, Body: corpus.slice(100, 120).map((c) => `${jsonlLine(c)}\n`).join('') }));
      const error = await failure(reader.page(page.position, 5));
      assert.equal(error.type, 'SourceChanged');
      assert.match(error.message, /s3:\/\/reingest-source\/changing\/a\.jsonl changed after this run began reading it/);
    } finally {
      reader.close();
    }
  });

  test('a malformed line fails naming the object and the line; blank lines, CRLF and a last line without newline are fine', async () => {
    const prefix = 'malformed/';
    const good = corpus.slice(0, 3).map(jsonlLine);
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}1.jsonl`, Body: `${good[0]}\r\n\n${good[1]}\r\n${good[2]}` }));
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}2.jsonl`, Body: `${jsonlLine(corpus[3]!)}\n${jsonlLine(corpus[4]!)}\n{"id": 6, "text": "cut short\n` }));
    const reader = await openS3Source(sourceAt(prefix), store, 'chunks');
    try {
      const page = await reader.page(undefined, 5);
      assert.deepEqual(page.rows.map((r) => r.key), [1, 2, 3, 4, 5]);
      const error = await failure(reader.page(page.position, 5));
      assert.equal(error.nonRetryable, true);
      assert.equal(error.type, 'SourceRowInvalid');
      assert.match(error.message, /^source "chunks" \(s3:\/\/reingest-source\/malformed\/\): s3:\/\/reingest-source\/malformed\/2\.jsonl line 3 \(byte \d+\): not valid JSON/);
    } finally {
      reader.close();
    }
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'nokey/1.jsonl', Body: '{"id": 1, "text": "x"}\n{"text": "no id"}\n' }));
    const noKey = await openS3Source(sourceAt('nokey/'), store, 'chunks');
    try {
      assert.match((await failure(noKey.count())).message, /nokey\/1\.jsonl line 2 \(byte 23\): its key "id" is missing/);
    } finally {
      noKey.close();
    }
  });

  test('a missing bucket fails at once', async () => {
    const reader = await openS3Source({ ...sourceAt('x/'), s3: { ...sourceAt('x/').s3, bucket: 'no-such-bucket' } }, store, 'chunks');
    try {
      const error = await failure(reader.page(undefined, 1));
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /source "chunks" \(s3:\/\/no-such-bucket\/x\/\): listing objects: NoSuchBucket/);
    } finally {
      reader.close();
    }
  });
});
