// The decisions of a canary, as pure functions: what a round of measurements means, and
// whether a `setWeight` request may happen. The workflow only carries them out.

export type MeasurementOutcome = 'passed' | 'failed' | 'inconclusive';

export interface MeasurementLike {
  metric: string;
  value: number | null;
  outcome: MeasurementOutcome;
  detail: string;
  at: string;
}

export interface MetricLimits {
  name: string;
  /** Failures tolerated before a rollback (0: the first failure rolls back). */
  failureLimit?: number;
  /** Inconclusive measurements in a row that pause the run (default 1: the first one). */
  inconclusiveLimit?: number;
}

/** Per metric: failures so far, and inconclusive measurements since the last conclusive one. */
export interface AnalysisCounters {
  failures: Record<string, number>;
  inconclusiveInARow: Record<string, number>;
}

export type Verdict = { action: 'continue' } | { action: 'rollback'; reason: string } | { action: 'pause'; reason: string };

export const emptyCounters = (): AnalysisCounters => ({ failures: {}, inconclusiveInARow: {} });

/**
 * Judges one round of measurements. Too many failures roll back; too many inconclusive
 * measurements in a row pause — missing data is a reason to stop, never to promote.
 */
export function judgeRound(
  round: MeasurementLike[],
  before: AnalysisCounters,
  limits: MetricLimits[],
): { verdict: Verdict; counters: AnalysisCounters } {
  const counters: AnalysisCounters = { failures: { ...before.failures }, inconclusiveInARow: { ...before.inconclusiveInARow } };
  const breaches: string[] = [];
  const starved: string[] = [];
  for (const measurement of round) {
    const limit = limits.find((l) => l.name === measurement.metric);
    if (measurement.outcome === 'failed') {
      counters.failures[measurement.metric] = (counters.failures[measurement.metric] ?? 0) + 1;
      counters.inconclusiveInARow[measurement.metric] = 0;
      const failures = counters.failures[measurement.metric]!;
      if (failures > (limit?.failureLimit ?? 0)) breaches.push(`${measurement.metric} = ${measurement.value ?? 'n/a'}: ${measurement.detail} (${failures} failure(s), limit ${limit?.failureLimit ?? 0})`);
    } else if (measurement.outcome === 'inconclusive') {
      counters.inconclusiveInARow[measurement.metric] = (counters.inconclusiveInARow[measurement.metric] ?? 0) + 1;
      if (counters.inconclusiveInARow[measurement.metric]! >= (limit?.inconclusiveLimit ?? 1)) {
        starved.push(`${measurement.metric}: ${measurement.detail}`);
      }
    } else {
      counters.inconclusiveInARow[measurement.metric] = 0;
    }
  }
  if (breaches.length > 0) return { verdict: { action: 'rollback', reason: breaches.join('; ') }, counters };
  if (starved.length > 0) return { verdict: { action: 'pause', reason: `inconclusive, not enough data: ${starved.join('; ')}` }, counters };
  return { verdict: { action: 'continue' }, counters };
}

export interface SteeringState {
  finished: boolean;
  aborted: boolean;
  lastAnalysisFailed: boolean;
  weight: number;
}

/** Why a `setWeight` update must be refused, or undefined when it may go ahead. */
export function setWeightRefusal(state: SteeringState, request: { weight: number; force?: boolean }, maxWeight: number): string | undefined {
  if (!Number.isInteger(request.weight) || request.weight < 0 || request.weight > 100) return `weight ${request.weight} is not a whole number from 0 to 100`;
  if (request.weight > maxWeight) return `weight ${request.weight} is above this canary's maxWeight ${maxWeight}; use promote to go to 100 %`;
  if (state.aborted) return 'the canary was aborted: its weight stays 0';
  if (state.finished) return 'the canary has finished';
  if (request.weight > state.weight && state.lastAnalysisFailed && !request.force) {
    return `the last analysis failed: raising the weight from ${state.weight} to ${request.weight} needs force: true`;
  }
  return undefined;
}
