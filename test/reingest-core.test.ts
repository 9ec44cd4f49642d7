// The pure side of `reingest`: names, point ids, the config clone, the gate and progress figures.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Schemas } from '@qdrant/js-client-rest';
import {
  cloneCollectionConfig,
  collectionMismatches,
  countParity,
  formatEta,
  isReingestCollection,
  judgeGate,
  overlapAtK,
  pointIdOf,
  progressOf,
  recallAtK,
  reingestCollectionName,
  sha1,
  utf8,
  uuidV5,
} from '../src/core/reingest.js';
import { reingestReferenceIssues, reingestSchema } from '../src/config/stacks/reingest.js';
import { isOwnedCollection } from '../src/core/runNames.js';

describe('names', () => {
  test('the new collection is named after the alias and the run tag, and is recognised as ragops-owned', () => {
    const name = reingestCollectionName('docs', 'a1b2c3d4');
    assert.equal(name, 'ragops_reingest_a1b2c3d4_docs');
    assert.equal(isReingestCollection(name), true);
    assert.equal(isOwnedCollection(name), false, 'drill scratch collections are another pattern');
  });
  test('a bad tag or alias is refused; a long alias is cut to 255 characters', () => {
    assert.throws(() => reingestCollectionName('docs', 'ABC'), /not a run tag/);
    assert.throws(() => reingestCollectionName('docs/../x', 'a1b2c3d4'), /not an alias name/);
    assert.throws(() => reingestCollectionName('', 'a1b2c3d4'), /not an alias name/);
    assert.equal(reingestCollectionName('a'.repeat(300), 'a1b2c3d4').length, 255);
  });
  test('user collections and drill collections are not reingest-owned', () => {
    for (const name of ['docs', 'docs_v1', 'ragops_reingest_docs', 'ragops_reingest_A1B2C3D4_docs', 'ragops_drill_a1b2c3d4_docs_x', 'xragops_reingest_a1b2c3d4_docs']) {
      assert.equal(isReingestCollection(name), false, name);
    }
  });
});

