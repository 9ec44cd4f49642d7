// A test-only workflow that runs health/smoke checks the way the runbooks do: the checks
// (holding secret references, never values) are its input, runHttpChecks runs them in an
// activity with the streaming options' 10 s heartbeat timeout and WAIT_CANCELLATION_COMPLETED.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { HttpEvidence } from '../../src/activities/http/index.js';
import type { createHttpActivities } from '../../src/activities/http/index.js';
import type { HttpCheck } from '../../src/config/stacks/deploy.js';

export interface HttpChecksInput {
  checks: HttpCheck[];
  what: string;
  /** 1 makes a heartbeat timeout fail the run instead of being retried away. */
  maximumAttempts: number;
}

export async function httpChecks({ checks, what, maximumAttempts }: HttpChecksInput): Promise<HttpEvidence[]> {
  const { runHttpChecks } = proxyActivities<ReturnType<typeof createHttpActivities>>({
    startToCloseTimeout: '5m',
    heartbeatTimeout: '10s',
    // No nonRetryableErrorTypes: a ConfigError must stop the retries by itself (nonRetryable).
    retry: { initialInterval: '1s', maximumAttempts },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: what,
  });
  return runHttpChecks({ checks, what });
}
