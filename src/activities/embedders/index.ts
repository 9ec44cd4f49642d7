// Embedding texts through the stack's embedder (OpenAI-compatible or Ollama), for reingest's
// ingest pages and golden queries. One call embeds any number of texts in requests of at most
// `maxBatch`, and deals with the faults an embedding server has:
//   - 429, 408, 5xx, timeouts and refused connections are transient: retried inside the call
//     with exponential backoff, honouring Retry-After (seconds or an HTTP date), for at most
//     the retry budget; then a retryable EmbedderUnavailable, so Temporal retries the activity
//     (with the server's Retry-After as the next retry delay when it gave one).
//   - 400/413/422 on a batch: the batch is bisected until the one row the server refuses is
//     found, and the call fails non-retryable naming that row's key (EmbedderRefusedRow); a
//     batch refused whole whose halves are both accepted (a request-size limit) just succeeds.
//   - 401/403 (EmbedderAuthFailed), an unknown model (EmbedderModelNotFound), another 4xx
//     (ConfigError) and a malformed answer (EmbedderBadResponse) fail at once, non-retryable.
// The API key is resolved here from its secret reference, sent only in the Authorization
// header, and scrubbed from every message; URLs in messages lose query strings and userinfo.
import { ApplicationFailure } from '@temporalio/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeSecretRef, resolveSecret } from '../../config/secrets.js';
import { embedderSchema, type EmbedderConfig, type EmbedderConfigInput } from '../../config/stacks/embedders.js';
import { redactUrls, scrubSecrets } from '../../core/redact.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { ollamaEmbedRequest, ollamaErrorText, parseOllamaEmbed, sameOllamaModel } from './ollama.js';
import { openaiEmbeddingsRequest, openaiErrorText, parseOpenaiEmbeddings } from './openai.js';
import { isTransientStatus, parseRetryAfter, RETRY_DEFAULTS, retryDelay, type RetryOptions } from './retry.js';
import { BadEmbeddingResponse, type EmbeddingRequest, type ParsedEmbeddings } from './vectors.js';

export { parseRetryAfter, backoffDelay, isTransientStatus, RETRY_DEFAULTS, type RetryOptions } from './retry.js';
export { BadEmbeddingResponse, checkVectors, type EmbeddingRequest, type ParsedEmbeddings } from './vectors.js';
export { openaiEmbeddingsRequest, parseOpenaiEmbeddings, openaiErrorText } from './openai.js';
export { ollamaEmbedRequest, parseOllamaEmbed, ollamaErrorText, sameOllamaModel } from './ollama.js';

export type EmbedderInput = EmbedderConfig | EmbedderConfigInput;
export type RowKey = string | number;

export interface EmbedRetryEvent {
  /** Retries so far in this call, this one included. */
  retry: number;
  delayMs: number;
  status?: number;
  /** Why (the server's message, scrubbed), for a heartbeat or a log line. */
  reason: string;
}

export interface EmbedTextsInput {
  /** From the stacks file (parsed or as written: checked and defaulted here). */
  embedder: EmbedderInput;
  texts: readonly string[];
  /** keys[i] names texts[i] in errors (the source's key); default: the position. */
  keys?: readonly RowKey[];
  /** The key's column name in errors (`row id=1042`); default `key`. */
  keyName?: string;
  /** The activity's cancellation signal. */
  signal?: AbortSignal;
  retry?: RetryOptions;
  /** Told before each wait between attempts (a heartbeat's progress, a log line). */
  onRetry?: (event: EmbedRetryEvent) => void;
}

export interface EmbedTextsResult {
  /** One vector per text, in order. */
  vectors: number[][];
  /** The model the server says it used (the configured one when it said nothing). */
  model: string;
  configuredModel: string;
  /** False when an answer named another model than the configured one: the runbook refuses such vectors. */
  modelMatches: boolean;
  /** Whether the answers named a model at all. */
  modelReported: boolean;
  /** The vectors' length (the configured dimensions when there were no texts, else 0). */
  dimensions: number;
  /** HTTP requests sent, retries and bisection included. */
  requests: number;
  /** Waits for a transient fault. */
  retries: number;
}

interface Call {
  embedder: EmbedderConfig;
  apiKey: string | undefined;
  secrets: string[];
  where: string;
  what: string;
  signal: AbortSignal | undefined;
  retry: Required<RetryOptions>;
  startedAt: number;
  deadline: number;
  onRetry: EmbedTextsInput['onRetry'];
  keys: readonly RowKey[] | undefined;
  keyName: string;
  requests: number;
  retries: number;
  answeredModels: string[];
}

