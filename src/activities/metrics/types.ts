import type { MetricConfig, MetricConfigInput } from '../../config/stacks/metrics.js';

/** What a measurement is about: the values a Prometheus query's placeholders take. */
export interface MetricContext {
  service: string;
  /** The canary's version label (or digest) as the metrics carry it. */
  canary: string;
  stable: string;
  /** The analysis interval as a Prometheus duration, e.g. `1m`. */
  interval: string;
}

export interface MeasureMetricInput {
  /** Parsed from the stacks file, or as written (a workflow input's steps): the activity validates and defaults it. */
  metric: MetricConfig | MetricConfigInput;
  context: MetricContext;
}

export type MeasurementOutcome = 'passed' | 'failed' | 'inconclusive';

/** One measurement of one metric: safe to record in history (no secret, no query string). */
export interface Measurement {
  metric: string;
  value: number | null;
  /** How many samples the value rests on (probe requests, counted requests, series), when known. */
  samples: number | null;
  outcome: MeasurementOutcome;
  /** Why: the value against the range, or what made it inconclusive. */
  detail: string;
  /** ISO time the measurement was taken. */
  at: string;
}
