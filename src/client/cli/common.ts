import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { taskQueueFromEnv } from '../../config/temporal.js';
import { connectClient, webUiUrl, type Connected } from '../api/connect.js';

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

export const taskQueueOption = () => new Option('--task-queue <name>', 'task queue').default(taskQueueFromEnv());

/** The options every "<runbook> run" command shares. */
export function withRunOptions(command: Command): Command {
  return command.addOption(taskQueueOption()).option('--wait', 'wait for the result and print the report');
}

export interface RunFlags {
  taskQueue: string;
  wait?: boolean;
}

/** Starts a runbook, prints its id and link, and with --wait its report (or `print`'s rendering of it). */
export async function startAndFollow<R>(
  runbook: string,
  flags: RunFlags,
  start: (client: Client, options: { taskQueue: string }) => Promise<WorkflowHandleWithFirstExecutionRunId & { result(): Promise<R> }>,
  print: (report: R) => string = (report) => JSON.stringify(report, null, 2),
): Promise<void> {
  await withClient(async ({ client, namespace }) => {
    const handle = await start(client, { taskQueue: flags.taskQueue });
    printStarted(runbook, namespace, handle);
    if (flags.wait) console.log(print(await handle.result()));
  });
}

/** "label=name" pairs from repeatable options. */
export function pairs(values: string[] = [], option: string): Array<[string, string]> {
  return values.map((value) => {
    const [key, name, ...rest] = value.split('=');
    if (!key || !name || rest.length > 0) throw new Error(`${option} takes <from>=<to>, got "${value}"`);
    return [key, name];
  });
}
