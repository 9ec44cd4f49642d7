// When to try an embedding request again. Pure: the clock and the randomness come in.

export interface RetryOptions {
  /** The first backoff (doubled each retry, with jitter). Default 250 ms. */
  initialDelayMs?: number;
  /** The longest backoff between two attempts (a Retry-After may ask for more). Default 10 s. */
  maxDelayMs?: number;
  /**
   * How long one call keeps retrying transient faults (429, 5xx, timeouts, refused
   * connections) before it gives up with a retryable error, for Temporal to retry the
   * activity. Default 120 s.
   */
  budgetMs?: number;
}

export const RETRY_DEFAULTS: Required<RetryOptions> = { initialDelayMs: 250, maxDelayMs: 10_000, budgetMs: 120_000 };

/** Statuses worth trying again: the server is busy, overloaded or briefly broken. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * A Retry-After header in milliseconds from `now`: delay-seconds (`"2"`, `"1.5"` tolerated) or
 * an HTTP date (0 when it is past). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff for retry number `retry` (0 first), "equal jitter": between half and all of the step. */
export function backoffDelay(retry: number, options: Required<RetryOptions>, random: () => number = Math.random): number {
  const step = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(retry, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** The wait before the next attempt: what the server asked for, else the backoff. */
export function retryDelay(retry: number, retryAfterMs: number | undefined, options: Required<RetryOptions>, random: () => number = Math.random): number {
  return retryAfterMs !== undefined ? retryAfterMs : backoffDelay(retry, options, random);
}
