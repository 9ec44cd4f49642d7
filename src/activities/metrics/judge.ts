import type { MetricConfig } from '../../config/stacks/metrics.js';
import type { Measurement } from './types.js';

/** What a provider observed, before it is judged. */
export interface Observation {
  /** The number read, or null when there was none (no series, nothing at the path, no answers). */
  value: number | null;
  samples: number | null;
  /** Why there is no value, when `value` is null (e.g. "the query returned no series"). */
  missing?: string;
  /** A count of requests the value rests on and the least the provider wants (Prometheus `minRequests`). */
  requests?: { count: number | null; minimum: number };
  /** Context appended to the detail (the stable version's figures, the query's series). */
  note?: string;
}

/** A number for a detail line: short, and the same on every machine. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Number(value.toPrecision(4)).toString();
}

function describeRange({ min, max }: MetricConfig['thresholdRange']): string {
  if (min !== undefined && max !== undefined) return `[${formatNumber(min)}, ${formatNumber(max)}]`;
  return min !== undefined ? `>= ${formatNumber(min)}` : `<= ${formatNumber(max!)}`;
}

/**
 * Judges one observation of a metric, failing closed: no value, a value that is not a finite
 * number, or too few samples / requests behind it is *inconclusive* (the reason in the detail)
 * — never passed, and not failed either; a value outside the threshold range is *failed*;
 * anything else *passed*. Too little data wins over the range: a bad value from three requests
 * is no more a verdict than a good one.
 */
export function judgeMeasurement(metric: Pick<MetricConfig, 'name' | 'thresholdRange' | 'minSamples'>, observation: Observation, at: Date = new Date()): Measurement {
  const { value, samples } = observation;
  const note = observation.note ? `; ${observation.note}` : '';
  const result = (outcome: Measurement['outcome'], detail: string, shown: number | null = value): Measurement => ({
    metric: metric.name,
    value: shown,
    samples,
    outcome,
    detail: `${detail}${note}`,
    at: at.toISOString(),
  });
  if (value === null) return result('inconclusive', `inconclusive: ${observation.missing ?? 'no value'}`);
  // NaN and ±Inf (0/0, x/0 in a ratio with no traffic) are not measurements; JSON cannot carry them either.
  if (!Number.isFinite(value)) return result('inconclusive', `inconclusive: the value is ${value} (a ratio over no traffic?)`, null);
  if (metric.minSamples !== undefined && (samples === null || samples < metric.minSamples)) {
    return result('inconclusive', `inconclusive: ${samples ?? 'an unknown number of'} samples, fewer than minSamples ${metric.minSamples} (value ${formatNumber(value)})`);
  }
  const requests = observation.requests;
  if (requests && (requests.count === null || !Number.isFinite(requests.count) || requests.count < requests.minimum)) {
    const counted = requests.count === null ? 'no request count (the minRequests query returned nothing)' : `${formatNumber(requests.count)} requests`;
    return result('inconclusive', `inconclusive: ${counted}, fewer than minRequests ${formatNumber(requests.minimum)} (value ${formatNumber(value)})`);
  }
  const { min, max } = metric.thresholdRange;
  const range = describeRange(metric.thresholdRange);
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    return result('failed', `failed: ${formatNumber(value)} is outside ${range}`);
  }
  return result('passed', `passed: ${formatNumber(value)} is within ${range}`);
}
