import { proxyActivities } from '@temporalio/workflow';
import type { CanaryOptions } from '../../config/inputs.js';
import type { CanaryPlan, DeployPlan } from '../../config/plan.js';
import type { MetricConfig } from '../../config/stacks/metrics.js';
import type { TrafficShifter } from '../../config/stacks/traffic.js';
import type { DeployTarget } from '../../config/stacks/deploy.js';
import type { MeasurementLike } from '../../core/canary.js';

/** The activities a canary calls beyond a deploy's; implemented in src/activities/{plan,traffic,metrics}. */
export interface CanaryActivities {
  resolveCanaryPlan(input: { options: CanaryOptions }): Promise<CanaryPlan>;
  setTrafficWeight(input: { shifter: TrafficShifter; weight: number; target?: DeployTarget }): Promise<{ weight: number; detail: string }>;
  measureMetric(input: { metric: MetricConfig; context: { service: string; canary: string; stable: string; interval: string } }): Promise<MeasurementLike>;
  /** Starts the canary version beside the stable one (Kubernetes `<deployment>-canary`, Compose `<service>-canary`). */
  launchCanaryVersion(input: { plan: DeployPlan; image: string }): Promise<string>;
  removeCanaryVersion(input: { plan: DeployPlan }): Promise<string>;
}

const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 10, nonRetryableErrorTypes: ['InvalidInput', 'ConfigError'] };

export function canaryActivities(summary: string) {
  return proxyActivities<CanaryActivities>({ startToCloseTimeout: '5m', heartbeatTimeout: '10s', retry, summary });
}
