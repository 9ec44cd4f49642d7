import { ApplicationFailure } from '@temporalio/common';
import { describeSecretRef, resolveSecret, type SecretRef } from '../../config/secrets.js';
import type { PrometheusAuth, PrometheusProvider } from '../../config/stacks/metrics.js';
import { redactUrls, scrubSecrets } from '../../core/redact.js';
import { formatNumber, type Observation } from './judge.js';
import { renderQuery } from './template.js';
import type { MetricContext } from './types.js';

/** Builds the Authorization header of a Prometheus request; `secrets` are what must be scrubbed. */
export async function prometheusAuthorization(auth: PrometheusAuth | undefined): Promise<{ headers: Record<string, string>; secrets: string[] }> {
  if (!auth) return { headers: {}, secrets: [] };
  const resolve = async (ref: SecretRef): Promise<string> => {
    let value: string;
    try {
      value = await resolveSecret(ref);
    } catch (error) {
      // resolveSecret names where it looked, never a value.
      throw ApplicationFailure.nonRetryable(`Prometheus credentials cannot be read: ${(error as Error).message}`, 'ConfigError');
    }
    if (/[\r\n\0]/.test(value)) throw ApplicationFailure.nonRetryable(`Prometheus credentials: the value of ${describeSecretRef(ref)} holds a line break or control character`, 'ConfigError');
    return value;
  };
  if ('bearer' in auth) {
    const token = await resolve(auth.bearer);
    return { headers: { authorization: `Bearer ${token}` }, secrets: [token] };
  }
  const password = await resolve(auth.password);
  const encoded = Buffer.from(`${auth.username}:${password}`).toString('base64');
  return { headers: { authorization: `Basic ${encoded}` }, secrets: [password, encoded] };
}

/** The query endpoint of a Prometheus base URL (with or without a trailing slash or a path prefix). */
export function queryEndpoint(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/query`;
  return url.toString();
}

type Sample = [number, string];
interface QueryAnswer {
  status: 'success' | 'error';
  data?: { resultType: 'scalar' | 'vector' | 'matrix' | 'string'; result: unknown };
  errorType?: string;
  error?: string;
}

/** A query's one number, or why there is none. `series` is how many series the answer held. */
export interface QueryValue {
  value: number | null;
  series: number;
  missing?: string;
}

/** Reads the one number an instant query's answer holds; a range vector or a string is a configuration mistake. */
export function valueOfAnswer(query: string, data: NonNullable<QueryAnswer['data']>): QueryValue {
  switch (data.resultType) {
    case 'scalar':
      return { value: Number((data.result as Sample)[1]), series: 1 };
    case 'vector': {
      const series = data.result as Array<{ metric: Record<string, string>; value: Sample }>;
      if (series.length === 0) return { value: null, series: 0, missing: `the query returned no series (no traffic yet, or labels that match nothing): ${query}` };
      if (series.length > 1) {
        const labels = series.slice(0, 3).map((s) => JSON.stringify(s.metric)).join(', ');
        return { value: null, series: series.length, missing: `the query returned ${series.length} series (${labels}${series.length > 3 ? ', …' : ''}); aggregate it to one, e.g. sum(...): ${query}` };
      }
      return { value: Number(series[0]!.value[1]), series: 1 };
    }
    default:
      throw ApplicationFailure.nonRetryable(`the Prometheus query ${query} returned a ${data.resultType}, not one number: use an instant vector or a scalar (e.g. sum(rate(x[1m])))`, 'ConfigError');
  }
}

/**
 * Runs one instant query. Prometheus unreachable, 5xx, 429 → a retryable error; 400 (bad
 * PromQL) → ConfigError naming the query; 401/403 → ConfigError about the credentials; 422
 * (the query could not be executed on this data) → no value, with Prometheus's reason.
 */
export async function instantQuery(provider: PrometheusProvider, query: string, auth: { headers: Record<string, string>; secrets: string[] }, signal: AbortSignal): Promise<QueryValue> {
  const endpoint = queryEndpoint(provider.url);
  const where = redactUrls(endpoint);
  const safe = (text: string) => scrubSecrets(redactUrls(text), auth.secrets);
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { ...auth.headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ query }).toString(),
      signal: AbortSignal.any([signal, AbortSignal.timeout(provider.timeoutSeconds * 1000)]),
      redirect: 'manual',
    });
  } catch (error) {
    if (signal.aborted) throw error;
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    throw ApplicationFailure.retryable(`Prometheus at ${where} cannot be reached (${safe(cause)}); retrying`, 'MetricsUnavailable');
  }
  const text = await response.text();
  let answer: QueryAnswer | undefined;
  try {
    answer = JSON.parse(text) as QueryAnswer;
  } catch {
    answer = undefined;
  }
  const reason = safe(answer?.error ?? text.slice(0, 300));
  if (response.status === 400 || (response.ok && answer?.status === 'error' && answer.errorType === 'bad_data')) {
    throw ApplicationFailure.nonRetryable(`the Prometheus query ${query} is not valid: ${reason}; fix the metric's query`, 'ConfigError');
  }
  if (response.status === 401 || response.status === 403) {
    throw ApplicationFailure.nonRetryable(`Prometheus at ${where} refused the credentials (HTTP ${response.status}); check the metric's auth`, 'ConfigError');
  }
  if (response.status === 422) return { value: null, series: 0, missing: `Prometheus could not execute ${query}: ${reason}` };
  if (response.status >= 500 || response.status === 429) {
    throw ApplicationFailure.retryable(`Prometheus at ${where} answered HTTP ${response.status} (${reason}); retrying`, 'MetricsUnavailable');
  }
  if (!response.ok || answer?.status !== 'success' || !answer.data) {
    throw ApplicationFailure.nonRetryable(`${where} answered HTTP ${response.status} without a Prometheus query result (${reason}); is the metric's url a Prometheus server?`, 'ConfigError');
  }
  return valueOfAnswer(query, answer.data);
}

/** Observes a Prometheus metric: its query, and the request count behind it when minRequests is set. */
export async function observePrometheus(provider: PrometheusProvider, context: MetricContext, signal: AbortSignal): Promise<Observation> {
  const query = renderQuery(provider.query, context);
  const requestsQuery = provider.minRequestsQuery === undefined ? undefined : renderQuery(provider.minRequestsQuery, context);
  const auth = await prometheusAuthorization(provider.auth);
  const [main, requests] = await Promise.all([instantQuery(provider, query, auth, signal), requestsQuery === undefined ? undefined : instantQuery(provider, requestsQuery, auth, signal)]);
  const count = requests?.value ?? null;
  return {
    value: main.value,
    // The request count is what the value rests on, when it is counted; else the series read.
    samples: requests ? (count !== null && Number.isFinite(count) ? Math.round(count) : null) : main.series,
    ...(main.missing ? { missing: main.missing } : {}),
    ...(requests && provider.minRequests !== undefined ? { requests: { count, minimum: provider.minRequests } } : {}),
    note: requests && count !== null ? `${formatNumber(count)} requests counted` : undefined,
  };
}