type Outcome = { kind: 'ok'; parsed: ParsedEmbeddings } | { kind: 'transient'; reason: string; status?: number; retryAfterMs?: number } | { kind: 'refused'; reason: string; status: number };

/** The embedder checked and defaulted; a bad one is a non-retryable InvalidInput naming the field. */
export function parseEmbedder(given: EmbedderInput): EmbedderConfig {
  const parsed = embedderSchema.safeParse(given);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(embedder)'}: ${issue.message}`).join('; ');
  throw ApplicationFailure.nonRetryable(`the embedder is not valid: ${issues}`, 'InvalidInput');
}

async function resolveApiKey(embedder: EmbedderConfig): Promise<string | undefined> {
  if (embedder.apiKey === undefined) return undefined;
  let value: string;
  try {
    value = await resolveSecret(embedder.apiKey);
  } catch (error) {
    // resolveSecret names where it looked, never a value.
    throw ApplicationFailure.nonRetryable(`the embedder's API key cannot be read: ${(error as Error).message}`, 'ConfigError');
  }
  if (/[\r\n\0]/.test(value)) throw ApplicationFailure.nonRetryable(`the embedder's API key (${describeSecretRef(embedder.apiKey)}) holds a line break or control character`, 'ConfigError');
  return value;
}

function buildRequest(embedder: EmbedderConfig, texts: readonly string[], apiKey: string | undefined): EmbeddingRequest {
  return embedder.type === 'openai' ? openaiEmbeddingsRequest(embedder, texts, apiKey) : ollamaEmbedRequest(embedder, texts, apiKey);
}

function parseAnswer(embedder: EmbedderConfig, document: unknown, inputs: number): ParsedEmbeddings {
  return embedder.type === 'openai' ? parseOpenaiEmbeddings(document, inputs) : parseOllamaEmbed(document, inputs);
}

function errorText(embedder: EmbedderConfig, document: unknown, text: string): string {
  return embedder.type === 'openai' ? openaiErrorText(document, text) : ollamaErrorText(document, text);
}

/** Whether the answer's model is the configured one (Ollama: `name` is `name:latest`). */
export function sameModel(type: EmbedderConfig['type'], configured: string, answered: string): boolean {
  return type === 'ollama' ? sameOllamaModel(configured, answered) : configured === answered;
}

/** An error text that says the model is unknown (servers answer 404, some 400). */
function saysUnknownModel(reason: string): boolean {
  return /model/i.test(reason) && /not[ _]found|does ?n[o']t exist|not exist|unknown|invalid model|not supported|no such/i.test(reason);
}

function safe(call: Pick<Call, 'secrets'>, text: string): string {
  return scrubSecrets(redactUrls(text), call.secrets);
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function causeOf(error: unknown): string {
  const cause = (error as Error).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return (error as Error).message;
}

/** One request: its outcome, or a thrown non-retryable failure. */
async function send(call: Call, texts: readonly string[]): Promise<Outcome> {
  const request = buildRequest(call.embedder, texts, call.apiKey);
  call.requests += 1;
  const timeout = AbortSignal.timeout(call.embedder.timeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: call.signal ? AbortSignal.any([call.signal, timeout]) : timeout,
      redirect: 'manual',
    });
    text = await response.text();
  } catch (error) {
    if (call.signal?.aborted) throw error;
    if (timeout.aborted) return { kind: 'transient', reason: `no answer in ${seconds(call.embedder.timeoutMs)} (timeoutMs)` };
    return { kind: 'transient', reason: `cannot be reached (${safe(call, causeOf(error))})` };
  }
  let document: unknown;
  try {
    document = JSON.parse(text) as unknown;
  } catch {
    document = undefined;
  }
  const { status } = response;
  if (status >= 200 && status < 300) {
    if (document === undefined) throw badResponse(call, `HTTP ${status} with a body that is not JSON (${safe(call, text.trim().slice(0, 200)) || 'empty'})`);
    try {
      return { kind: 'ok', parsed: parseAnswer(call.embedder, document, texts.length) };
    } catch (error) {
      if (error instanceof BadEmbeddingResponse) throw badResponse(call, safe(call, error.message));
      throw error;
    }
  }
  const reason = safe(call, errorText(call.embedder, document, text));
  if (isTransientStatus(status)) return { kind: 'transient', status, reason, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()) };
  if (status === 401 || status === 403) {
    const key = call.embedder.apiKey === undefined ? 'no apiKey is set for it' : `check the key in ${describeSecretRef(call.embedder.apiKey)}`;
    throw ApplicationFailure.nonRetryable(`${call.what} refused the request as unauthorized (HTTP ${status}: ${reason}); ${key}`, 'EmbedderAuthFailed');
  }
  if ((status === 404 && /model/i.test(reason)) || ((status === 400 || status === 422) && saysUnknownModel(reason))) {
    const hint = call.embedder.type === 'ollama' ? `; pull it (ollama pull ${call.embedder.model}) or fix the embedder's model` : "; fix the embedder's model";
    throw ApplicationFailure.nonRetryable(`${call.what} does not serve model ${JSON.stringify(call.embedder.model)} (HTTP ${status}: ${reason})${hint}`, 'EmbedderModelNotFound');
  }
  if ((status === 400 || status === 422) && call.embedder.dimensions !== undefined && /dimension/i.test(reason)) {
    throw ApplicationFailure.nonRetryable(`${call.what} refused dimensions: ${call.embedder.dimensions} (HTTP ${status}: ${reason}); drop the embedder's dimensions or give the size this model supports`, 'ConfigError');
  }
  if (status === 400 || status === 413 || status === 422) return { kind: 'refused', status, reason };
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    throw ApplicationFailure.nonRetryable(`${call.what} answered a redirect (HTTP ${status}${location ? ` to ${safe(call, location)}` : ''}); give the final URL as the embedder's url`, 'ConfigError');
  }
  const base = call.embedder.type === 'openai' ? 'the API base (e.g. http://host:8080/v1)' : 'the Ollama server (e.g. http://host:11434)';
  throw ApplicationFailure.nonRetryable(`${call.what} answered HTTP ${status} (${reason}); is the embedder's url ${base}?`, 'ConfigError');
}

