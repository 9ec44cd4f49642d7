// `npm run bench -- reingest`: the reingest runbook (a `ragops worker` process, PostgreSQL
// source, the real all-MiniLM-L6-v2 behind the OpenAI-compatible test server, the Qdrant
// stand-in) against the embedder alone doing the same work — the same texts, in the same
// batches, with the same requests in flight, called directly — at 20,000 and 40,000 chunks;
// with the worker's memory growth at each size. The server keeps no cache here: every text is
// embedded by the model in both methods. It prints figures and asserts nothing.
import { QdrantClient } from '@qdrant/js-client-rest';
import { parseArgs } from 'node:util';
import { startReingest } from '../src/client/api/runbooks.js';
import type { ReingestReport } from '../src/workflows/reingest/report.js';
import { buildCorpus, goldenQueries, loadCorpus } from '../test/support/corpus.js';
import { MINILM, MINILM_DIMENSIONS, startEmbeddingServer, type TestEmbeddingServer } from '../test/support/embedder.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { startQdrantStandin } from '../test/support/qdrant/index.js';
import { tempDir, uniqueName, writeStacksFile } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { startReadyWorker } from './lib/ragopsBackup.js';
import { sampleRssDuring } from './lib/rssSampler.js';
import { formatTable, megabytes, ratio } from './lib/textTable.js';
import { UsageError } from './lib/usageError.js';

export const reingestUsage = 'reingest [--sizes 20000,40000] [--batch-size 64] [--concurrency 2]';

const TARGET_RATIO = 0.9;

function parseOptions(args: string[]) {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { sizes: { type: 'string', default: '20000,40000' }, 'batch-size': { type: 'string', default: '64' }, concurrency: { type: 'string', default: '2' } } }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 100)) throw new UsageError(`--sizes takes whole numbers of at least 100, comma-separated, not "${values.sizes}"`);
  const batchSize = Number(values['batch-size']);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(batchSize) || batchSize < 1 || !Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--batch-size and --concurrency take positive whole numbers');
  return { sizes, batchSize, concurrency };
}

/**
 * One POST; again once if the server had closed the kept-alive connection while it sat idle
 * (the runbook's run between the two halves is longer than the server's idle timeout).
 */
async function postOnce(url: string, body: string): Promise<Response> {
  const post = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  try {
    return await post();
  } catch (error) {
    if (!(error instanceof TypeError && /other side closed|ECONNRESET/.test(String((error as { cause?: unknown }).cause)))) throw error;
    return post();
  }
}

/** The embedder alone: every text in `batchSize` batches, `concurrency` requests in flight; rows and seconds taken. */
async function embedderAlone(embedder: TestEmbeddingServer, texts: string[], batchSize: number, concurrency: number): Promise<{ rows: number; seconds: number }> {
  const batches = Array.from({ length: Math.ceil(texts.length / batchSize) }, (_, i) => texts.slice(i * batchSize, (i + 1) * batchSize));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) {
        const input = batches[next++]!;
        const response = await postOnce(`${embedder.openaiUrl}/embeddings`, JSON.stringify({ model: MINILM, input }));
        if (!response.ok) throw new Error(`embedder answered ${response.status}: ${await response.text()}`);
        await response.json();
      }
    }),
  );
  return { rows: texts.length, seconds: (performance.now() - started) / 1000 };
}

