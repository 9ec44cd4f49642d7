import type { HttpCheck } from '../../config/stacks/deploy.js';
import { redactUrls } from '../../core/redact.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';

export interface HttpEvidence {
  /** The checked URL without its query string or userinfo (a token there must not reach evidence). */
  url: string;
  passed: boolean;
  /** The last answer seen: status and the end of the body, or the connection error. */
  status?: number;
  bodyTail?: string;
  error?: string;
  attempts: number;
  elapsedMs: number;
}

const BODY_TAIL = 300;

async function probe(check: HttpCheck, signal: AbortSignal): Promise<Omit<HttpEvidence, 'attempts' | 'elapsedMs'>> {
  const url = redactUrls(check.url);
  try {
    const response = await fetch(check.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]), redirect: 'manual' });
    const body = await response.text();
    const passed = response.status === check.expectStatus && (check.bodyIncludes === undefined || body.includes(check.bodyIncludes));
    return { url, passed, status: response.status, bodyTail: redactUrls(body.slice(-BODY_TAIL)) };
  } catch (error) {
    if (signal.aborted) throw error;
    const reason = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    return { url, passed: false, error: redactUrls(reason) };
  }
}

/** Polls one check until it passes or its timeout runs out; the evidence says which. */
export async function waitForCheck(check: HttpCheck, progress: ProgressHeartbeat): Promise<HttpEvidence> {
  const started = Date.now();
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const result = await probe(check, progress.signal);
    const elapsedMs = Date.now() - started;
    progress.beat({ url: result.url, attempts, status: result.status ?? result.error }, true);
    if (result.passed || elapsedMs + check.intervalMs > check.timeoutSeconds * 1000) return { ...result, attempts, elapsedMs };
    await new Promise((resolve) => setTimeout(resolve, check.intervalMs));
  }
}

export function createHttpActivities() {
  return {
    /** Health or smoke checks, each until healthy or its timeout; returns the evidence, passed or not. */
    async runHttpChecks({ checks, what }: { checks: HttpCheck[]; what: string }): Promise<HttpEvidence[]> {
      const progress = new ProgressHeartbeat(what);
      return Promise.all(checks.map((check) => waitForCheck(check, progress)));
    },
  };
}
