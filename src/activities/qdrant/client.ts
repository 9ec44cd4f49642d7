import { QdrantClient } from '@qdrant/js-client-rest';
import type { QdrantPlan } from '../../config/plan.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import { redactUrls } from '../../core/redact.js';

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

/** What Qdrant said: the client's message is only the status text, Qdrant's own error is in the body. */
function qdrantDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const said = (error as { data?: { status?: { error?: unknown } } }).data?.status?.error;
  return typeof said === 'string' && said !== '' ? `${error.message}: ${said}` : error.message;
}

/**
 * The error of a failed call, naming the endpoint and the step. Redacted: Qdrant echoes the
 * URLs it was handed (a presigned snapshot location) in its errors, and the endpoint's own
 * URL may carry userinfo.
 */
export function describeFailure(what: string, endpoint: QdrantEndpoint, error: unknown): Error {
  return new Error(redactUrls(`Qdrant at ${endpoint.url}: ${what} failed: ${qdrantDetail(error)}`));
}

export async function qdrantCall<T>(what: string, endpoint: QdrantEndpoint, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw describeFailure(what, endpoint, error);
  }
}