export async function benchReingest(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const cleanup = new CleanupStack();
  const removeHandlers = cleanup.onSignals();
  try {
    const [temporal, standin, embedder, store] = await Promise.all([startTestTemporal(), startQdrantStandin(), startEmbeddingServer({ threads: 2 }), tempDir('reingest-bench')]);
    cleanup.add('temporal', () => temporal.stop());
    cleanup.add('qdrant stand-in', () => standin.stop());
    cleanup.add('embedding server', () => embedder.stop());
    cleanup.add('store', () => store.remove());
    const qdrant = new QdrantClient({ url: standin.url, checkCompatibility: false });
    // The model's first batches are slower (allocations, lazy initialisation): neither method pays for them.
    await embedderAlone(embedder, buildCorpus(256).map((c) => c.text), options.batchSize, options.concurrency);
    const rows: string[][] = [];
    for (const size of options.sizes) {
      const chunks = buildCorpus(size);
      const db = await createTestDatabase(`reingest_bench_${size}`);
      cleanup.add(`database ${db.name}`, () => db.drop());
      await loadCorpus(await db.client(), chunks);
      const stacks = {
        stacks: {
          bench: {
            store: { type: 'fs', path: store.path },
            postgres: [{ name: 'app', host: '127.0.0.1', port: 5432, database: db.name, user: 'postgres' }],
            qdrant: { url: standin.url },
            reingest: {
              sources: { chunks: { postgres: 'app', query: 'SELECT id, text, document_id FROM chunks', key: 'id', text: 'text', payload: ['document_id'] } },
              embedders: { minilm: { type: 'openai', url: embedder.openaiUrl, model: MINILM } },
              golden: goldenQueries(chunks, 20),
            },
          },
        },
      };
      for (const { name } of (await qdrant.getCollections()).collections) await qdrant.deleteCollection(name);
      await qdrant.createCollection('docs_v1', { vectors: { size: MINILM_DIMENSIONS, distance: 'Cosine' } });
      await qdrant.updateCollectionAliases({ actions: [{ create_alias: { alias_name: 'docs', collection_name: 'docs_v1' } }] });

      // The embedder alone does half its texts before the runbook and half after, so a machine
      // that gets faster or slower during the run weighs on both methods alike.
      const texts = chunks.map((c) => c.text);
      const half = Math.floor(texts.length / 2);
      console.log(`${size} chunks: the embedder alone, first half (batches of ${options.batchSize}, ${options.concurrency} in flight)…`);
      const aloneBefore = await embedderAlone(embedder, texts.slice(0, half), options.batchSize, options.concurrency);

      console.log(`${size} chunks: the reingest runbook…`);
      const taskQueue = uniqueName('reingest-bench');
      const worker = await startReadyWorker({ address: temporal.address, taskQueue, configPath: await writeStacksFile(store.path, stacks), env: { PATH: process.env.PATH ?? '' } });
      const { result: report, rss } = await sampleRssDuring(worker.pid, async () => {
        const handle = await startReingest(temporal.client, { stack: 'bench', alias: 'docs', source: 'chunks', embedder: 'minilm', batchSize: options.batchSize, concurrency: options.concurrency, window: '1s' }, { taskQueue, workflowId: uniqueName('reingest-bench') });
        return (await handle.result()) as ReingestReport;
      });
      await worker.stop();
      console.log(`${size} chunks: the embedder alone, second half…`);
      const aloneAfter = await embedderAlone(embedder, texts.slice(half), options.batchSize, options.concurrency);
      const alone = (aloneBefore.rows + aloneAfter.rows) / (aloneBefore.seconds + aloneAfter.seconds);
      // The ingest phase's own rate: rows over the time from its first page to its last.
      const runbook = report.ingest.rowsPerSecond;
      rows.push([String(size), alone.toFixed(1), runbook.toFixed(1), ratio(runbook, alone), `≥ ${TARGET_RATIO}`, megabytes(rss.growthBytes), megabytes(rss.peakBytes), report.outcome]);
      console.log(`  embedder alone ${alone.toFixed(1)} rows/s; runbook ${runbook.toFixed(1)} rows/s; worker memory +${megabytes(rss.growthBytes)} MB`);
    }
    console.log('');
    console.log(formatTable(['chunks', 'embedder alone rows/s', 'runbook rows/s', 'ratio', 'target', 'worker growth MB', 'worker peak MB', 'outcome'], rows));
  } finally {
    removeHandlers();
    await cleanup.runAll();
  }
}
