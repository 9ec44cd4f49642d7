import { QdrantClient } from '@qdrant/js-client-rest';
import type { QdrantPlan } from '../../config/plan.js';
import { resolveOptionalSecret } from '../../config/secrets.js';

export type QdrantEndpoint = Pick<QdrantPlan, 'url' | 'apiKey'>;

export interface QdrantSession {
  client: QdrantClient;
  /** Raw HTTP for what the client has no method for (snapshot download and upload). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export async function openQdrant(endpoint: QdrantEndpoint): Promise<QdrantSession> {
  const apiKey = await resolveOptionalSecret(endpoint.apiKey);
  const client = new QdrantClient({ url: endpoint.url, apiKey, checkCompatibility: false, timeout: 600_000 });
  const base = endpoint.url.replace(/\/$/, '');
  return {
    client,
    fetch: (path, init = {}) =>
      fetch(`${base}${path}`, { ...init, headers: { ...(apiKey ? { 'api-key': apiKey } : {}), ...init.headers } }),
  };
}

export function describeFailure(what: string, endpoint: QdrantEndpoint, error: unknown): Error {
  const detail = error instanceof Error ? error.message : String(error);
  return new Error(`Qdrant at ${endpoint.url}: ${what} failed: ${detail}`);
}

export async function qdrantCall<T>(what: string, endpoint: QdrantEndpoint, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw describeFailure(what, endpoint, error);
  }
}