function badResponse(call: Call, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${call.what} gave an answer ragops cannot use: ${message}`, 'EmbedderBadResponse');
}

/** Sends until the outcome is not transient, waiting between attempts, within the call's budget. */
async function withRetries(call: Call, texts: readonly string[]): Promise<Exclude<Outcome, { kind: 'transient' }>> {
  for (let retry = 0; ; retry += 1) {
    const outcome = await send(call, texts);
    if (outcome.kind !== 'transient') return outcome;
    const delayMs = retryDelay(retry, outcome.retryAfterMs, call.retry);
    const what = outcome.status === undefined ? outcome.reason : `HTTP ${outcome.status} (${outcome.reason})`;
    if (Date.now() + delayMs > call.deadline) {
      throw ApplicationFailure.create({
        message: `${call.what} is unavailable: ${what}, after ${retry + 1} attempt${retry === 0 ? '' : 's'} in ${seconds(Date.now() - call.startedAt)}; retrying the activity`,
        type: 'EmbedderUnavailable',
        nonRetryable: false,
        ...(outcome.retryAfterMs !== undefined ? { nextRetryDelay: Math.max(outcome.retryAfterMs, 1) } : {}),
      });
    }
    call.retries += 1;
    call.onRetry?.({ retry: retry + 1, delayMs, ...(outcome.status === undefined ? {} : { status: outcome.status }), reason: outcome.reason });
    await sleep(delayMs, undefined, call.signal ? { signal: call.signal } : {});
  }
}

/** Embeds texts[offset..] in one request; a refused batch is bisected down to the row the server refuses. */
async function embedBatch(call: Call, texts: readonly string[], offset: number): Promise<number[][]> {
  const outcome = await withRetries(call, texts);
  if (outcome.kind === 'ok') {
    if (outcome.parsed.model !== undefined) call.answeredModels.push(outcome.parsed.model);
    return outcome.parsed.vectors;
  }
  if (texts.length > 1) {
    const half = Math.ceil(texts.length / 2);
    const left = await embedBatch(call, texts.slice(0, half), offset);
    const right = await embedBatch(call, texts.slice(half), offset + half);
    return [...left, ...right];
  }
  const key = call.keys?.[offset] ?? offset;
  const row = call.keys ? `${call.keyName}=${String(key)}` : `#${offset}`;
  const truncate = call.embedder.type === 'ollama' && call.embedder.truncate === false ? ' (or let the server truncate it: truncate: true)' : '';
  throw ApplicationFailure.create({
    message: `embedder refused row ${row}: ${outcome.reason} (HTTP ${outcome.status} from ${call.where}); fix or shorten that row${truncate}`,
    type: 'EmbedderRefusedRow',
    nonRetryable: true,
    details: [{ key, status: outcome.status }],
  });
}

