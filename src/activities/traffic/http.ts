import type { HttpCheck } from '../../config/stacks/deploy.js';
import { renderWeightBody, type HttpShifter } from '../../config/stacks/traffic.js';
import { redactUrls, scrubSecrets } from '../../core/redact.js';
import { resolveHeaders, type ResolvedHeaders } from '../http/headers.js';
import { configError, errorReason, unreachable, type ShifterContext, type ShifterDriver, type WeightReading, type WeightResult } from './types.js';

// The application's own admin endpoint (the AI Docs CanaryRouter case): the share goes out as
// a JSON body rendered from the shifter's template ({{weight}} → the number), with headers
// whose secret values are resolved here, inside the activity, and scrubbed from everything
// this driver reports — details and errors alike (an endpoint may echo a header back). With a
// `readUrl` the share is read back (before writing: nothing is sent when it is already in
// force; after: the answer reported is what the endpoint now holds); without one it cannot be
// read, and `read` says so instead of pretending.

const REQUEST_TIMEOUT_MS = 10_000;
const BODY_TAIL = 200;

export interface HttpWeightRequest {
  method: HttpShifter['method'];
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The request that sets `weight`, with the headers already resolved; JSON unless the shifter says another content-type. */
export function httpWeightRequest(shifter: Pick<HttpShifter, 'method' | 'url' | 'body'>, weight: number, headers: Record<string, string> = {}): HttpWeightRequest {
  const hasContentType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  return {
    method: shifter.method,
    url: shifter.url,
    headers: hasContentType ? { ...headers } : { 'content-type': 'application/json', ...headers },
    body: renderWeightBody(shifter.body, weight),
  };
}

/** The value at a dotted path (`canary.weight`, `routers.0.share`); undefined where the path leads nowhere. */
export function valueAtPath(value: unknown, path: string | undefined): unknown {
  if (path === undefined) return value;
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(key)) return undefined;
      current = current[Number(key)];
    } else {
      if (!Object.prototype.hasOwnProperty.call(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    }
  }
  return current;
}

/** A share 0-100 from what the endpoint answered (a number or a numeric string); null otherwise. */
export function shareFrom(value: unknown): number | null {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(number) && number >= 0 && number <= 100 ? number : null;
}

/** 4xx answers that a retry may change: timeout, too early, too many requests. */
const RETRYABLE_4XX = new Set([408, 425, 429]);

interface Prepared {
  request: ResolvedHeaders;
  safe: (text: string) => string;
  where: string;
}

async function prepare(shifter: HttpShifter): Promise<Prepared> {
  // resolveHeaders reads only `url` (for its messages) and `headers` of a check.
  const request = await resolveHeaders({ url: shifter.url, headers: shifter.headers } as HttpCheck, 'http traffic shifter');
  const safe = (text: string) => scrubSecrets(redactUrls(text), request.secrets);
  return { request, safe, where: `http shifter` };
}

async function send(url: string, init: RequestInit, ctx: ShifterContext, prepared: Prepared, what: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    throw unreachable(prepared.safe(`${prepared.where}: ${what}: ${errorReason(error)}`));
  }
}

function failure(status: number, body: string, prepared: Prepared, what: string): Error {
  const said = prepared.safe(`${prepared.where}: ${what}: HTTP ${status}${body.trim() ? `: ${body.trim().slice(0, BODY_TAIL)}` : ''}`);
  if (status >= 500 || RETRYABLE_4XX.has(status)) return unreachable(said);
  if (status === 401 || status === 403) return configError(`${said}; the endpoint refused the credentials (the shifter's headers)`);
  if (status >= 300 && status < 400) return configError(`${said}; redirects are not followed: give the final URL`);
  return configError(`${said}; check the shifter's method, url and body against the endpoint`);
}

async function readShare(shifter: HttpShifter, readUrl: string, ctx: ShifterContext, prepared: Prepared): Promise<WeightReading & { raw: string }> {
  const what = `GET ${redactUrls(readUrl)}`;
  const answer = await send(readUrl, { method: 'GET', headers: { accept: 'application/json', ...prepared.request.headers } }, ctx, prepared, what);
  if (answer.status < 200 || answer.status > 299) throw failure(answer.status, answer.body, prepared, what);
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return { weight: null, raw: '', detail: prepared.safe(`${what}: not JSON: ${answer.body.slice(0, BODY_TAIL)}`) };
  }
  const value = valueAtPath(parsed, shifter.readPath);
  const share = shareFrom(value);
  const at = shifter.readPath ? ` at ${shifter.readPath}` : '';
  const raw = prepared.safe(JSON.stringify(value) ?? 'nothing');
  return share === null ? { weight: null, raw, detail: `${what}: no share 0-100${at} (found ${raw.slice(0, BODY_TAIL)})` } : { weight: share, raw, detail: `${what}: ${share}${at}` };
}

export const httpDriver: ShifterDriver<HttpShifter> = {
  async set(shifter, weight, ctx): Promise<WeightResult> {
    const prepared = await prepare(shifter);
    if (shifter.readUrl) {
      const before = await readShare(shifter, shifter.readUrl, ctx, prepared);
      if (before.weight === weight) return { weight, detail: prepared.safe(`${prepared.where}: already in force (${before.detail})`) };
    }
    const request = httpWeightRequest(shifter, weight, prepared.request.headers);
    const what = `${request.method} ${redactUrls(request.url)}`;
    ctx.beat({ request: what, weight });
    const answer = await send(request.url, { method: request.method, headers: request.headers, body: request.body }, ctx, prepared, what);
    if (answer.status < 200 || answer.status > 299) throw failure(answer.status, answer.body, prepared, what);
    const sent = prepared.safe(`${prepared.where}: ${what}: HTTP ${answer.status}`);
    if (!shifter.readUrl) return { weight, detail: `${sent}; not read back (the shifter has no readUrl)` };
    const after = await readShare(shifter, shifter.readUrl, ctx, prepared);
    if (after.weight !== weight) {
      throw unreachable(prepared.safe(`${sent}, but the endpoint now reports ${after.detail}; it may apply the change later, or another writer changed it`));
    }
    return { weight, detail: prepared.safe(`${sent}; read back: ${after.detail}`) };
  },

  async read(shifter, ctx): Promise<WeightReading> {
    if (!shifter.readUrl) return { weight: null, detail: 'http shifter: not supported: the shifter has no readUrl to read the share from' };
    const prepared = await prepare(shifter);
    const reading = await readShare(shifter, shifter.readUrl, ctx, prepared);
    return { weight: reading.weight, detail: prepared.safe(`${prepared.where}: ${reading.detail}`) };
  },
};
