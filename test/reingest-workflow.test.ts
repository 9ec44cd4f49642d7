// The reingest runbook end to end: a worker on the Temporal dev server, a real PostgreSQL table
// of 5,000 chunks of real prose, the real all-MiniLM-L6-v2 behind the OpenAI-compatible
// endpoint (test/support/embedding-server.py; it keeps the vectors it computed, so the second
// run over the same corpus costs little), and the Qdrant stand-in with a live collection behind
// the alias `docs`.
import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { approveReingest, reingestStatus, rollbackReingest } from '../src/client/api/reingest.js';
import { startReingest } from '../src/client/api/runbooks.js';
import type { ReingestInput } from '../src/config/inputs.js';
import type { ReingestReport } from '../src/workflows/reingest/report.js';
import { buildCorpus, goldenQueries, loadCorpus, unanswerableGolden, writeCorpusJsonl, type Chunk } from './support/corpus.js';
import { MINILM, MINILM_DIMENSIONS, MINILM_OLLAMA, startEmbeddingServer, type TestEmbeddingServer } from './support/embedder.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { startQdrantStandin, type QdrantStandin } from './support/qdrant/index.js';
import { startMoto, type TestMoto } from './support/moto.js';
import { spawnWorkerProcess, startWorker, tempDir, uniqueName, writeStacksFile, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const ROWS = 5_000;
const QDRANT_KEY = 'reingest-workflow-qdrant-key';
const EMBED_KEY = 'reingest-workflow-embed-key';

let temporal: TestTemporal;
let worker: RunningWorker;
let client: Client;
let standin: QdrantStandin;
let qdrant: QdrantClient;
let embedder: TestEmbeddingServer;
let db: TestDatabase;
let store: { path: string; remove(): Promise<void> };
let chunks: Chunk[];
let moto: TestMoto;
const BUCKET = 'reingest-corpus';
/** The one row whose text is far over the model's 256 tokens. */
const OVERSIZED_KEY = 900_001;
const taskQueue = uniqueName('reingest');

function stacks() {
  const golden = goldenQueries(chunks, 20);
  const stack = (extra: { golden?: unknown; gate?: unknown; updatedAt?: boolean; query?: string } = {}) => ({
    store: { type: 'fs', path: store.path },
    postgres: [{ name: 'app', host: '127.0.0.1', port: 5432, database: db.name, user: 'postgres' }],
    qdrant: { url: standin.url, apiKey: { env: 'REINGEST_TEST_QDRANT_KEY' } },
    reingest: {
      sources: {
        chunks: {
          ...{ postgres: 'app', query: extra.query ?? 'SELECT id, text, document_id, updated_at FROM chunks', key: 'id', text: 'text', payload: ['document_id'] },
          ...(extra.updatedAt ? { updatedAt: 'updated_at' } : {}),
        },
      },
      embedders: {
        minilm: { type: 'openai', url: embedder.openaiUrl, model: MINILM, apiKey: { env: 'REINGEST_TEST_EMBED_KEY' } },
        'minilm-ollama': { type: 'ollama', url: embedder.url, model: MINILM_OLLAMA, apiKey: { env: 'REINGEST_TEST_EMBED_KEY' } },
      },
      golden: extra.golden ?? golden,
      gate: extra.gate ?? { k: 10, minRecall: 0.9 },
    },
  });
  const fromS3 = stack();
  fromS3.reingest.sources = {
    jsonl: {
      s3: { bucket: BUCKET, prefix: 'corpus/', endpoint: moto.endpoint, region: moto.region, forcePathStyle: true, accessKeyId: { env: 'REINGEST_TEST_S3_KEY' }, secretAccessKey: { env: 'REINGEST_TEST_S3_SECRET' } },
      payload: ['document_id'],
    },
  } as never;
  const oversized = `SELECT id, text, document_id, updated_at FROM chunks UNION ALL SELECT ${OVERSIZED_KEY}, repeat('overflowing words ', 2000), 'big.md', now()`;
  return {
    stacks: {
      prod: stack(),
      unanswerable: stack({ golden: unanswerableGolden(chunks) }),
      catchup: stack({ updatedAt: true }),
      s3: fromS3,
      oversized: stack({ query: oversized }),
    },
  };
}

before(async () => {
  chunks = buildCorpus(ROWS);
  process.env.REINGEST_TEST_QDRANT_KEY = QDRANT_KEY;
  process.env.REINGEST_TEST_EMBED_KEY = EMBED_KEY;
  [temporal, standin, embedder, db, store, moto] = await Promise.all([
    startTestTemporal(),
    startQdrantStandin({ apiKey: QDRANT_KEY }),
    startEmbeddingServer({ apiKey: EMBED_KEY, cacheSize: 2 * ROWS, threads: 2 }),
    createTestDatabase('reingest'),
    tempDir('reingest-store'),
    startMoto(),
  ]);
  process.env.REINGEST_TEST_S3_KEY = moto.accessKeyId;
  process.env.REINGEST_TEST_S3_SECRET = moto.secretAccessKey;
  await moto.createBucket(BUCKET);
  await writeCorpusJsonl(moto.s3, BUCKET, 'corpus/', chunks, 1000);
  client = temporal.client;
  qdrant = new QdrantClient({ url: standin.url, apiKey: QDRANT_KEY, checkCompatibility: false });
  await loadCorpus(await db.client(), chunks);
  worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks()) });
});

