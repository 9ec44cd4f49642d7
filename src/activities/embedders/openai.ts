// OpenAI's embeddings API, as OpenAI and the compatible servers (vLLM, LiteLLM, TEI, LocalAI)
// speak it: POST <base>/embeddings {model, input: [texts], encoding_format: "float",
// dimensions?} → {object: "list", data: [{object: "embedding", index, embedding}], model,
// usage}; errors are {error: {message, type, param, code}}. Pure: builds the request and reads
// the answer; index.ts sends it.
import type { OpenaiEmbedder } from '../../config/stacks/embedders.js';
import { asObject, BadEmbeddingResponse, checkVectors, endpoint, jsonHeaders, modelOf, type EmbeddingRequest, type ParsedEmbeddings } from './vectors.js';

type OpenaiRequestConfig = Pick<OpenaiEmbedder, 'url' | 'model' | 'dimensions'>;

export function openaiEmbeddingsRequest(embedder: OpenaiRequestConfig, texts: readonly string[], apiKey?: string): EmbeddingRequest {
  return {
    url: endpoint(embedder.url, 'embeddings'),
    headers: jsonHeaders(apiKey),
    body: JSON.stringify({
      model: embedder.model,
      input: texts,
      encoding_format: 'float',
      ...(embedder.dimensions === undefined ? {} : { dimensions: embedder.dimensions }),
    }),
  };
}

/** The vectors in input order (by `index`, each index 0..n-1 once) and the answer's model. */
export function parseOpenaiEmbeddings(document: unknown, inputs: number): ParsedEmbeddings {
  const answer = asObject(document, 'the answer');
  const data = answer.data;
  if (!Array.isArray(data)) throw new BadEmbeddingResponse('the answer has no data array (is this an OpenAI-compatible /embeddings endpoint?)');
  const ordered: unknown[] = new Array<unknown>(data.length);
  data.forEach((item: unknown, position) => {
    const entry = asObject(item, `data[${position}]`);
    const index = entry.index ?? position;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= data.length) {
      throw new BadEmbeddingResponse(`data[${position}].index is ${JSON.stringify(index)}, not an input index from 0 to ${data.length - 1}`);
    }
    if (ordered[index] !== undefined) throw new BadEmbeddingResponse(`two embeddings for input ${index}`);
    if (typeof entry.embedding === 'string') throw new BadEmbeddingResponse(`data[${position}].embedding is base64: the request asked for encoding_format "float"`);
    ordered[index] = entry.embedding;
  });
  return { vectors: checkVectors(ordered, inputs), model: modelOf(answer) };
}

/** The message of an OpenAI error answer (`{error: {message, code}}`), else the text's start. */
export function openaiErrorText(document: unknown, text: string): string {
  const error = (document as { error?: unknown } | null)?.error;
  if (error && typeof error === 'object') {
    const { message, code } = error as { message?: unknown; code?: unknown };
    if (typeof message === 'string') return typeof code === 'string' && code !== '' ? `${message} (${code})` : message;
  }
  if (typeof error === 'string') return error;
  return text.trim().slice(0, 300) || '(empty answer)';
}
