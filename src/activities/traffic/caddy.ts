import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CaddyShifter } from '../../config/stacks/traffic.js';
import { redactUrls } from '../../core/redact.js';
import { canaryShare, configError, errorReason, stableWeightFor, unreachable, type ShifterContext, type ShifterDriver, type WeightReading, type WeightResult } from './types.js';

// Caddy through its admin API. The reverse_proxy handler named by the shifter's `@id` gets
// exactly two upstreams, [stable, canary], and the `weighted_round_robin` selection policy
// (Caddy ≥ 2.7; the installed 2.11 has it) with weights [100 - w, w]: out of every 100
// requests, w go to the canary. The handler is read, changed and written back whole with one
// PATCH /id/<routeId> — one config reload, upstreams and weights together — guarded by
// If-Match with the Etag of the read, so a concurrent change to the config is never
// overwritten (Caddy answers 412 and the read-modify-write starts again). The handler's other
// settings (transport, health checks, headers, other load-balancing options) are kept.
//
// weighted_round_robin refuses weights that are all 0, which [100 - w, w] never is; at 0 %
// the canary keeps its place in the upstreams with weight 0, so it gets no traffic.

const REQUEST_TIMEOUT_MS = 10_000;
/** Read-modify-write attempts when someone else changes the config in between (412). */
const CONFLICT_ATTEMPTS = 5;

export const WEIGHTED_ROUND_ROBIN = 'weighted_round_robin';

type Json = Record<string, unknown>;

/** The admin API URL of the handler: <adminUrl>/id/<routeId>. */
export function caddyHandlerUrl(shifter: Pick<CaddyShifter, 'adminUrl' | 'routeId'>): string {
  return `${shifter.adminUrl.replace(/\/+$/, '')}/id/${encodeURIComponent(shifter.routeId)}`;
}

function upstreamsOf(handler: Json): Json[] {
  return Array.isArray(handler.upstreams) ? (handler.upstreams as unknown[]).filter((u): u is Json => typeof u === 'object' && u !== null) : [];
}

/**
 * The handler with upstreams [stable, canary] and weighted_round_robin [100 - weight, weight].
 * An upstream already listed keeps its other settings (e.g. max_requests); other load-balancing
 * options are kept.
 */
export function caddyWeightedHandler(handler: Json, shifter: Pick<CaddyShifter, 'stable' | 'canary'>, weight: number): Json {
  const existing = upstreamsOf(handler);
  const upstream = (dial: string): Json => ({ ...(existing.find((u) => u.dial === dial) ?? {}), dial });
  const loadBalancing = typeof handler.load_balancing === 'object' && handler.load_balancing !== null ? (handler.load_balancing as Json) : {};
  return {
    ...handler,
    upstreams: [upstream(shifter.stable), upstream(shifter.canary)],
    load_balancing: { ...loadBalancing, selection_policy: { policy: WEIGHTED_ROUND_ROBIN, weights: [stableWeightFor(weight), weight] } },
  };
}

/** What the handler sends to the canary now; null (with why) when its configuration does not say. */
export function caddyShareOf(handler: Json, shifter: Pick<CaddyShifter, 'stable' | 'canary'>): WeightReading {
  const dials = upstreamsOf(handler).map((u) => String(u.dial));
  const stableAt = dials.indexOf(shifter.stable);
  const canaryAt = dials.indexOf(shifter.canary);
  const policy = ((handler.load_balancing as Json | undefined)?.selection_policy ?? {}) as Json;
  const described = `upstreams ${dials.join(', ') || 'none'}, policy ${String(policy.policy ?? 'random (default)')}`;
  if (canaryAt === -1) {
    return stableAt === -1 ? { weight: null, detail: `neither ${shifter.stable} nor ${shifter.canary} is an upstream (${described})` } : { weight: 0, detail: `the canary is not an upstream (${described})` };
  }
  if (stableAt === -1 && dials.length === 1) return { weight: 100, detail: `the canary is the only upstream (${described})` };
  if (policy.policy !== WEIGHTED_ROUND_ROBIN) {
    return { weight: null, detail: `the handler does not split by weight (${described}); the share is not set by ragops yet` };
  }
  const weights = Array.isArray(policy.weights) ? (policy.weights as unknown[]).map(Number) : [];
  const weightAt = (index: number) => (index === -1 ? 0 : (weights[index] ?? 0));
  const others = weights.reduce((sum, w, index) => (index === stableAt || index === canaryAt ? sum : sum + (w || 0)), 0);
  if (others > 0) return { weight: null, detail: `other upstreams have weight too (${described}, weights ${weights.join(', ')})` };
  const share = canaryShare(weightAt(stableAt), weightAt(canaryAt));
  return share === null ? { weight: null, detail: `all weights are 0 (${described})` } : { weight: share, detail: `weights ${shifter.stable} ${weightAt(stableAt)}, ${shifter.canary} ${weightAt(canaryAt)}` };
}

/** Whether the handler already has exactly what `caddyWeightedHandler` would write. */
export function caddyHandlerHas(handler: Json, shifter: Pick<CaddyShifter, 'stable' | 'canary'>, weight: number): boolean {
  return JSON.stringify(caddyWeightedHandler(handler, shifter, weight)) === JSON.stringify(handler);
}

interface Answer {
  status: number;
  body: string;
  etag: string | null;
}

/**
 * One request to the admin API on a connection of its own (node:http, no keep-alive pool):
 * Caddy closes its admin connections when a config is loaded, so a pooled connection left from
 * an earlier request fails ("other side closed") once anyone changed the config. The admin
 * endpoint's own origin goes in Origin, the one Caddy's admin allows by default, as for its CLI.
 */