/**
 * Embeds `texts` (in requests of at most maxBatch) and checks the answers: one vector per
 * text, one length for all (the configured `dimensions` when set), finite numbers. The
 * model the server names is reported, not judged: `modelMatches` tells the runbook.
 */
export async function embedTexts(input: EmbedTextsInput): Promise<EmbedTextsResult> {
  const embedder = parseEmbedder(input.embedder);
  const { texts, keys } = input;
  if (keys !== undefined && keys.length !== texts.length) throw ApplicationFailure.nonRetryable(`${keys.length} keys for ${texts.length} texts`, 'InvalidInput');
  const bad = texts.findIndex((text) => typeof text !== 'string');
  if (bad !== -1) throw ApplicationFailure.nonRetryable(`text ${keys ? `${input.keyName ?? 'key'}=${String(keys[bad])}` : `#${bad}`} is ${texts[bad] === null ? 'null' : typeof texts[bad]}, not a string`, 'InvalidInput');

  const apiKey = await resolveApiKey(embedder);
  const where = redactUrls(buildRequest(embedder, [], undefined).url);
  const retry = { ...RETRY_DEFAULTS, ...input.retry };
  const startedAt = Date.now();
  const call: Call = {
    embedder,
    apiKey,
    secrets: apiKey === undefined ? [] : [apiKey, `Bearer ${apiKey}`],
    where,
    what: `the ${embedder.type} embedder at ${where}`,
    signal: input.signal,
    retry,
    startedAt,
    deadline: startedAt + retry.budgetMs,
    onRetry: input.onRetry,
    keys,
    keyName: input.keyName ?? 'key',
    requests: 0,
    retries: 0,
    answeredModels: [],
  };

  const vectors: number[][] = [];
  for (let start = 0; start < texts.length; start += embedder.maxBatch) {
    vectors.push(...(await embedBatch(call, texts.slice(start, start + embedder.maxBatch), start)));
  }
  const dimensions = vectors[0]?.length ?? embedder.dimensions ?? 0;
  const odd = vectors.findIndex((vector) => vector.length !== dimensions);
  if (odd !== -1) throw badResponse(call, `embedding ${odd} has ${vectors[odd]!.length} dimensions, embedding 0 has ${dimensions}`);
  if (embedder.dimensions !== undefined && vectors.length > 0 && dimensions !== embedder.dimensions) {
    throw badResponse(call, `its vectors have ${dimensions} dimensions, the embedder's dimensions says ${embedder.dimensions}`);
  }
  const other = call.answeredModels.find((model) => !sameModel(embedder.type, embedder.model, model));
  return {
    vectors,
    model: other ?? call.answeredModels[0] ?? embedder.model,
    configuredModel: embedder.model,
    modelMatches: other === undefined,
    modelReported: call.answeredModels.length > 0,
    dimensions,
    requests: call.requests,
    retries: call.retries,
  };
}

export const PROBE_TEXT = 'ragops probe: how many dimensions does this model give?';

export interface ProbeEmbedderInput {
  embedder: EmbedderInput;
  signal?: AbortSignal;
  retry?: RetryOptions;
}

export interface ProbeEmbedderResult {
  /** The model's vector size, from one probe embedding. */
  dimensions: number;
  model: string;
  configuredModel: string;
  modelMatches: boolean;
  modelReported: boolean;
}

/** One probe embedding: the vector size a new collection needs, and the model the server names. */
export async function probeEmbedder(input: ProbeEmbedderInput): Promise<ProbeEmbedderResult> {
  const result = await embedTexts({ embedder: input.embedder, texts: [PROBE_TEXT], ...(input.signal ? { signal: input.signal } : {}), ...(input.retry ? { retry: input.retry } : {}) });
  const { dimensions, model, configuredModel, modelMatches, modelReported } = result;
  return { dimensions, model, configuredModel, modelMatches, modelReported };
}

export function createEmbedderActivities() {
  return {
    /**
     * Probes the embedder (one embedding): its vector size and the model it names. Heartbeats
     * on a timer while it waits out a rate limit; takes the activity's cancellation.
     */
    async probeEmbedder({ embedder }: { embedder: EmbedderInput }): Promise<ProbeEmbedderResult> {
      const progress = new ProgressHeartbeat('probe embedder');
      return progress.during(probeEmbedder({ embedder, signal: progress.signal }));
    },
  };
}

export type EmbedderActivities = ReturnType<typeof createEmbedderActivities>;
