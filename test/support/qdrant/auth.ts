import type { IncomingHttpHeaders } from 'node:http';
import { QdrantError } from './protocol.js';

export interface AuthKeys {
  apiKey?: string;
  readOnlyApiKey?: string;
}

/** Probes and the version root answer without a key, as in Qdrant. */
const OPEN_PATHS = new Set(['/', '/healthz', '/livez', '/readyz']);

// POSTs that only read: retrieve, count, scroll, and the search family.
const READING_POST = /^\/collections\/[^/]+\/points(\/(count|scroll|query|search|recommend|discover|facet)(\/batch|\/groups)?)?$/;

function isWrite(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD') return false;
  return !(method === 'POST' && READING_POST.test(path));
}

function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers['api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  return bearer?.[1]?.trim();
}

/**
 * Qdrant's api-key check: missing or wrong keys answer 401 in plain text; the read-only key
 * may read but a write answers 403 with the JSON error envelope.
 */
export function checkAccess(keys: AuthKeys, method: string, path: string, headers: IncomingHttpHeaders): QdrantError | undefined {
  if (keys.apiKey === undefined && keys.readOnlyApiKey === undefined) return undefined;
  if (OPEN_PATHS.has(path)) return undefined;
  const key = presentedKey(headers);
  if (key === undefined) return new QdrantError(401, 'Must provide an API key or an Authorization bearer token', {}, true);
  if (key === keys.apiKey) return undefined;
  if (key === keys.readOnlyApiKey) {
    return isWrite(method, path) ? new QdrantError(403, 'Forbidden: Global manage access is required') : undefined;
  }
  return new QdrantError(401, 'Invalid API key or JWT', {}, true);
}
