import { z } from 'zod';
import { secretRef } from '../secretRef.js';

// Embedders: the model servers `reingest` sends text to. Two request shapes, one schema each:
// OpenAI-compatible (`POST <url>/embeddings`: OpenAI, vLLM, LiteLLM, text-embeddings-inference,
// LocalAI...) and Ollama (`POST <url>/api/embed`). The API key is a secret reference,
// resolved inside the embedding activity and sent only as its Authorization header. The
// activities in src/activities/embedders/ (one file per type) act on these.

/** An embedder's name in the stacks file (`embedders.<name>`, the runbook's `embedder` input). */
export const embedderName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'an embedder name: letters, digits and _.- (starting with a letter or digit)');

const httpUrl = z.url({ protocol: /^https?$/ });

const modelName = z
  .string()
  .min(1, 'the model name the server serves, e.g. all-MiniLM-L6-v2 or nomic-embed-text')
  .max(256)
  .regex(/^[^\s\0]+$/, 'a model name without spaces or control characters');

/** Fields both types share. */
const common = {
  model: modelName,
  /** Sent as `Authorization: Bearer <key>` (OpenAI, or an Ollama behind an authenticating proxy). */
  apiKey: secretRef.optional(),
  /**
   * The vector size wanted: sent as the request's `dimensions` (models that can shorten their
   * vectors, e.g. text-embedding-3-*), and every answer must have it. Absent: the model's own.
   */
  dimensions: z.number().int().min(1).max(65_536).optional(),
  /** One request's bound, retries not included. */
  timeoutMs: z.number().int().positive().max(600_000).default(60_000),
  /** Texts per request at most; a larger call is split. */
  maxBatch: z.number().int().min(1).max(2048).default(128),
};

function checkUrl(url: string, suffixes: readonly string[], hint: string, ctx: z.RefinementCtx): void {
  const parsed = new URL(url);
  if (parsed.username !== '' || parsed.password !== '') {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'credentials in the URL would be recorded in workflow history: give the key as apiKey with a secret reference ({ env: NAME } or { file: /path })' });
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'no query string or fragment: tokens in URLs end up in history and logs; give the key as apiKey' });
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  const suffix = suffixes.find((s) => path.endsWith(s));
  if (suffix !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: `${hint} (drop "${suffix}": ragops adds it)` });
}

export const openaiEmbedderSchema = z
  .object({
    type: z.literal('openai'),
    /** The API base, as OpenAI's clients take it: https://api.openai.com/v1, http://127.0.0.1:8080/v1. Requests go to <url>/embeddings. */
    url: httpUrl,
    ...common,
  })
  .strict()
  .superRefine((e, ctx) => checkUrl(e.url, ['/embeddings'], 'give the API base, e.g. http://127.0.0.1:8080/v1', ctx));
export type OpenaiEmbedder = z.infer<typeof openaiEmbedderSchema>;

export const ollamaEmbedderSchema = z
  .object({
    type: z.literal('ollama'),
    /** The Ollama server, e.g. http://127.0.0.1:11434. Requests go to <url>/api/embed. */
    url: httpUrl,
    ...common,
    /**
     * Sent as the request's `truncate`. Ollama truncates inputs longer than the model's context
     * by default, silently; `false` makes it refuse them, and reingest then fails naming the row.
     */
    truncate: z.boolean().optional(),
  })
  .strict()
  .superRefine((e, ctx) => checkUrl(e.url, ['/api/embed', '/api/embeddings', '/api'], 'give the Ollama server, e.g. http://127.0.0.1:11434', ctx));
export type OllamaEmbedder = z.infer<typeof ollamaEmbedderSchema>;

export const embedderSchema = z.discriminatedUnion('type', [openaiEmbedderSchema, ollamaEmbedderSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'an embedder has type: openai (an OpenAI-compatible /v1/embeddings) or type: ollama (/api/embed)' : undefined),
});
export type EmbedderConfig = z.infer<typeof embedderSchema>;
/** An embedder as written in the stacks file, before defaults. */
export type EmbedderConfigInput = z.input<typeof embedderSchema>;
export type EmbedderType = EmbedderConfig['type'];

/** `embedders:` — name → embedder. */
export const embeddersSchema = z.record(embedderName, embedderSchema);
