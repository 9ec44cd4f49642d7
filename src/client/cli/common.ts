import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { connectClient, webUiUrl, type Connected } from '../connect.js';

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export async function withClient<T>(use: (connected: Connected) => Promise<T>): Promise<T> {
  const connected = await connectClient();
  try {
    return await use(connected);
  } finally {
    await connected.close();
  }
}

/** Prints what an operator needs to follow a run: its id and its Web UI link. */
export function printStarted(runbook: string, namespace: string, handle: WorkflowHandleWithFirstExecutionRunId): void {
  console.log(`started ${runbook} ${handle.workflowId}`);
  console.log(`  ${webUiUrl(namespace, handle.workflowId, handle.firstExecutionRunId)}`);
}

/** "label=name" pairs from repeatable options. */
export function pairs(values: string[] = [], option: string): Array<[string, string]> {
  return values.map((value) => {
    const [key, name, ...rest] = value.split('=');
    if (!key || !name || rest.length > 0) throw new Error(`${option} takes <from>=<to>, got "${value}"`);
    return [key, name];
  });
}
