// Ollama's embedding API: POST <server>/api/embed {model, input: [texts], truncate?,
// dimensions?} → {model, embeddings: [[...]], total_duration, load_duration,
// prompt_eval_count}; errors are {error: "message"}. (The older /api/embeddings takes one
// prompt per request; ragops does not use it.) Pure: builds the request and reads the answer.
import type { OllamaEmbedder } from '../../config/stacks/embedders.js';
import { asObject, BadEmbeddingResponse, checkVectors, endpoint, jsonHeaders, modelOf, type EmbeddingRequest, type ParsedEmbeddings } from './vectors.js';

type OllamaRequestConfig = Pick<OllamaEmbedder, 'url' | 'model' | 'dimensions' | 'truncate'>;

export function ollamaEmbedRequest(embedder: OllamaRequestConfig, texts: readonly string[], apiKey?: string): EmbeddingRequest {
  return {
    url: endpoint(embedder.url, 'api/embed'),
    headers: jsonHeaders(apiKey),
    body: JSON.stringify({
      model: embedder.model,
      input: texts,
      ...(embedder.truncate === undefined ? {} : { truncate: embedder.truncate }),
      ...(embedder.dimensions === undefined ? {} : { dimensions: embedder.dimensions }),
    }),
  };
}

export function parseOllamaEmbed(document: unknown, inputs: number): ParsedEmbeddings {
  const answer = asObject(document, 'the answer');
  if (!Array.isArray(answer.embeddings)) {
    const hint = Array.isArray(answer.embedding) ? ' (it has "embedding": that is the old /api/embeddings answer)' : ' (is this an Ollama /api/embed endpoint?)';
    throw new BadEmbeddingResponse(`the answer has no embeddings array${hint}`);
  }
  return { vectors: checkVectors(answer.embeddings, inputs), model: modelOf(answer) };
}

/** The message of an Ollama error answer (`{error: "..."}`), else the text's start. */
export function ollamaErrorText(document: unknown, text: string): string {
  const error = (document as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message;
  return text.trim().slice(0, 300) || '(empty answer)';
}

/** Ollama names a model `name:tag`; `name` alone means `name:latest`. */
export function sameOllamaModel(configured: string, answered: string): boolean {
  const full = (name: string) => (name.includes(':') ? name : `${name}:latest`);
  return full(configured) === full(answered);
}