async function request(url: string, init: { method: string; headers?: Record<string, string>; body?: string }, ctx: ShifterContext, where: string): Promise<Answer> {
  ctx.signal.throwIfAborted();
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { origin: new URL(url).origin, ...init.headers };
  if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
  return new Promise<Answer>((resolve, reject) => {
    const req = send(url, { method: init.method, headers, agent: false, signal: ctx.signal, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, etag: (response.headers.etag as string | undefined) ?? null }));
      response.on('error', (error) => reject(ctx.signal.aborted ? error : unreachable(`${where}: ${redactUrls(errorReason(error))}`)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (ctx.signal.aborted) reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : error);
      else reject(unreachable(`${where}: ${redactUrls(errorReason(error))}${error.code ? ` (${error.code})` : ''}; is Caddy running with its admin API there?`));
    });
    req.end(init.body);
  });
}

/** Caddy's `{"error": "..."}`, or the start of whatever else it said. */
function caddyError(answer: Answer): string {
  try {
    const parsed = JSON.parse(answer.body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error.slice(0, 600);
  } catch {
    // not JSON: quoted as it is
  }
  return answer.body.trim().slice(0, 300) || '(no body)';
}

/** An answer other than 2xx: config errors at once (no such @id, host not allowed, a config Caddy refuses), the rest retried. */
function failure(answer: Answer, what: string, where: string, shifter: CaddyShifter): Error {
  const said = `${what}: HTTP ${answer.status}: ${caddyError(answer)}`;
  if (answer.status === 404) return configError(`${where}: ${said}; no handler has "@id": "${shifter.routeId}" — set routeId to the @id of the route's reverse_proxy handler`);
  if (answer.status === 403) return configError(`${where}: ${said}; the admin API refuses this worker (allowed origins / enforce_origin in Caddy's admin config)`);
  if (answer.status === 400 || (answer.status === 500 && /loading new config|invalid configuration/i.test(answer.body))) {
    return configError(`${where}: ${said}; Caddy refused the change and kept its config`);
  }
  return unreachable(`${where}: ${said}`);
}

async function getHandler(shifter: CaddyShifter, ctx: ShifterContext, where: string): Promise<{ handler: Json; etag: string | null }> {
  const answer = await request(caddyHandlerUrl(shifter), { method: 'GET' }, ctx, where);
  if (answer.status !== 200) throw failure(answer, `GET /id/${shifter.routeId}`, where, shifter);
  let handler: unknown;
  try {
    handler = JSON.parse(answer.body);
  } catch {
    throw unreachable(`${where}: GET /id/${shifter.routeId} did not answer JSON: ${answer.body.slice(0, 200)}`);
  }
  if (typeof handler !== 'object' || handler === null || (handler as Json).handler !== 'reverse_proxy') {
    throw configError(`${where}: "@id": "${shifter.routeId}" is ${JSON.stringify(handler).slice(0, 200)}, not a reverse_proxy handler; put the @id on the route's reverse_proxy handler`);
  }
  return { handler: handler as Json, etag: answer.etag };
}

function whereOf(shifter: CaddyShifter): string {
  return `caddy admin ${redactUrls(shifter.adminUrl.replace(/\/+$/, ''))}`;
}

export const caddyDriver: ShifterDriver<CaddyShifter> = {
  async set(shifter, weight, ctx): Promise<WeightResult> {
    const where = whereOf(shifter);
    for (let attempt = 1; ; attempt += 1) {
      const { handler, etag } = await getHandler(shifter, ctx, where);
      const before = caddyShareOf(handler, shifter);
      if (caddyHandlerHas(handler, shifter, weight)) {
        return { weight, detail: `${where}: already in force on @id ${shifter.routeId} (${before.detail})` };
      }
      ctx.beat({ patch: `/id/${shifter.routeId}`, weight, attempt });
      const updated = caddyWeightedHandler(handler, shifter, weight);
      const answer = await request(
        caddyHandlerUrl(shifter),
        { method: 'PATCH', headers: { 'content-type': 'application/json', ...(etag ? { 'if-match': etag } : {}) }, body: JSON.stringify(updated) },
        ctx,
        where,
      );
      if (answer.status === 412 && attempt < CONFLICT_ATTEMPTS) continue; // changed since our read: read again
      if (answer.status === 412) throw unreachable(`${where}: the config kept changing under ${CONFLICT_ATTEMPTS} attempts to set the weights; another writer is busy`);
      if (answer.status < 200 || answer.status > 299) throw failure(answer, `PATCH /id/${shifter.routeId}`, where, shifter);
      // Read back: the share reported is what Caddy now runs.
      const { handler: now } = await getHandler(shifter, ctx, where);
      const after = caddyShareOf(now, shifter);
      if (after.weight !== weight) throw unreachable(`${where}: after setting the canary to ${weight} % Caddy has ${after.detail}; another writer may be changing the route`);
      return { weight, detail: `${where}: @id ${shifter.routeId}: ${after.detail} (was ${before.weight ?? 'unknown'} %: ${before.detail})` };
    }
  },

  async read(shifter, ctx): Promise<WeightReading> {
    const where = whereOf(shifter);
    const { handler } = await getHandler(shifter, ctx, where);
    const reading = caddyShareOf(handler, shifter);
    return { weight: reading.weight, detail: `${where}: @id ${shifter.routeId}: ${reading.detail}` };
  },
};
