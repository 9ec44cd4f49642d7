import { ApplicationFailure } from '@temporalio/common';
import type { HttpCheck } from '../../config/stacks/deploy.js';
import type { HttpJsonProvider } from '../../config/stacks/metrics.js';
import { redactUrls, scrubSecrets } from '../../core/redact.js';
import { resolveHeaders } from '../http/headers.js';
import type { Observation } from './judge.js';

type Step = string | number;

/** `a.b[0]["x.y"]` → ['a', 'b', 0, 'x.y']; a leading `$` or `$.` is the root. */
export function parseJsonPath(path: string): Step[] {
  const steps: Step[] = [];
  const step = /\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["([^"\\]+)"\]/y;
  const rest = path.replace(/^\$\.?/, '');
  while (step.lastIndex < rest.length) {
    const at = step.lastIndex;
    const match = step.exec(rest);
    if (!match) throw new Error(`${path} is not a path like a.b[0].c (at "${rest.slice(at)}")`);
    steps.push(match[1] ?? (match[2] !== undefined ? Number(match[2]) : match[3]!));
  }
  return steps;
}

/** What is at `path` in `document`, or why nothing is: the first step that found nothing. */
export function readJsonPath(document: unknown, path: string): { found: true; value: unknown } | { found: false; reason: string } {
  let current: unknown = document;
  let walked = '$';
  for (const step of parseJsonPath(path)) {
    const next = typeof step === 'number' ? `${walked}[${step}]` : `${walked}.${step}`;
    if (typeof step === 'number' ? !Array.isArray(current) || step >= current.length : current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, step)) {
      return { found: false, reason: `nothing at ${next}` };
    }
    current = (current as Record<string | number, unknown>)[step];
    walked = next;
  }
  return { found: true, value: current };
}

/** A number read at a path: a JSON number, or a string holding one (`"0.05"`, as Prometheus writes them). */
export function numberAt(document: unknown, path: string): { value: number | null; why?: string } {
  const read = readJsonPath(document, path);
  if (!read.found) return { value: null, why: read.reason };
  const { value } = read;
  if (typeof value === 'number') return { value };
  if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return { value: Number(value) };
  if (typeof value === 'string' && /^[+-]?(nan|inf)/i.test(value.trim())) return { value: Number.NaN };
  return { value: null, why: `${path} holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not a number` };
}

/**
 * GETs the URL and reads the number at the path. Header secrets are resolved here (ConfigError
 * when one is missing). Unreachable, 5xx, 429 → retryable; another non-2xx status →
 * ConfigError; an answer that is not JSON or holds no number there → no value, with the reason.
 */
export async function observeHttpJson(provider: HttpJsonProvider, signal: AbortSignal, what: string): Promise<Observation> {
  const request = await resolveHeaders({ url: provider.url, headers: provider.headers } as HttpCheck, what);
  const where = redactUrls(provider.url);
  const safe = (text: string) => scrubSecrets(redactUrls(text), request.secrets);
  let response: Response;
  try {
    response = await fetch(provider.url, {
      headers: { accept: 'application/json', ...request.headers },
      signal: AbortSignal.any([signal, AbortSignal.timeout(provider.timeoutSeconds * 1000)]),
      redirect: 'manual',
    });
  } catch (error) {
    if (signal.aborted) throw error;
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    throw ApplicationFailure.retryable(`${where} cannot be reached (${safe(cause)}); retrying`, 'MetricsUnavailable');
  }
  const text = await response.text();
  if (response.status >= 500 || response.status === 429 || response.status === 408) {
    throw ApplicationFailure.retryable(`${where} answered HTTP ${response.status}; retrying`, 'MetricsUnavailable');
  }
  if (response.status < 200 || response.status > 299) {
    const hint = response.status === 401 || response.status === 403 ? "; check the metric's headers" : '';
    throw ApplicationFailure.nonRetryable(`${where} answered HTTP ${response.status}, not a JSON document${hint}`, 'ConfigError');
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { value: null, samples: null, missing: `${where} did not answer JSON (it began ${JSON.stringify(safe(text.slice(0, 40)))})` };
  }
  const main = numberAt(document, provider.path);
  const samples = provider.samplesPath === undefined ? null : numberAt(document, provider.samplesPath).value;
  return {
    value: main.value,
    samples: samples !== null && Number.isFinite(samples) ? samples : null,
    ...(main.why ? { missing: `${main.why} in the answer of ${where}` } : {}),
  };
}
