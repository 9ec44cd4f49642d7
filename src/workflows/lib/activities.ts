import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';

const retry: ActivityOptions['retry'] = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
  nonRetryableErrorTypes: ['InvalidInput', 'ConfigError'],
};

/** Short calls: reading config, listing, writing a manifest. */
const quick: ActivityOptions = { startToCloseTimeout: '2m', retry };

/**
 * Streams of any size: no useful start-to-close bound, so liveness comes from heartbeats.
 * A worker that dies is noticed within the heartbeat timeout and the step moves on.
 */
const streaming: ActivityOptions = { startToCloseTimeout: '12h', heartbeatTimeout: '10s', retry };

/** Activities whose UI summary says what this call is doing (e.g. "pg_dump app"). */
export function quickActivities(summary: string) {
  return proxyActivities<Activities>({ ...quick, summary });
}

export function streamingActivities(summary: string) {
  return proxyActivities<Activities>({ ...streaming, summary });
}
