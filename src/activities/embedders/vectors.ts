// What every embedding answer must be, whichever API it came through: one vector per input,
// all the same length, finite numbers only. A malformed answer throws BadEmbeddingResponse
// (index.ts turns it into a non-retryable failure naming the embedder).

export class BadEmbeddingResponse extends Error {
  override name = 'BadEmbeddingResponse';
}

/** A request ready for fetch: built by a pure function, sent by index.ts. */
export interface EmbeddingRequest {
  url: string;
  headers: Record<string, string>;
  /** JSON text. */
  body: string;
}

/** An answer read: the vectors in input order, and the model the server says it used (if it says). */
export interface ParsedEmbeddings {
  vectors: number[][];
  model: string | undefined;
}

/** `vectors` checked: `expected` of them, each a non-empty array of finite numbers, all the same length. */
export function checkVectors(vectors: readonly unknown[], expected: number): number[][] {
  if (vectors.length !== expected) throw new BadEmbeddingResponse(`the answer holds ${vectors.length} embeddings for ${expected} inputs`);
  let size: number | undefined;
  vectors.forEach((vector, i) => {
    if (!Array.isArray(vector) || vector.length === 0) throw new BadEmbeddingResponse(`embedding ${i} is ${Array.isArray(vector) ? 'empty' : `not an array (${vector === null ? 'null' : typeof vector})`}`);
    if (size === undefined) size = vector.length;
    else if (vector.length !== size) throw new BadEmbeddingResponse(`embedding ${i} has ${vector.length} dimensions, embedding 0 has ${size}`);
    const bad = vector.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
    if (bad !== -1) throw new BadEmbeddingResponse(`embedding ${i} holds ${JSON.stringify(vector[bad]) ?? String(vector[bad])} at position ${bad}, not a finite number`);
  });
  return vectors as number[][];
}

/** `<base>/<path>`: the base's own path kept, one slash between. */
export function endpoint(base: string, path: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return url.toString();
}

export function jsonHeaders(apiKey: string | undefined): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json', ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }) };
}

/** The document's model field, when it is a non-empty string. */
export function modelOf(document: Record<string, unknown>): string | undefined {
  return typeof document.model === 'string' && document.model !== '' ? document.model : undefined;
}

export function asObject(document: unknown, what: string): Record<string, unknown> {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) throw new BadEmbeddingResponse(`${what} is not a JSON object`);
  return document as Record<string, unknown>;
}
