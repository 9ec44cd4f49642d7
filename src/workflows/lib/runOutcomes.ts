import { CancellationScope, ContinueAsNew, isCancellation, metricMeter, TemporalFailure, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

// A workflow interceptor module every ragops worker registers (src/worker.ts): each finished
// run adds one to ragops_runbook_runs_total{runbook,outcome}. The workflow metric meter skips
// replays, so a run is counted once, by the worker that finished it. A run terminated or timed
// out by the server never reaches workflow code and is not counted here.

export const RUNS_COUNTER = 'ragops_runbook_runs_total';

export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'continued_as_new';

/** What the SDK will do with what the run threw; undefined: a workflow task failure, retried, not an end. */
export function outcomeOfError(error: unknown, cancelRequested: boolean): RunOutcome | undefined {
  if (cancelRequested && isCancellation(error)) return 'cancelled';
  if (error instanceof ContinueAsNew) return 'continued_as_new';
  if (error instanceof TemporalFailure) return 'failed';
  return undefined;
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  const runs = metricMeter.createCounter(RUNS_COUNTER, undefined, 'ragops runbook runs that finished, by workflow type and outcome');
  const count = (outcome: RunOutcome) => runs.add(1, { runbook: workflowInfo().workflowType, outcome });
  return {
    inbound: [
      {
        async execute(input, next) {
          try {
            const result = await next(input);
            count('completed');
            return result;
          } catch (error) {
            const outcome = outcomeOfError(error, CancellationScope.current().consideredCancelled);
            if (outcome) count(outcome);
            throw error;
          }
        },
      },
    ],
  };
};