describe('point ids', () => {
  test('sha1 matches node:crypto on empty, short, multi-block and non-ASCII input', () => {
    for (const text of ['', 'abc', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'q'.repeat(1000), 'grüße 😀 日本']) {
      const bytes = utf8(text);
      assert.deepEqual(Buffer.from(bytes), Buffer.from(text, 'utf8'), `utf8 of ${text.slice(0, 10)}`);
      assert.equal(Buffer.from(sha1(bytes)).toString('hex'), createHash('sha1').update(text).digest('hex'), `sha1 of ${text.slice(0, 10)}`);
    }
  });
  test('uuidV5 gives the RFC 4122 / Python uuid5 answer', () => {
    // python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com'))"
    assert.equal(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com'), '2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });
  test('integer keys are the point id; their decimal spelling too (node-pg returns bigint as text)', () => {
    assert.equal(pointIdOf(0), 0);
    assert.equal(pointIdOf(1042), 1042);
    assert.equal(pointIdOf('1042'), 1042);
    assert.equal(pointIdOf(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  });
  test('other keys get a deterministic UUID, never an integer, and distinct keys distinct ids', () => {
    const keys = ['doc-1#0', 'doc-1#1', '01', '-5', '18446744073709551615', '1.5', 'Ünïcode', ''];
    const ids = keys.map(pointIdOf);
    for (const id of ids) assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(ids).size, keys.length);
    assert.deepEqual(keys.map(pointIdOf), ids, 'the same keys give the same ids again');
    assert.equal(typeof pointIdOf(-5), 'string');
    assert.equal(pointIdOf(-5), pointIdOf('-5'));
    assert.throws(() => pointIdOf(Number.NaN), /not a usable key/);
  });
});

const info = (config: Partial<Schemas['CollectionConfig']> & { vectors: Schemas['VectorsConfig'] }, payloadSchema: Schemas['CollectionInfo']['payload_schema'] = {}): Schemas['CollectionInfo'] => ({
  status: 'green',
  optimizer_status: 'ok',
  segments_count: 1,
  points_count: 10,
  config: {
    params: { vectors: config.vectors, shard_number: 2, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true },
    hnsw_config: config.hnsw_config ?? { m: 32, ef_construct: 200, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false, payload_m: null },
    optimizer_config: config.optimizer_config ?? {
      deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, max_segment_size: null,
      memmap_threshold: null, indexing_threshold: 20000, flush_interval_sec: 5, max_optimization_threads: null,
    },
    wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
    quantization_config: config.quantization_config ?? null,
    strict_mode_config: { enabled: false },
  },
  payload_schema: payloadSchema,
});

describe('cloneCollectionConfig', () => {
  test('a single vector with HNSW, quantization, optimizers and payload indexes is copied; nulls are left out', () => {
    const live = info(
      { vectors: { size: 384, distance: 'Cosine', on_disk: true }, quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } } },
      { document_id: { data_type: 'keyword', points: 10 }, body: { data_type: 'text', params: { type: 'text', tokenizer: 'word', lowercase: true }, points: 10 } },
    );
    const clone = cloneCollectionConfig(live);
    assert.deepEqual(clone.create, {
      vectors: { size: 384, distance: 'Cosine', on_disk: true },
      shard_number: 2,
      replication_factor: 1,
      write_consistency_factor: 1,
      on_disk_payload: true,
      hnsw_config: { m: 32, ef_construct: 200, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      optimizers_config: { deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, indexing_threshold: 20000, flush_interval_sec: 5 },
      quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
    });
    assert.deepEqual(clone.payloadIndexes, [
      { field_name: 'body', field_schema: { type: 'text', tokenizer: 'word', lowercase: true } },
      { field_name: 'document_id', field_schema: 'keyword' },
    ]);
    assert.equal(clone.vectorName, undefined);
    assert.equal(clone.vectorSize, 384);
    assert.deepEqual(clone.changes, []);
    // The clone is a copy: changing it leaves the live info alone.
    (clone.create.quantization_config as { scalar: { quantile: number } }).scalar.quantile = 0.5;
    assert.equal((live.config.quantization_config as { scalar: { quantile: number } }).scalar.quantile, 0.99);
  });

  test("the collection's metadata and an enabled strict mode go with it; a disabled one does not", () => {
    const live = info({ vectors: { size: 4, distance: 'Cosine' } });
    live.config.metadata = { team: 'search', note: null };
    live.config.strict_mode_config = { enabled: true, max_query_limit: 100, unindexed_filtering_retrieve: false, search_max_hnsw_ef: null };
    const clone = cloneCollectionConfig(live);
    assert.deepEqual(clone.create.metadata, { team: 'search' });
    assert.deepEqual(clone.create.strict_mode_config, { enabled: true, max_query_limit: 100, unindexed_filtering_retrieve: false });
    assert.equal(cloneCollectionConfig(info({ vectors: { size: 4, distance: 'Cosine' } })).create.strict_mode_config, undefined);
  });

  test("the embedder's size replaces the live one and the change is named", () => {
    const clone = cloneCollectionConfig(info({ vectors: { size: 768, distance: 'Cosine' } }), { vectorSize: 384 });
    assert.deepEqual(clone.create.vectors, { size: 384, distance: 'Cosine' });
    assert.deepEqual(clone.changes, ['vector size 768 → 384']);
    const dot = cloneCollectionConfig(info({ vectors: { size: 384, distance: 'Cosine' } }), { vectorSize: 384, distance: 'Dot' });
    assert.deepEqual(dot.changes, ['distance Cosine → Dot']);
    assert.throws(() => cloneCollectionConfig(info({ vectors: { size: 4, distance: 'Cosine' } }), { vectorSize: 0 }), /not between 1 and 65536/);
  });

  test('named vectors: the one the embedder fills is resized, the others are kept as they are', () => {
    const live = info({
      vectors: {
        text: { size: 768, distance: 'Cosine', hnsw_config: { m: 48, ef_construct: null }, quantization_config: { binary: { always_ram: true } } },
        image: { size: 512, distance: 'Dot' },
      },
    });
    const clone = cloneCollectionConfig(live, { vectorName: 'text', vectorSize: 384 });
    assert.deepEqual(clone.create.vectors, {
      text: { size: 384, distance: 'Cosine', hnsw_config: { m: 48 }, quantization_config: { binary: { always_ram: true } } },
      image: { size: 512, distance: 'Dot' },
    });
    assert.equal(clone.vectorName, 'text');
    assert.deepEqual(clone.changes, ['vector size 768 → 384 (vector "text")']);
    assert.throws(() => cloneCollectionConfig(live), /several named vectors \("image", "text"\): say which one/);
    assert.throws(() => cloneCollectionConfig(live, { vectorName: 'audio' }), /no vector named "audio"/);
    assert.equal(cloneCollectionConfig(info({ vectors: { only: { size: 4, distance: 'Euclid' } } })).vectorName, 'only');
    assert.throws(() => cloneCollectionConfig(info({ vectors: { size: 4, distance: 'Euclid' } }), { vectorName: 'x' }), /one unnamed vector/);
  });

  test('an existing collection is checked against the plan: vectors and payload index types', () => {
    const live = info({ vectors: { size: 4, distance: 'Cosine' } }, { document_id: { data_type: 'keyword', points: 0 } });
    const planned = cloneCollectionConfig(live);
    assert.deepEqual(collectionMismatches(planned, live), []);
    assert.deepEqual(collectionMismatches(planned, info({ vectors: { size: 8, distance: 'Cosine' } })), [
      'vectors are <default>: 8/Cosine, the plan says <default>: 4/Cosine',
      'payload index on "document_id" is missing',
    ]);
    assert.deepEqual(collectionMismatches(planned, info({ vectors: { size: 4, distance: 'Cosine' } }, { document_id: { data_type: 'integer', points: 0 } })), [
      'payload index on "document_id" is integer, the plan says keyword',
    ]);
  });
});

describe('the gate', () => {
  test('recall@k and overlap@k', () => {
    assert.equal(recallAtK([1, 2], [3, 1, 2], 10), 1);
    assert.equal(recallAtK([1, 2], [3, 1, 2], 2), 0.5);
    assert.equal(recallAtK([1, 2, 3, 4], [1, 2], 2), 1, 'more expected than k: k of them is the best possible');
    assert.equal(recallAtK(['a'], ['b'], 10), 0);
    assert.throws(() => recallAtK([], [1], 10), /expects nothing/);
    assert.equal(overlapAtK([1, 2, 3, 4], [4, 3, 9, 8], 4), 0.5);
    assert.equal(overlapAtK([1, 2], [], 4), undefined);
  });
  test('figures per query and overall; a failing threshold is named', () => {
    const passed = judgeGate(
      [
        { query: 'q1', expected: [1], results: [1, 2, 3], live: [1, 2, 4] },
        { query: 'q2', expected: [5, 6], results: [5, 7, 6], live: [5, 7, 6] },
      ],
      { k: 3, minRecall: 0.9, minOverlapWithLive: 0.6 },
    );
    assert.equal(passed.passed, true);
    assert.equal(passed.recall, 1);
    assert.equal(passed.overlapWithLive, 0.8333);
    assert.deepEqual(passed.perQuery[0], { query: 'q1', recall: 1, overlapWithLive: 0.6667, missing: [] });

    const failed = judgeGate([{ query: 'q', expected: [1, 2], results: [2, 3], live: [7, 8] }], { k: 2, minRecall: 0.9, minOverlapWithLive: 0.6 });
    assert.equal(failed.passed, false);
    assert.deepEqual(failed.failures, ['recall@2 0.5 is below 0.9', 'overlap@2 with the live collection 0 is below 0.6']);
    assert.deepEqual(failed.perQuery[0]?.missing, [1]);
  });
  test('an empty golden set, or no live results to compare, does not pass', () => {
    assert.deepEqual(judgeGate([], { k: 10, minRecall: 0.9 }).failures, ['the golden set is empty: nothing to judge the new collection by']);
    const noLive = judgeGate([{ query: 'q', expected: [1], results: [1] }], { k: 10, minRecall: 0.9, minOverlapWithLive: 0.5 });
    assert.deepEqual(noLive.failures, ['overlap@10 with the live collection could not be measured (no live results)']);
    assert.equal(judgeGate([{ query: 'q', expected: [1], results: [1] }], { k: 10, minRecall: 0.9 }).passed, true);
  });
  test('count parity is exact', () => {
    assert.deepEqual(countParity(5000, 5000), { passed: true, detail: '5000 points for 5000 source rows (exact)' });
    assert.equal(countParity(5000, 4999).detail, '4999 points for 5000 source rows: 1 missing');
    assert.equal(countParity(5000, 5002).detail, '5002 points for 5000 source rows: 2 more');
  });
});

describe('progress', () => {
  test('rate, ETA and percent', () => {
    assert.deepEqual(progressOf(500, 10_000, 5000), { rowsDone: 500, rowsPerSecond: 50, etaSeconds: 90, percent: 10 });
    assert.deepEqual(progressOf(0, 0, 5000), { rowsDone: 0, rowsPerSecond: 0, etaSeconds: undefined, percent: 0 });
    assert.deepEqual(progressOf(5000, 100_000, 5000), { rowsDone: 5000, rowsPerSecond: 50, etaSeconds: 0, percent: 100 });
    assert.equal(progressOf(10, 1000).etaSeconds, undefined);
    assert.equal(progressOf(6000, 1000, 5000).percent, 100);
  });
  test('ETA in words', () => {
    assert.equal(formatEta(undefined), 'unknown');
    assert.equal(formatEta(12), '12 s');
    assert.equal(formatEta(245), '4 min 05 s');
    assert.equal(formatEta(3720), '1 h 02 min');
  });
});

describe("the stacks file's reingest section", () => {
  const issues = (value: unknown) => {
    const parsed = reingestSchema.safeParse(value);
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  test("the issue's example parses; sources come out tagged by kind, S3 fields defaulted", () => {
    const section = reingestSchema.parse({
      sources: {
        chunks: { postgres: 'app', query: 'SELECT id, text, document_id, updated_at FROM chunks', key: 'id', text: 'text', payload: ['document_id', 'updated_at'], updatedAt: 'updated_at' },
        dump: { s3: { bucket: 'rag-exports', prefix: 'chunks/' } },
      },
      embedders: { minilm: { type: 'openai', url: 'http://127.0.0.1:8080/v1', model: 'all-MiniLM-L6-v2', apiKey: { env: 'EMBED_KEY' } } },
      golden: [{ query: 'how do I restore a snapshot', expect: [1042, 1043] }],
      gate: { k: 10, minRecall: 0.9, minOverlapWithLive: 0.6 },
    });
    assert.equal(section.sources['chunks']?.kind, 'postgres');
    assert.deepEqual(section.sources['dump'], { kind: 's3', s3: { bucket: 'rag-exports', prefix: 'chunks/' }, key: 'id', text: 'text', payload: [] });
    assert.deepEqual(reingestSchema.parse({}).gate, { k: 10, minRecall: 0.9 });
  });

  test('mistakes are named by their field', () => {
    assert.deepEqual(issues({ sources: { a: { postgres: 'app', key: 'id; drop', payload: ['x y'] } } }), [
      'sources.a.key: "id; drop" is not a column name: letters, digits and "_", not starting with a digit (max 63)',
      'sources.a.payload.0: "x y" is not a column name: letters, digits and "_", not starting with a digit (max 63)',
      'sources.a.query: a PostgreSQL source needs the `query` whose rows are re-ingested',
      'sources.a.text: a PostgreSQL source needs its `text` column, the text that is embedded',
    ]);
    assert.match(issues({ sources: { a: {} } })[0]!, /^sources\.a\.postgres: a source reads either `postgres: <database label>` with a `query`, or `s3: \{ bucket, prefix \}`/);
    assert.deepEqual(issues({ sources: { a: { s3: { bucket: 'bkt' }, query: 'SELECT 1', updatedAt: 'u' } } }), [
      'sources.a.query: an S3 source has no query: its objects are JSONL, one row per line',
      'sources.a.updatedAt: the catch-up pass by `updatedAt` is for PostgreSQL sources only',
    ]);
    assert.deepEqual(issues({ sources: { a: { postgres: 'app', query: 'SELECT 1; DROP TABLE x', key: 'id', text: 't' } } }), [
      'sources.a.query: no ";": the query is run as a subquery of the keyset page, so it is one statement without a terminator',
    ]);
    assert.deepEqual(issues({ sources: { a: { postgres: 'app', query: 'DELETE FROM x', key: 'id', text: 't' } } }), ['sources.a.query: one SELECT statement (or WITH ... SELECT): it is run as a subquery']);
    assert.deepEqual(issues({ golden: [{ query: 'q', expect: [] }] }), ['golden.0.expect: list the source keys (ids) this query must find']);
    assert.deepEqual(issues({ gate: { k: 2 }, golden: [{ query: 'q', expect: [1, 2, 3] }] }), ['golden.0.expect: 3 expected keys cannot all be in the top 2 (gate.k)']);
    assert.deepEqual(issues({ gate: { minRecall: 1.5 } }).length, 1);
    assert.deepEqual(issues({ extra: 1 }).length, 1);
    assert.equal(issues({ embedders: { minilm: { type: 'word2vec' } } }).length > 0, true);
  });

  test('references to the rest of the stack', () => {
    const section = reingestSchema.parse({
      sources: { a: { postgres: 'app', query: 'SELECT 1 AS id, 2 AS t', key: 'id', text: 't' }, b: { s3: { bucket: 'bkt' } } },
    });
    assert.deepEqual(reingestReferenceIssues(section, { postgresLabels: ['app'], storeType: 's3' }), []);
    assert.deepEqual(reingestReferenceIssues(section, { postgresLabels: ['main'], storeType: 'fs' }).map((i) => i.path.join('.')), ['sources.a.postgres', 'sources.b.s3']);
  });
});
