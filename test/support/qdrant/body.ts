import { formatError, rangeIssue, validationError, type RequestContext } from './protocol.js';

export type JsonObject = Record<string, unknown>;

/**
 * Parses the request body as Qdrant's actix JSON extractor does: a JSON content type is required,
 * and parse failures answer 400 `Format error in JSON body: ...` with serde-like wording.
 * `optional` bodies (count, scroll) may be empty.
 */
export function jsonBody(ctx: RequestContext, options: { optional?: boolean } = {}): JsonObject {
  const text = ctx.body.toString('utf8');
  if (text.trim() === '' && options.optional) return {};
  const contentType = String(ctx.headers['content-type'] ?? '');
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) throw formatError('Content type error');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw formatError(serdeParseMessage(text, error));
  }
  return expectObject(value, 'a JSON object');
}

function serdeParseMessage(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/end of JSON input/.test(message)) return `EOF while parsing a value at ${lineColumn(text, text.length)}`;
  const position = Number(/position (\d+)/.exec(message)?.[1] ?? 0);
  return `expected value at ${lineColumn(text, position + 1)}`;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1);
  return `line ${line} column ${column}`;
}

/** serde's description of an unexpected value, as in `invalid type: string "x", expected u64`. */
export function describeJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `boolean \`${value}\``;
  if (typeof value === 'number') return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (Array.isArray(value)) return 'sequence';
  return 'map';
}

export function invalidType(value: unknown, expected: string): Error {
  return formatError(`invalid type: ${describeJson(value)}, expected ${expected}`);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectObject(value: unknown, expected: string): JsonObject {
  if (!isObject(value)) throw invalidType(value, expected);
  return value;
}

export function requireField(body: JsonObject, key: string): unknown {
  if (body[key] === undefined) throw formatError(`missing field \`${key}\``);
  return body[key];
}

export function optionalString(body: JsonObject, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidType(value, 'a string');
  return value;
}

export function optionalBool(body: JsonObject, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidType(value, 'a boolean');
  return value;
}

export function isUint(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** An unsigned integer field: wrong types are format errors, values below `min` validation errors. */
export function optionalUint(body: JsonObject, key: string, min = 0, path = key): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!isUint(value)) throw invalidType(value, 'usize');
  if (value < min) throw validationError([rangeIssue(path, value, min)]);
  return value;
}

/** Enum variants as serde reports them: unknown variant `x`, expected one of `a`, `b`. */
export function expectVariant<T extends string>(value: unknown, variants: readonly T[]): T {
  if (typeof value !== 'string') throw invalidType(value, 'a string');
  if (!(variants as readonly string[]).includes(value)) {
    const list = variants.map((v) => `\`${v}\``).join(', ');
    throw formatError(`unknown variant \`${value}\`, expected one of ${list}`);
  }
  return value as T;
}
