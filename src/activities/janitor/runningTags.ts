import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';

/** Runbooks that create scratch targets named after their run tag. */
const SCRATCH_RUNBOOKS = ['verifyBackup', 'restore'];

/**
 * The run tags of every running drill and restore. A tag is made by the run's plan step
 * (its first activity) and recorded as that activity's result, so it is read from the
 * history: the first completed activity whose result has a `runTag`. A run whose plan has not
 * completed has created nothing yet. What cannot be read fails the sweep (nothing is dropped).
 */
export async function runningScratchRuns(client: Client): Promise<{ tags: Set<string>; runs: number }> {
  const tags = new Set<string>();
  let runs = 0;
  const query = `ExecutionStatus = 'Running' AND WorkflowType IN (${SCRATCH_RUNBOOKS.map((type) => `'${type}'`).join(', ')})`;
  for await (const execution of client.workflow.list({ query })) {
    runs += 1;
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    for (const event of history.events ?? []) {
      const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
      if (!payload) continue;
      const result = defaultPayloadConverter.fromPayload(payload) as { runTag?: unknown } | null;
      if (typeof result?.runTag === 'string') {
        tags.add(result.runTag);
        break;
      }
    }
  }
  return { tags, runs };
}