after(async () => {
  await worker?.stop();
  await Promise.allSettled([temporal?.stop(), standin?.stop(), embedder?.stop(), db?.drop(), store?.remove(), moto?.stop()]);
});

beforeEach(() => liveCollectionOnly());

const aliasTarget = async () => (await qdrant.getAliases()).aliases.find((a) => a.alias_name === 'docs')?.collection_name;
const collections = async () => (await qdrant.getCollections()).collections.map((c) => c.name).sort();

function start(input: Partial<ReingestInput> & { stack?: string } = {}) {
  return startReingest(client, { stack: 'prod', alias: 'docs', source: 'chunks', embedder: 'minilm', ...input }, { taskQueue, workflowId: uniqueName('reingest-prod-docs') });
}

async function waitFor(workflowId: string, what: string, ok: (r: ReingestReport) => boolean, timeoutMs = 300_000): Promise<ReingestReport> {
  const deadline = Date.now() + timeoutMs;
  let last: ReingestReport | undefined;
  while (Date.now() < deadline) {
    last = await reingestStatus(client, workflowId).catch(() => undefined);
    if (last && ok(last)) return last;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)?.slice(0, 2000)}`);
}

describe('reingest: 5,000 chunks from PostgreSQL through the OpenAI-compatible endpoint (real MiniLM), Qdrant stand-in', () => {
  test('counts equal, golden recall@10 ≥ 0.9, the alias switched, queries through the alias hit the new collection; after the window the old collection is gone', { timeout: 900_000 }, async () => {
    const handle = await start({ window: '5s' });
    const switched = await waitFor(handle.workflowId, 'the switch', (r) => r.switchedAt !== null);
    const collection = switched.collection!;
    assert.match(collection, /^ragops_reingest_[a-z0-9]{8}_docs$/);
    assert.equal(await aliasTarget(), collection, 'the alias points at the new collection');
    assert.ok((await collections()).includes('docs_v1'), 'the old collection is kept during the window');
    // A query through the alias is answered by the new collection: a golden query finds its chunk.
    const [golden] = goldenQueries(chunks, 20);
    const probe = await fetch(`${embedder.openaiUrl}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${EMBED_KEY}` }, body: JSON.stringify({ model: MINILM, input: [golden!.query] }) });
    const vector = ((await probe.json()) as { data: Array<{ embedding: number[] }> }).data[0]!.embedding;
    const hits = await qdrant.query('docs', { query: vector, limit: 10, with_payload: true });
    assert.ok(hits.points.some((p) => p.id === golden!.expect[0]), `the golden chunk ${golden!.expect[0]} is in the top 10 through the alias`);
    assert.ok(hits.points.every((p) => p.id !== 999_999), "no point of the old collection comes back");

    const report = (await handle.result()) as ReingestReport;
    assert.equal(report.outcome, 'switched');
    assert.equal(report.sourceRows, ROWS);
    assert.deepEqual({ sourceRows: report.parity?.sourceRows, points: report.parity?.points, passed: report.parity?.passed }, { sourceRows: ROWS, points: ROWS, passed: true });
    assert.equal((await qdrant.count(collection, { exact: true })).count, ROWS);
    assert.ok(report.gate && report.gate.recall >= 0.9, `recall@10 ${report.gate?.recall}: ${JSON.stringify(report.gate?.perQuery.filter((q) => q.recall < 1))}`);
    assert.equal(report.gate.queries, 20);
    assert.equal(report.ingest.rows, ROWS);
    assert.ok(report.ingest.rowsPerSecond > 0);
    assert.equal(report.oldCollectionDeleted, true);
    assert.deepEqual(await collections(), [collection], 'after the window only the new collection is left');
    assert.equal(await aliasTarget(), collection);
    const info = await qdrant.getCollection(collection);
    assert.equal((info.config.hnsw_config as { m: number }).m, 24, "the live collection's HNSW settings are cloned");
    assert.deepEqual(Object.keys(info.payload_schema ?? {}), ['document_id'], 'and its payload index');
    const point = (await qdrant.retrieve(collection, { ids: [1042], with_payload: true }))[0];
    assert.equal(point?.payload?.document_id, chunks[1041]!.documentId, 'the payload is copied from the source row');
    const history = JSON.stringify(await handle.fetchHistory());
    for (const secret of [EMBED_KEY, QDRANT_KEY]) assert.ok(!history.includes(secret), 'no secret in the history');
  });

  test('a gate that fails (a golden set the corpus cannot answer): no switch, the alias still on the old collection, the new one deleted, the report has the figures', { timeout: 900_000 }, async () => {
    const handle = await start({ stack: 'unanswerable' });
    const failure = await handle.result().then(
      () => assert.fail('the run switched'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError, String(failure));
    const cause = failure.cause as Error & { type?: string; details?: unknown[] };
    assert.equal(cause.type, 'ReingestGateFailed');
    assert.match(cause.message, /recall@10 0 is below 0\.9/);
    const report = cause.details?.[0] as ReingestReport;
    assert.equal(report.outcome, 'gate failed');
    assert.equal(report.gate?.recall, 0);
    assert.equal(report.parity?.passed, true, 'the counts matched: only the gate failed');
    assert.equal(report.newCollectionDeleted, true);
    assert.equal(await aliasTarget(), 'docs_v1');
    assert.deepEqual(await collections(), ['docs_v1']);
  });

  test('approve: manual — the run waits; approve switches, a second approve is refused; rollback in the window switches back with the old collection intact; a second rollback is refused', { timeout: 900_000 }, async () => {
    const handle = await start({ approve: 'manual', window: '1h' });
    const waiting = await waitFor(handle.workflowId, 'the approval wait', (r) => r.phase === 'approve');
    assert.equal(await aliasTarget(), 'docs_v1', 'nothing switched before approval');
    const early = await rollbackReingest(client, handle.workflowId, 'ops@test');
    assert.equal(early.accepted, false);
    assert.match(early.accepted ? '' : early.reason, /not switched yet/);

    const approved = await approveReingest(client, handle.workflowId, 'alice@test');
    assert.ok(approved.accepted, JSON.stringify(approved));
    assert.equal(approved.result.switchedTo, waiting.collection);
    assert.equal(await aliasTarget(), waiting.collection);
    const again = await approveReingest(client, handle.workflowId, 'bob@test');
    assert.equal(again.accepted, false);
    assert.match(again.accepted ? '' : again.reason, /already approved by alice@test/);

    await waitFor(handle.workflowId, 'the window', (r) => r.phase === 'window');
    const rolledBack = await rollbackReingest(client, handle.workflowId, 'carol@test');
    assert.ok(rolledBack.accepted, JSON.stringify(rolledBack));
    assert.equal(rolledBack.result.to, 'docs_v1');
    const report = (await handle.result()) as ReingestReport;
    assert.equal(report.outcome, 'rolled back');
    assert.equal(report.approvedBy, 'alice@test');
    assert.equal(report.rollback?.by, 'carol@test');
    assert.equal(await aliasTarget(), 'docs_v1');
    assert.deepEqual(await collections(), ['docs_v1'], 'the new collection is deleted, the old one kept');
    assert.equal((await qdrant.count('docs_v1', { exact: true })).count, 1, 'the old collection is intact');
    const late = await rollbackReingest(client, handle.workflowId, 'dave@test');
    assert.equal(late.accepted, false);
    assert.match(late.accepted ? '' : late.reason, /has ended/);
  });

  test('rows updated in the source during the ingestion are picked up by the catch-up pass over updated_at; without updatedAt the report says the source was not frozen', { timeout: 900_000 }, async () => {
    const writer = await db.client();
    const handle = await start({ stack: 'catchup', window: '1s', pageSize: 100 });
    await waitFor(handle.workflowId, 'ingestion past the first rows', (r) => r.phase === 'ingest' && r.ingest.rows >= 100 && r.ingest.rows < ROWS - 500, 300_000);
    // Rows 1..5 are in the new collection already; change them now.
    await writer.query(`UPDATE chunks SET text = 'changed during the ingestion: ' || text, updated_at = clock_timestamp() WHERE id <= 5`);
    const report = (await handle.result()) as ReingestReport;
    try {
      assert.equal(report.outcome, 'switched');
      assert.ok(report.catchUp && 'since' in report.catchUp, JSON.stringify(report.catchUp));
      assert.ok(report.catchUp.progress.rows >= 5, `the catch-up re-read the changed rows: ${JSON.stringify(report.catchUp)}`);
      const points = await qdrant.retrieve(report.collection!, { ids: [1, 2, 3, 4, 5, 6], with_payload: true });
      const texts = Object.fromEntries(points.map((p) => [p.id, String(p.payload?.text)]));
      for (const id of [1, 2, 3, 4, 5]) assert.match(texts[id] ?? '', /^changed during the ingestion: /, `point ${id} has the new text`);
      assert.doesNotMatch(texts[6] ?? '', /^changed/);
      assert.equal(report.parity?.points, ROWS);
    } finally {
      await writer.query(`UPDATE chunks SET text = substr(text, length('changed during the ingestion: ') + 1) WHERE id <= 5`);
    }
    const frozen = (await (await start({ window: '1s' })).result()) as ReingestReport;
    assert.deepEqual(frozen.catchUp, { skipped: 'source "chunks" declares no updatedAt column: rows changed during the ingestion are not re-read (the source was not frozen)' });
  });

  test('the same through the Ollama-compatible endpoint, from JSONL objects in S3 (moto)', { timeout: 900_000 }, async () => {
    const handle = await start({ stack: 's3', source: 'jsonl', embedder: 'minilm-ollama', window: '1s' });
    const report = (await handle.result()) as ReingestReport;
    assert.equal(report.outcome, 'switched');
    assert.deepEqual({ sourceRows: report.parity?.sourceRows, points: report.parity?.points }, { sourceRows: ROWS, points: ROWS });
    assert.ok(report.gate && report.gate.recall >= 0.9, `recall@10 ${report.gate?.recall}`);
    const stats = await embedder.stats();
    assert.ok(stats.requestsByRoute.ollama > 0 && stats.requestsByRoute.openai === 0, JSON.stringify(stats.requestsByRoute));
    assert.equal(await aliasTarget(), report.collection);
  });

  test('the embedder answering 429 with Retry-After, then 500s for a while: the run slows down and completes; a 400 for one oversized row fails naming its key', { timeout: 900_000 }, async () => {
    // Slow pages, so the faults land in the ingest rather than in the plan's probe.
    await embedder.faults({ delayMs: 100 });
    const faulty = await start({ window: '1s', pageSize: 50 });
    await waitFor(faulty.workflowId, 'the ingest', (r) => r.phase === 'ingest', 300_000);
    const faultsAt = Date.now();
    await embedder.faults({ delayMs: 100, status429: 2, retryAfterSeconds: 2, status500: 4 });
    const report = (await faulty.result()) as ReingestReport;
    assert.equal(report.outcome, 'switched');
    assert.equal(report.parity?.points, ROWS);
    const stats = await embedder.stats();
    assert.deepEqual(stats.faultsServed, { status429: 2, status500: 4 });
    assert.ok(report.ingest.embedRetries >= 2, `the ingest waited out the faults: ${JSON.stringify(report.ingest)}`);
    assert.ok(Date.now() - faultsAt >= 2_000, 'Retry-After: 2 was honoured');

    await liveCollectionOnly();
    const handle = await start({ stack: 'oversized' });
    const failure = await handle.result().then(
      () => assert.fail('the run switched'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError, String(failure));
    let root: Error | undefined = failure;
    while (root?.cause instanceof Error) root = root.cause;
    assert.match(root?.message ?? '', new RegExp(`row id=${OVERSIZED_KEY}`), String(root?.message));
    assert.equal(await aliasTarget(), 'docs_v1');
    assert.deepEqual(await collections(), ['docs_v1'], 'the new collection is deleted');
    const status = await reingestStatus(client, handle.workflowId);
    assert.equal(status.newCollectionDeleted, true);
  });

  test('a worker killed with SIGKILL mid-ingest: a new worker resumes after the last checkpointed page; the embedder served fewer than 1.1 × the rows; the count is exact', { timeout: 900_000 }, async () => {
    const crashQueue = uniqueName('reingest-crash');
    const configPath = await writeStacksFile(store.path, stacks());
    const env = { REINGEST_TEST_QDRANT_KEY: QDRANT_KEY, REINGEST_TEST_EMBED_KEY: EMBED_KEY, PATH: process.env.PATH ?? '' };
    // About 100 rows/s, so the kill lands mid-call (20 pages of 100 rows) and the heartbeat
    // checkpoint (at most a second old) is far from both the call's start and the beginning.
    await embedder.faults({ delayMs: 1_000 });
    let first = spawnWorkerProcess({ address: temporal.address, taskQueue: crashQueue, configPath, env });
    const handle = await startReingest(client, { stack: 'prod', alias: 'docs', source: 'chunks', embedder: 'minilm', pageSize: 100, batchSize: 50, window: '1s' }, { taskQueue: crashQueue, workflowId: uniqueName('reingest-crash') });
    let second: ReturnType<typeof spawnWorkerProcess> | undefined;
    try {
      const deadline = Date.now() + 300_000;
      while ((await embedder.stats()).inputsEmbedded < 1_300) {
        if (Date.now() > deadline) throw new Error(`the ingest never got going: ${first.output().slice(-2000)}`);
        await sleep(50);
      }
      first.kill('SIGKILL');
      await first.process;
      const atKill = (await embedder.stats()).inputsEmbedded;
      await embedder.faults({ delayMs: 0 });
      second = spawnWorkerProcess({ address: temporal.address, taskQueue: crashQueue, configPath, env });
      const report = (await handle.result()) as ReingestReport;
      const served = (await embedder.stats()).inputsEmbedded;
      console.log(`killed at ${atKill} texts embedded; ${served} in all for ${ROWS} rows (${(served / ROWS).toFixed(3)} ×)`);
      assert.equal(report.outcome, 'switched');
      assert.equal(report.parity?.points, ROWS);
      assert.equal(report.parity?.passed, true);
      // Rows, the golden queries and the probe: a restart from zero would be over 1.26 ×.
      assert.ok(served < 1.1 * ROWS, `the embedder served ${served} texts for ${ROWS} rows`);
    } finally {
      first.kill('SIGKILL');
      await second?.stop();
    }
  });

  test('cancelled mid-ingest: the new collection is deleted, the alias never moved', { timeout: 900_000 }, async () => {
    await embedder.faults({ delayMs: 200 });
    const handle = await start({ pageSize: 50 });
    const ingesting = await waitFor(handle.workflowId, 'the ingest', (r) => r.phase === 'ingest');
    await handle.cancel();
    await handle.result().then(
      () => assert.fail('the run finished'),
      (error: unknown) => assert.ok(error instanceof WorkflowFailedError && /cancel/i.test(String(error.cause)), String(error)),
    );
    assert.equal(await aliasTarget(), 'docs_v1');
    assert.deepEqual(await collections(), ['docs_v1'], `${ingesting.collection} is deleted`);
  });
});

/** The live collection `docs_v1` (384 dimensions, a payload index, one point) behind `docs`, nothing else; the embedder's counters and faults reset. */
async function liveCollectionOnly(): Promise<void> {
  await embedder.reset();
  for (const { name } of (await qdrant.getCollections()).collections) await qdrant.deleteCollection(name);
  await qdrant.createCollection('docs_v1', { vectors: { size: MINILM_DIMENSIONS, distance: 'Cosine' }, hnsw_config: { m: 24, ef_construct: 200 } });
  await qdrant.createPayloadIndex('docs_v1', { field_name: 'document_id', field_schema: 'keyword', wait: true });
  await qdrant.upsert('docs_v1', { wait: true, points: [{ id: 999_999, vector: Array.from({ length: MINILM_DIMENSIONS }, (_, i) => (i === 0 ? 1 : 0)), payload: { document_id: 'old' } }] });
  await qdrant.updateCollectionAliases({ actions: [{ create_alias: { alias_name: 'docs', collection_name: 'docs_v1' } }] });
}