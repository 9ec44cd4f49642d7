import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** What a route handler sees of a request. */
export interface RequestContext {
  method: string;
  /** URL path without the query string. */
  path: string;
  /** Decoded `{name}` segments of the matched route. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A handler returns the `result` of a success envelope, or a RawReply / ACCEPTED. */
export type Handler = (ctx: RequestContext) => unknown;

/** A reply sent as is, without the JSON envelope (plain text, downloads). */
export class RawReply {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | number>,
    readonly body: string | Buffer | Readable,
    /** When set, the connection is dropped after this many body bytes (a cut-short download). */
    readonly cutAfterBytes?: number,
  ) {}
}

/** `{"status":"accepted","time":...}` with 202, Qdrant's answer to `wait=false`. */
export const ACCEPTED = Symbol('accepted');

/** Answered with Qdrant's error envelope `{"status":{"error":message},"time":...}` unless `plainText`. */
export class QdrantError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly plainText = false,
  ) {
    super(message);
  }
}

// Qdrant's error texts. The prefixes come from its StorageError/CollectionError Display impls.
export const wrongInput = (text: string) => new QdrantError(400, `Wrong input: ${text}`);
export const badRequest = (text: string) => new QdrantError(400, `Bad request: ${text}`);
export const notFound = (text: string) => new QdrantError(404, `Not found: ${text}`);
export const collectionNotFound = (name: string) => notFound(`Collection \`${name}\` doesn't exist!`);
export const collectionAlreadyExists = (name: string) =>
  new QdrantError(409, `Wrong input: Collection \`${name}\` already exists!`);
export const dimensionError = (expected: number, got: number) =>
  wrongInput(`Vector dimension error: expected dim: ${expected}, got ${got}`);

/** Body that does not parse or has the wrong shape (serde's message after the prefix). */
export const formatError = (text: string) => new QdrantError(400, `Format error in JSON body: ${text}`);

/** Field validation failures, e.g. `limit: value 0 invalid, must be 1 or larger`. */
export const validationError = (issues: string[], where = 'JSON body') =>
  new QdrantError(422, `Validation error in ${where}: [${issues.join(', ')}]`);

export function rangeIssue(path: string, value: unknown, min: number, max?: number): string {
  const bound = max === undefined ? `${min} or larger` : `from ${min} to ${max}`;
  return `${path}: value ${String(value)} invalid, must be ${bound}`;
}

export function isWaitTrue(ctx: RequestContext): boolean {
  return ctx.query.get('wait') === 'true';
}

/** Snapshot endpoints wait by default; only an explicit `wait=false` answers 202. */
export function isWaitFalse(ctx: RequestContext): boolean {
  return ctx.query.get('wait') === 'false';
}
