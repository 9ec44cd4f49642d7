import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';

const retry: ActivityOptions['retry'] = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
  // A key that cannot open an artifact, or ciphertext that is not as written, fails the same way every time.
  nonRetryableErrorTypes: ['InvalidInput', 'ConfigError', 'EncryptionKeyMismatch', 'EncryptionKeyUnknown', 'EncryptedStreamCorrupt'],
};

/**
 * A cancelled step waits until its activity has really stopped (its child process killed, its
 * request aborted, its own cleanup done), so the cleanup that follows never races it — e.g. a
 * drill dropping its scratch database while pg_restore is still creating it.
 */
const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/** Short calls: reading config, listing, writing a manifest. */
const quick: ActivityOptions = { startToCloseTimeout: '2m', retry, cancellationType };

/**
 * Streams of any size: no useful start-to-close bound, so liveness comes from heartbeats.
 * A worker that dies is noticed within the heartbeat timeout (10 s, well under 30 s) and the
 * step moves on. Activities beat on a 2 s timer; the SDK sends at most one heartbeat per
 * 0.8 × timeout (8 s), which is also how soon a cancellation reaches a running activity —
 * a longer timeout would delay both.
 */
const streaming: ActivityOptions = { startToCloseTimeout: '12h', heartbeatTimeout: '10s', retry, cancellationType };

/** Activities whose UI summary says what this call is doing (e.g. "pg_dump app"). */
export function quickActivities(summary: string) {
  return proxyActivities<Activities>({ ...quick, summary });
}

export function streamingActivities(summary: string) {
  return proxyActivities<Activities>({ ...streaming, summary });
}

/**
 * Streams from an operator's own command (exec dumps): one that exits non-zero usually does so
 * again the same way, so a few tries, then the run says why instead of retrying for minutes.
 */
export function operatorCommandActivities(summary: string) {
  return proxyActivities<Activities>({ ...streaming, retry: { ...retry, maximumAttempts: 3 }, summary });
}

/**
 * An operator's command that writes where a component lives (an exec dump's restore): run once.
 * A second run would feed the whole artifact again over what the first left half-applied.
 */
export function operatorWriteActivities(summary: string) {
  return proxyActivities<Activities>({ ...streaming, retry: { ...retry, maximumAttempts: 1 }, summary });
}

/** Best-effort housekeeping (the janitor): a few tries, then the runbook goes on without it. */
export function housekeepingActivities(summary: string) {
  return proxyActivities<Activities>({ ...streaming, retry: { ...retry, maximumAttempts: 3 }, summary });
}

/**
 * Putting things back after a failure: retried, but not for minutes — a run stuck retrying a
 * rollback tells the operator nothing, while a run that ends with "rollback did NOT verify"
 * and its evidence does.
 */
export function compensationActivities(summary: string, kind: 'quick' | 'streaming' = 'quick') {
  return proxyActivities<Activities>({ ...(kind === 'quick' ? quick : streaming), retry: { ...retry, maximumInterval: '10s', maximumAttempts: 5 }, summary });
}

/**
 * Telling a webhook: five tries over about fifteen seconds, then the run goes on without it.
 * A receiver that refuses the message (a 4xx other than 408/429) refuses it again.
 */
export function notifyActivities(summary: string) {
  return proxyActivities<Activities>({
    // Above the longest webhook timeout (60 s), so the request's own timeout is what ends a slow try.
    startToCloseTimeout: '90s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5, nonRetryableErrorTypes: ['WebhookRejected', 'ConfigError', 'InvalidInput'] },
    summary,
  });
}
