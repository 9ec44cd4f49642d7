import { ApplicationFailure } from '@temporalio/common';
import { metricSchema, type MetricConfig } from '../../config/stacks/metrics.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { observeHttpJson } from './httpJson.js';
import { judgeMeasurement, type Observation } from './judge.js';
import { observePrometheus } from './prometheus.js';
import { observeProbe } from './probe.js';
import type { MeasureMetricInput, Measurement, MetricContext } from './types.js';

export { judgeMeasurement, type Observation } from './judge.js';
export type { MeasureMetricInput, Measurement, MeasurementOutcome, MetricContext } from './types.js';

async function observe(metric: MetricConfig, context: MetricContext, progress: ProgressHeartbeat): Promise<Observation> {
  const provider = metric.provider;
  const what = `metric ${metric.name}`;
  switch (provider.type) {
    case 'prometheus':
      return observePrometheus(provider, context, progress.signal);
    case 'http-json':
      return observeHttpJson(provider, progress.signal, what);
    case 'probe':
      return observeProbe(provider, progress.signal, what, (figures) => progress.beat(figures));
  }
}

export function createMetricsActivities() {
  return {
    /**
     * Takes one measurement of one metric and judges it against its threshold range: passed,
     * failed, or inconclusive with the reason (no series, NaN, too few samples or requests).
     * Secrets (Prometheus auth, header references) are resolved here and never reach the
     * detail or an error. Heartbeats on a timer for its whole duration (a probe can take a
     * while). Unreachable providers throw a retryable error; a bad query or configuration a
     * non-retryable ConfigError / InvalidInput.
     */
    async measureMetric({ metric: given, context }: MeasureMetricInput): Promise<Measurement> {
      // Checked (and defaulted) again here: a step's metrics may come from a workflow input
      // rather than the validated stacks file. Parsing a parsed metric changes nothing.
      const parsed = metricSchema.safeParse(given);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(metric)'}: ${issue.message}`).join('; ');
        throw ApplicationFailure.nonRetryable(`metric ${JSON.stringify(String((given as { name?: unknown })?.name ?? '?'))} is not valid: ${issues}`, 'InvalidInput');
      }
      const metric = parsed.data;
      const progress = new ProgressHeartbeat(`measure ${metric.name}`);
      const observation = await progress.during(observe(metric, context, progress), { provider: metric.provider.type });
      return judgeMeasurement(metric, observation);
    },
  };
}

export type MetricsActivities = ReturnType<typeof createMetricsActivities>;
