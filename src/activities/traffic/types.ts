import { ApplicationFailure } from '@temporalio/common';
import type { DeployTarget } from '../../config/stacks/deploy.js';
import type { TrafficShifter, TrafficShifterType } from '../../config/stacks/traffic.js';

/** What setting a weight did: the canary's share now in force, and what was done to get there. */
export interface WeightResult {
  weight: number;
  detail: string;
}

/** The canary's share as the proxy has it now; null when it cannot be told (the detail says why). */
export interface WeightReading {
  weight: number | null;
  detail: string;
}

/** What a driver gets from the activity around it. */
export interface ShifterContext {
  /** The activity's cancellation: passed to every socket and request. */
  signal: AbortSignal;
  /** Progress for the heartbeat (no values of secrets); the activity also beats on a timer. */
  beat(details: Record<string, unknown>): void;
  /**
   * The service's deploy target, when the caller passed it: the Kubernetes shifters act in its
   * namespace (kubeconfig, context), which their configs do not repeat. The proxy shifters
   * (haproxy, caddy, http) need none.
   */
  target?: DeployTarget;
}

/**
 * One traffic router (Argo Rollouts' `trafficrouting/<router>` interface, reduced to what the
 * canary needs): one file per type exports one, and src/activities/traffic/index.ts dispatches
 * on `shifter.type`.
 *
 * - `set` makes the canary's share `weight` (0-100) and is idempotent: setting the weight in
 *   force again changes nothing. Bad configuration (no such backend, server, route; no
 *   permission) throws `configError` — retrying cannot fix it; a connection that fails or an
 *   answer that is not understood throws a retryable error.
 * - `read` answers the share in force, or null with the reason ("not supported" rather than
 *   pretending). Its errors are classified like `set`'s.
 */
export interface ShifterDriver<S extends TrafficShifter = TrafficShifter> {
  set(shifter: S, weight: number, ctx: ShifterContext): Promise<WeightResult>;
  read(shifter: S, ctx: ShifterContext): Promise<WeightReading>;
}

/** A driver per shifter type, each typed with its own shifter. */
export type ShifterDrivers = { [T in TrafficShifterType]: ShifterDriver<Extract<TrafficShifter, { type: T }>> };

/** Bad configuration: says what and where, and is never retried. */
export function configError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'ConfigError');
}

/** A transient fault (connection refused, reset, timeout, 5xx): the activity's retry policy tries again. */
export function unreachable(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, 'TrafficShifterUnreachable');
}

/** The stable share that goes with a canary share: the two add up to 100. */
export function stableWeightFor(canaryWeight: number): number {
  return 100 - canaryWeight;
}

/** The canary's share, 0-100 rounded to a tenth, of two relative weights; null when both are 0 (nothing is served). */
export function canaryShare(stableWeight: number, canaryWeight: number): number | null {
  const total = stableWeight + canaryWeight;
  if (total <= 0) return null;
  return Math.round((canaryWeight / total) * 1000) / 10;
}

/** `(error as Error).message`, with the cause of a fetch failure ("fetch failed" says nothing). */
export function errorReason(error: unknown): string {
  const cause = (error as Error).cause;
  if (cause instanceof Error) return (cause as NodeJS.ErrnoException).code ? `${(cause as NodeJS.ErrnoException).code}: ${cause.message}` : cause.message;
  return (error as Error).message;
}
