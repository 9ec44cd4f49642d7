// The Qdrant side of `reingest` against the Qdrant stand-in: the plan cloned from the collection
// behind an alias, an idempotent create with payload indexes, points written and read back,
// the alias switched in one request, and deletes that only touch what they may.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import { ApplicationFailure } from '@temporalio/common';
import { createQdrantReingestActivities } from '../src/activities/qdrant/reingest.js';
import { pointIdOf } from '../src/core/reingest.js';
import { startQdrantStandin, type QdrantStandin } from './support/qdrant/index.js';

const activities = createQdrantReingestActivities();
const TAG = 'r1e2i3n4';

async function failure(attempt: Promise<unknown>): Promise<Error & { nonRetryable?: boolean; type?: string }> {
  return attempt.then(
    () => assert.fail('it succeeded'),
    (error: unknown) => error as Error & { nonRetryable?: boolean; type?: string },
  );
}

function unit(values: number[]): number[] {
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
}

describe('reingest: Qdrant', () => {
  let standin: QdrantStandin;
  let client: QdrantClient;
  let qdrant: { url: string; apiKey: { env: string } };

  before(async () => {
    standin = await startQdrantStandin({ apiKey: 'reingest-test-key' });
    process.env.REINGEST_QDRANT_KEY = 'reingest-test-key';
    qdrant = { url: standin.url, apiKey: { env: 'REINGEST_QDRANT_KEY' } };
    client = new QdrantClient({ url: standin.url, apiKey: 'reingest-test-key', checkCompatibility: false });
  });
  after(() => standin.stop());

  beforeEach(async () => {
    standin.faults.reset();
    for (const { name } of (await client.getCollections()).collections) await client.deleteCollection(name);
    // The live collection: HNSW and optimizer settings of its own, scalar quantization, two payload indexes.
    await client.createCollection('docs_v1', {
      vectors: { size: 4, distance: 'Cosine', on_disk: true },
      hnsw_config: { m: 32, ef_construct: 256, payload_m: 24 },
      optimizers_config: { indexing_threshold: 50000, default_segment_number: 2 },
      quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
      on_disk_payload: false,
    });
    await client.createPayloadIndex('docs_v1', { field_name: 'document_id', field_schema: 'keyword', wait: true });
    await client.createPayloadIndex('docs_v1', { field_name: 'text', field_schema: { type: 'text', tokenizer: 'word', lowercase: true }, wait: true });
    await client.upsert('docs_v1', { wait: true, points: [1, 2, 3].map((id) => ({ id, vector: unit([id, 1, 0, 0]), payload: { document_id: `d${id}` } })) });
    await client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: 'docs', collection_name: 'docs_v1' } }] });
  });

  test('plan: the alias resolves to the live collection; the new one is ragops-owned and a clone of it, resized for the embedder', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG, vectorSize: 8 });
    assert.equal(plan.live, 'docs_v1');
    assert.equal(plan.livePoints, 3);
    assert.equal(plan.collection, `ragops_reingest_${TAG}_docs`);
    assert.deepEqual(plan.clone.changes, ['vector size 4 → 8']);
    assert.deepEqual(plan.clone.create.vectors, { size: 8, distance: 'Cosine', on_disk: true });
    assert.equal(plan.clone.create.on_disk_payload, false);
    assert.deepEqual(plan.clone.payloadIndexes, [
      { field_name: 'document_id', field_schema: 'keyword' },
      { field_name: 'text', field_schema: { type: 'text', tokenizer: 'word', lowercase: true } },
    ]);

    const notAlias = await failure(activities.planReingestTarget({ qdrant, alias: 'docs_v1', runTag: TAG }));
    assert.equal(notAlias.nonRetryable, true);
    assert.match(notAlias.message, /"docs_v1" is a collection, not an alias; .*create one pointing at it first/);
    const missing = await failure(activities.planReingestTarget({ qdrant, alias: 'nope', runTag: TAG }));
    assert.match(missing.message, /there is no alias "nope" \(aliases: docs\)/);
    assert.match((await failure(activities.planReingestTarget({ qdrant, alias: 'docs', runTag: 'BAD' }))).message, /not a run tag/);
  });

  test('create: the clone carries HNSW, optimizers, quantization and payload indexes; a second create changes nothing', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    const first = await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });
    assert.deepEqual(first, { collection: plan.collection, created: true, indexesCreated: ['document_id', 'text'] });

    const live = await client.getCollection('docs_v1');
    const made = await client.getCollection(plan.collection);
    assert.deepEqual(made.config.params.vectors, live.config.params.vectors);
    assert.deepEqual(made.config.hnsw_config, live.config.hnsw_config);
    assert.equal(made.config.hnsw_config.m, 32);
    assert.deepEqual(made.config.optimizer_config, live.config.optimizer_config);
    assert.deepEqual(made.config.quantization_config, live.config.quantization_config);
    assert.equal(made.config.params.on_disk_payload, false);
    assert.deepEqual(
      Object.fromEntries(Object.entries(made.payload_schema).map(([field, index]) => [field, { data_type: index?.data_type, params: index?.params }])),
      Object.fromEntries(Object.entries(live.payload_schema).map(([field, index]) => [field, { data_type: index?.data_type, params: index?.params }])),
    );

    standin.faults.requests.length = 0;
    const again = await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });
    assert.deepEqual(again, { collection: plan.collection, created: false, indexesCreated: [] });
    assert.equal(standin.faults.requests.filter((r) => r.method === 'PUT').length, 0, 'a retry writes nothing');
  });

  test('create after a crash between the collection and its indexes: only the missing index is made', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    await client.createCollection(plan.collection, plan.clone.create);
    await client.createPayloadIndex(plan.collection, { field_name: 'document_id', field_schema: 'keyword', wait: true });
    const resumed = await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });
    assert.deepEqual(resumed, { collection: plan.collection, created: false, indexesCreated: ['text'] });
  });

  test('two creates racing (a retry beside a lost answer): both succeed, one collection is made', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    const results = await Promise.all([1, 2].map(() => activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone })));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal((await client.getCollections()).collections.filter((c) => c.name === plan.collection).length, 1);
    assert.deepEqual(Object.keys((await client.getCollection(plan.collection)).payload_schema).sort(), ['document_id', 'text']);
  });

  test('an existing collection that is not the planned one is refused, naming the difference; user names are never created', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    await client.createCollection(plan.collection, { vectors: { size: 8, distance: 'Dot' } });
    const mismatch = await failure(activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone }));
    assert.equal(mismatch.nonRetryable, true);
    assert.equal(mismatch.type, 'CollectionMismatch');
    assert.match(mismatch.message, /already exists and is not the planned one \(vectors are <default>: 8\/Dot, the plan says <default>: 4\/Cosine\)/);

    await client.deleteCollection(plan.collection);
    await client.createCollection(plan.collection, plan.clone.create);
    await client.createPayloadIndex(plan.collection, { field_name: 'document_id', field_schema: 'integer', wait: true });
    assert.match((await failure(activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone }))).message, /integer payload index on "document_id", the plan says keyword/);

    const owned = await failure(activities.createReingestCollection({ qdrant, collection: 'docs_v2', clone: plan.clone }));
    assert.match(owned.message, /refusing to create "docs_v2": not a collection a re-ingestion created/);
  });

  test('named vectors: the embedder fills the one named, the others keep their config', async () => {
    await client.createCollection('multi_v1', { vectors: { text: { size: 4, distance: 'Cosine' }, image: { size: 3, distance: 'Dot' } }, hnsw_config: { m: 8 } });
    await client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: 'multi', collection_name: 'multi_v1' } }] });
    assert.match((await failure(activities.planReingestTarget({ qdrant, alias: 'multi', runTag: TAG }))).message, /several named vectors \("image", "text"\)/);
    const plan = await activities.planReingestTarget({ qdrant, alias: 'multi', runTag: TAG, vectorName: 'text', vectorSize: 6 });
    await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });
    const made = await client.getCollection(plan.collection);
    assert.deepEqual(made.config.params.vectors, { text: { size: 6, distance: 'Cosine' }, image: { size: 3, distance: 'Dot' } });
    assert.equal(made.config.hnsw_config.m, 8);

    const written = await activities.upsertReingestPoints({
      qdrant, collection: plan.collection, vectorName: 'text', points: [{ id: 7, vector: unit([1, 2, 3, 4, 5, 6]), payload: { k: 7 } }],
    });
    assert.equal(written, 1);
    const hits = await activities.searchCollection({ qdrant, collection: plan.collection, vectorName: 'text', vector: unit([1, 2, 3, 4, 5, 6]), limit: 3, withPayload: true });
    assert.deepEqual(hits.map((h) => [h.id, h.payload]), [[7, { k: 7 }]]);
  });

  test('points: upserted with wait=true, a retried batch overwrites, exact count, top-k with payload', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });
    const keys: Array<string | number> = ['10', 11, 'doc-a#0', 'doc-a#1'];
    const points = keys.map((key, i) => ({ id: pointIdOf(key), vector: unit([1, i, i * i, 1]), payload: { key, document_id: `d${i}` } }));
    assert.equal(await activities.upsertReingestPoints({ qdrant, collection: plan.collection, points }), 4);
    assert.equal(await activities.upsertReingestPoints({ qdrant, collection: plan.collection, points }), 4, 'the same batch again');
    assert.equal(await activities.countCollectionPoints({ qdrant, collection: plan.collection }), 4);

    const hits = await activities.searchCollection({ qdrant, collection: plan.collection, vector: unit([1, 2, 4, 1]), limit: 2, withPayload: true });
    assert.equal(hits.length, 2);
    assert.equal(hits[0]!.id, pointIdOf('doc-a#0'));
    assert.deepEqual(hits[0]!.payload, { key: 'doc-a#0', document_id: 'd2' });
    const bare = await activities.searchCollection({ qdrant, collection: plan.collection, vector: unit([1, 0, 0, 1]), limit: 1 });
    assert.deepEqual(bare, [{ id: 10, score: bare[0]!.score }]);

    const live = await failure(activities.upsertReingestPoints({ qdrant, collection: 'docs_v1', points }));
    assert.match(live.message, /refusing to write points into "docs_v1"/);
    const wrongSize = await failure(activities.upsertReingestPoints({ qdrant, collection: plan.collection, points: [{ id: 1, vector: [1, 2, 3] }] }));
    assert.equal(wrongSize.nonRetryable, true);
    assert.match(wrongSize.message, /upserting 1 points \(ids 1…1\) into "ragops_reingest_r1e2i3n4_docs" failed: .*Vector dimension error: expected dim: 4, got 3 \(HTTP 400;/);
  });

  test('switch: one POST /collections/aliases with delete + create; queries through the alias hit the new collection; a retry sends nothing', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });
    await activities.upsertReingestPoints({ qdrant, collection: plan.collection, points: [{ id: 99, vector: unit([0, 0, 1, 0]) }] });

    standin.faults.requests.length = 0;
    const switched = await activities.switchReingestAlias({ qdrant, alias: 'docs', to: plan.collection, expectFrom: 'docs_v1' });
    assert.deepEqual(switched, { alias: 'docs', from: 'docs_v1', to: plan.collection, switched: true });
    const writes = standin.faults.requests.filter((r) => r.method !== 'GET');
    assert.deepEqual(writes, [{ method: 'POST', path: '/collections/aliases' }]);
    assert.deepEqual((await client.getAliases()).aliases, [{ alias_name: 'docs', collection_name: plan.collection }]);
    assert.equal((await client.count('docs', { exact: true })).count, 1, 'the alias now reads the new collection');
    assert.equal((await client.query('docs', { query: unit([0, 0, 1, 0]), limit: 1 })).points[0]?.id, 99);

    standin.faults.requests.length = 0;
    const retried = await activities.switchReingestAlias({ qdrant, alias: 'docs', to: plan.collection, expectFrom: 'docs_v1' });
    assert.equal(retried.switched, false);
    assert.equal(standin.faults.requests.filter((r) => r.method !== 'GET').length, 0);

    // Rolling back is the same switch the other way.
    const back = await activities.switchReingestAlias({ qdrant, alias: 'docs', to: 'docs_v1', expectFrom: plan.collection });
    assert.deepEqual(back, { alias: 'docs', from: plan.collection, to: 'docs_v1', switched: true });
    assert.equal((await client.count('docs', { exact: true })).count, 3);
  });

  test('switch refuses an alias someone else moved', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });
    await client.createCollection('docs_other', { vectors: { size: 4, distance: 'Cosine' } });
    await client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: 'docs', collection_name: 'docs_other' } }] });
    const moved = await failure(activities.switchReingestAlias({ qdrant, alias: 'docs', to: plan.collection, expectFrom: 'docs_v1' }));
    assert.equal(moved.type, 'AliasMoved');
    assert.match(moved.message, /alias "docs" points at "docs_other", not at "docs_v1" as planned/);
    assert.deepEqual((await client.getAliases()).aliases, [{ alias_name: 'docs', collection_name: 'docs_other' }]);
  });

  test('delete: only ragops collections as "new", never one an alias points at; the previous live one when asked', async () => {
    const plan = await activities.planReingestTarget({ qdrant, alias: 'docs', runTag: TAG });
    await activities.createReingestCollection({ qdrant, collection: plan.collection, clone: plan.clone });

    const userCollection = await failure(activities.deleteReingestCollection({ qdrant, collection: 'docs_v1', kind: 'new' }));
    assert.equal(userCollection.nonRetryable, true);
    assert.match(userCollection.message, /refusing to delete "docs_v1": not a collection a re-ingestion created/);
    const live = await failure(activities.deleteReingestCollection({ qdrant, collection: 'docs_v1', kind: 'previous' }));
    assert.equal(live.type, 'CollectionLive');
    assert.match(live.message, /refusing to delete "docs_v1": alias "docs" points at it, so it is live/);

    await activities.switchReingestAlias({ qdrant, alias: 'docs', to: plan.collection, expectFrom: 'docs_v1' });
    assert.match((await failure(activities.deleteReingestCollection({ qdrant, collection: plan.collection, kind: 'new' }))).message, /alias "docs" points at it/);
    assert.equal(await activities.deleteReingestCollection({ qdrant, collection: 'docs_v1', kind: 'previous' }), true);
    assert.equal(await activities.deleteReingestCollection({ qdrant, collection: 'docs_v1', kind: 'previous' }), false, 'already gone');
    assert.deepEqual((await client.getCollections()).collections.map((c) => c.name), [plan.collection]);
  });

  test('errors: 4xx fail at once saying what to do; 5xx, 429 and a dead server stay retryable', async () => {
    const missing = await failure(activities.readCollectionInfo({ qdrant, collection: 'nope' }));
    assert.equal(missing.nonRetryable, true);
    assert.ok(missing instanceof ApplicationFailure);
    assert.match(missing.message, new RegExp(`^Qdrant at ${standin.url}: reading collection "nope" failed: .*doesn't exist.*\\(HTTP 404; check the collection or alias name`));

    const badKey = await failure(activities.countCollectionPoints({ qdrant: { url: standin.url }, collection: 'docs_v1' }));
    assert.equal(badKey.nonRetryable, true);
    assert.match(badKey.message, /HTTP 401; check the stack's qdrant.apiKey reference/);

    for (const status of [500, 503, 429]) {
      standin.faults.failNext({ status, pathIncludes: '/points/count' });
      const transient = await failure(activities.countCollectionPoints({ qdrant, collection: 'docs_v1' }));
      assert.notEqual(transient.nonRetryable, true, `HTTP ${status} is retryable`);
      assert.match(transient.message, /counting points of "docs_v1" failed/);
    }
    const down = await failure(activities.countCollectionPoints({ qdrant: { url: 'http://127.0.0.1:9' }, collection: 'docs_v1' }));
    assert.notEqual(down.nonRetryable, true);
    assert.match(down.message, /^Qdrant at http:\/\/127\.0\.0\.1:9: counting points of "docs_v1" failed/);
  });
});
