import type { HttpCheck } from '../../config/stacks/deploy.js';
import type { ProbeProvider } from '../../config/stacks/metrics.js';
import { redactUrls, scrubSecrets } from '../../core/redact.js';
import { resolveHeaders, type ResolvedHeaders } from '../http/headers.js';
import { formatNumber, type Observation } from './judge.js';

/** One probe request: how long it took and, when it counts as an error, why. */
export interface ProbeResult {
  /** Time to the end of the body, in ms; absent when no answer came. */
  latencyMs?: number;
  /** Absent when the request went as expected. */
  error?: string;
}

export interface ProbeSummary {
  requests: number;
  answered: number;
  errors: number;
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  /** Error reasons and how often each was seen, most frequent first. */
  reasons: Array<[reason: string, count: number]>;
}

/** The nearest-rank percentile (p in 0–100) of ascending values; null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarizeProbe(results: readonly ProbeResult[]): ProbeSummary {
  const latencies = results.flatMap((r) => (r.latencyMs === undefined ? [] : [r.latencyMs])).sort((a, b) => a - b);
  const reasons = new Map<string, number>();
  for (const { error } of results) if (error !== undefined) reasons.set(error, (reasons.get(error) ?? 0) + 1);
  const errors = results.filter((r) => r.error !== undefined).length;
  return {
    requests: results.length,
    answered: latencies.length,
    errors,
    errorRate: results.length === 0 ? null : errors / results.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    reasons: [...reasons].sort((a, b) => b[1] - a[1]),
  };
}

/** `20 requests, 4 errors (20 %: status 500 ×4), p50 1.2 ms, p95 3.4 ms`. */
export function describeProbe(summary: ProbeSummary): string {
  const ms = (value: number | null) => (value === null ? 'n/a' : `${formatNumber(value)} ms`);
  const why = summary.reasons.length === 0 ? '' : `: ${summary.reasons.map(([reason, count]) => `${reason} ×${count}`).join(', ')}`;
  const rate = summary.errorRate === null ? 'n/a' : `${formatNumber(summary.errorRate * 100)} %`;
  return `${summary.requests} requests, ${summary.errors} errors (${rate}${why}), p50 ${ms(summary.p50)}, p95 ${ms(summary.p95)}`;
}

/** Whether one answer is what the probe expects; the reason when not. */
export function judgeAnswer(provider: Pick<ProbeProvider, 'expectStatus' | 'bodyIncludes' | 'latencyBudgetMs'>, status: number, body: string, latencyMs: number): string | undefined {
  if (status !== provider.expectStatus) return `status ${status}`;
  if (provider.bodyIncludes !== undefined && !body.includes(provider.bodyIncludes)) return 'body without the expected text';
  if (provider.latencyBudgetMs !== undefined && latencyMs > provider.latencyBudgetMs) return `over the ${provider.latencyBudgetMs} ms budget`;
  return undefined;
}

async function probeOnce(url: string, provider: ProbeProvider, request: ResolvedHeaders, signal: AbortSignal): Promise<ProbeResult> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      headers: request.headers,
      signal: AbortSignal.any([signal, AbortSignal.timeout(provider.timeoutMs)]),
      redirect: 'manual',
    });
    const body = await response.text();
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    const error = judgeAnswer(provider, response.status, body, latencyMs);
    return error === undefined ? { latencyMs } : { latencyMs, error };
  } catch (error) {
    if (signal.aborted) throw error;
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error) : (error as Error);
    const reason = cause.name === 'TimeoutError' ? `no answer in ${provider.timeoutMs} ms` : `no answer (${(cause as NodeJS.ErrnoException).code ?? cause.message})`;
    return { error: scrubSecrets(redactUrls(reason), request.secrets) };
  }
}

/** `count` requests to `url`, at most `concurrency` in flight; `onResult` sees each as it ends. */
export async function probeUrl(url: string, provider: ProbeProvider, request: ResolvedHeaders, signal: AbortSignal, onResult: (result: ProbeResult) => void): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < provider.requests) {
      next += 1;
      const result = await probeOnce(url, provider, request, signal);
      results.push(result);
      onResult(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(provider.concurrency, provider.requests) }, worker));
  return results;
}

function valueOf(summary: ProbeSummary, measure: ProbeProvider['measure']): number | null {
  return measure === 'errorRate' ? summary.errorRate : summary[measure];
}

/**
 * ragops' own traffic: `requests` requests to the canary URL (and as many to the stable one,
 * at the same time, for comparison), each an error when its status, body or latency is not
 * what is expected or no answer came. The value is the canary's error rate (0–1) or its p50 /
 * p95 latency in ms over the answered requests; the detail gives both versions' figures.
 */
export async function observeProbe(provider: ProbeProvider, signal: AbortSignal, what: string, onProgress: (progress: { sent: number; errors: number }) => void): Promise<Observation> {
  const request = await resolveHeaders({ url: provider.url, headers: provider.headers } as HttpCheck, what);
  let done = 0;
  let errors = 0;
  const count = (result: ProbeResult) => {
    done += 1;
    if (result.error !== undefined) errors += 1;
    onProgress({ sent: done, errors });
  };
  const [canary, stable] = await Promise.all([
    probeUrl(provider.url, provider, request, signal, count),
    provider.stableUrl === undefined ? undefined : probeUrl(provider.stableUrl, provider, request, signal, count),
  ]);
  const canarySummary = summarizeProbe(canary);
  const stableSummary = stable === undefined ? undefined : summarizeProbe(stable);
  const value = valueOf(canarySummary, provider.measure);
  const compare =
    stableSummary === undefined
      ? ''
      : (() => {
          const stableValue = valueOf(stableSummary, provider.measure);
          const unit = provider.measure === 'errorRate' ? '' : ' ms';
          const show = (v: number | null) => (v === null ? 'n/a' : `${formatNumber(v)}${unit}`);
          return `; stable ${redactUrls(provider.stableUrl!)}: ${describeProbe(stableSummary)}; ${provider.measure} canary ${show(value)} vs stable ${show(stableValue)}`;
        })();
  return {
    value,
    samples: provider.measure === 'errorRate' ? canarySummary.requests : canarySummary.answered,
    ...(value === null ? { missing: `no request to ${redactUrls(provider.url)} was answered` } : {}),
    note: `canary ${redactUrls(provider.url)}: ${describeProbe(canarySummary)}${compare}`,
  };
}
