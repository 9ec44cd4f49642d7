import { CancellationScope, ContinueAsNew, workflowInfo } from '@temporalio/workflow';
import { normalizeClaims, type LeaseClaim } from '../../core/leases.js';
import { quickActivities } from './activities.js';
import type { StepTracker } from './steps.js';

/**
 * Holds the leases on the run's targets while `work` runs: a step "lease" takes them all or
 * fails TargetBusy naming the run that holds one, before anything is touched; they are
 * released afterwards whatever happened, also when the run is cancelled. A run that
 * continues as new keeps them: leases belong to the workflow id, so its next run re-takes
 * them without a gap another run could slip into.
 */
export async function withLeases<T>(steps: StepTracker, runbook: string, claims: LeaseClaim[], work: () => Promise<T>): Promise<T> {
  const { workflowId, runId } = workflowInfo();
  const holder = { workflowId, runId, runbook };
  const wanted = normalizeClaims(claims);
  // Not cancellable: a cancel that arrived while the leases were being taken must still find
  // them recorded here to release; the work below then stops at its first step.
  const { targets } = await CancellationScope.nonCancellable(() =>
    steps.step(
      'lease',
      `hold ${wanted.length} target(s)`,
      () => quickActivities(`lease ${wanted.map((c) => c.target).join(', ')}`).acquireLeases({ claims: wanted, holder }),
      ({ targets: held }) => held.join(', '),
    ),
  );
  let continuing = false;
  try {
    return await work();
  } catch (error) {
    continuing = error instanceof ContinueAsNew;
    throw error;
  } finally {
    if (!continuing) await CancellationScope.nonCancellable(() => quickActivities('release leases').releaseLeases({ targets, holder: { workflowId } }));
  }
}
