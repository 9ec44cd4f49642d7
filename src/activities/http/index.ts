import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpCheck } from '../../config/stacks/deploy.js';
import { redactUrls, scrubSecrets } from '../../core/redact.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { resolveHeaders, type ResolvedHeaders } from './headers.js';

export interface HttpEvidence {
  /** The checked URL without its query string or userinfo (a token there must not reach evidence). */
  url: string;
  passed: boolean;
  /** The last answer seen: status and the end of the body, or the connection error. */
  status?: number;
  bodyTail?: string;
  error?: string;
  /** The names of the request headers sent; never their values. */
  headers?: string[];
  attempts: number;
  elapsedMs: number;
}

const BODY_TAIL = 300;
/** One attempt's bound; the check's own timeout bounds the attempts together. */
const REQUEST_TIMEOUT_MS = 5_000;

type Answer = Pick<HttpEvidence, 'passed' | 'status' | 'bodyTail' | 'error'>;

async function probe(check: HttpCheck, request: ResolvedHeaders, signal: AbortSignal): Promise<Answer> {
  // What the check reports passes through both scrubs: a server may echo the URL or a header back.
  const safe = (text: string) => scrubSecrets(redactUrls(text), request.secrets);
  try {
    const response = await fetch(check.url, {
      headers: request.headers,
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      redirect: 'manual',
    });
    const body = await response.text();
    const passed = response.status === check.expectStatus && (check.bodyIncludes === undefined || body.includes(check.bodyIncludes));
    return { passed, status: response.status, bodyTail: safe(body.slice(-BODY_TAIL)) };
  } catch (error) {
    if (signal.aborted) throw error;
    const reason = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    return { passed: false, error: safe(reason) };
  }
}

/**
 * Polls one check until it passes or its timeout runs out; the evidence says which. The wait
 * between attempts ends early on cancellation; the caller's heartbeat timer covers it.
 */
async function waitForCheck(check: HttpCheck, request: ResolvedHeaders, signal: AbortSignal, onAttempt: (evidence: HttpEvidence) => void): Promise<HttpEvidence> {
  const started = Date.now();
  const base = { url: redactUrls(check.url), ...(request.names.length > 0 ? { headers: request.names } : {}) };
  for (let attempts = 1; ; attempts += 1) {
    const answer = await probe(check, request, signal);
    const evidence: HttpEvidence = { ...base, ...answer, attempts, elapsedMs: Date.now() - started };
    onAttempt(evidence);
    if (evidence.passed || evidence.elapsedMs + check.intervalMs > check.timeoutSeconds * 1000) return evidence;
    await sleep(check.intervalMs, undefined, { signal });
  }
}

export function createHttpActivities() {
  return {
    /**
     * Health or smoke checks, each until healthy or its timeout; returns the evidence, passed or
     * not. Header secrets are resolved here (the checks arrive holding references) before any
     * request, so a missing one fails the run at once; the activity heartbeats on a timer for
     * its whole duration, waits between attempts included, whatever `intervalMs` is.
     */
    async runHttpChecks({ checks, what }: { checks: HttpCheck[]; what: string }): Promise<HttpEvidence[]> {
      const progress = new ProgressHeartbeat(what);
      const requests = await Promise.all(checks.map((check) => resolveHeaders(check, what)));
      const latest = checks.map((check) => ({ url: redactUrls(check.url), attempts: 0, status: undefined as number | string | undefined }));
      const report = (index: number) => (evidence: HttpEvidence) => {
        latest[index] = { url: evidence.url, attempts: evidence.attempts, status: evidence.status ?? evidence.error };
        progress.beat({ checks: latest });
      };
      return progress.during(Promise.all(checks.map((check, index) => waitForCheck(check, requests[index]!, progress.signal, report(index)))));
    },
  };
}
