// The run tags a run's history names (its plan's `runTag`, which names its scratch targets),
// so a test can look for its own run's leftovers only: the other CI lane's runs use the same
// temp dir and names of the same shape.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';

/** Tags in the activities' inputs and results of one run (a workflow id names only its latest run). */
export async function runTagsOf(client: Client, workflowId: string, runId?: string): Promise<Set<string>> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const payloads = (history.events ?? []).flatMap((event) => [
    ...(event.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
    ...(event.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
  ]);
  const text = payloads.map((payload) => JSON.stringify(defaultPayloadConverter.fromPayload(payload as Payload))).join('\n');
  return new Set([...text.matchAll(/"runTag":"([a-z0-9]{8})"/g)].map((match) => match[1]!));
}
