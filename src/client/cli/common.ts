import { WorkflowFailedError, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { taskQueueFromEnv, temporalConnectConfig } from '../../config/temporal.js';
import { connectClient, webUiUrl, type Connected } from '../api/connect.js';
import { InvalidInput } from '../api/runbooks.js';
import { EXIT_CODES_HELP, ServerUnreachable, isUnreachable, runFailed } from './errors.js';
import { followRun, type ProgressOutput } from './follow.js';
import { genericSummary } from './summary.js';

export const collect = (value: string, previous: string[] = []) => [...previous, value];

function configuredAddress(): string {
  try {
    return temporalConnectConfig().connectionOptions.address ?? 'the configured address';
  } catch {
    return 'the configured address';
  }
}

export async function withClient<T>(use: (connected: Connected) => Promise<T>): Promise<T> {
  const connected = await connectClient().catch((error: unknown) => {
    if (!isUnreachable(error)) throw error;
    throw new ServerUnreachable(
      `cannot reach the Temporal server at ${configuredAddress()} (${(error as Error).message}); is it running? (TEMPORAL_ADDRESS, or \`ragops dev\`)`,
      { cause: error },
    );
  });
  try {
    return await use(connected);
  } finally {
    await connected.close();
  }
}

/** Prints what an operator needs to follow a run: its id and its Web UI link. */
export function printStarted(runbook: string, namespace: string, handle: WorkflowHandleWithFirstExecutionRunId, print: (line: string) => void = console.log): void {
  print(`started ${runbook} ${handle.workflowId}`);
  print(`  ${webUiUrl(namespace, handle.workflowId, handle.firstExecutionRunId)}`);
}

export const taskQueueOption = () => new Option('--task-queue <name>', 'task queue').default(taskQueueFromEnv());

/** The options every "<runbook> run" command shares. */
export function withRunOptions(command: Command): Command {
  return command
    .addOption(taskQueueOption())
    .option('--wait', 'wait for the result: progress while it runs (one line a second off a terminal), then a summary')
    .option('--json', 'machine output on stdout: with --wait the report as JSON, exactly; else the run id and link as JSON')
    .addHelpText('after', EXIT_CODES_HELP);
}

export interface RunFlags {
  taskQueue: string;
  wait?: boolean;
  json?: boolean;
}

/** Progress goes to stdout for people; with --json stdout is the report's, so progress goes to a terminal's stderr or nowhere. */
function progressOutput(json: boolean): ProgressOutput | undefined {
  const stream = json ? process.stderr : process.stdout;
  if (json && !stream.isTTY) return undefined;
  return {
    write: (text) => void stream.write(text),
    isTTY: Boolean(stream.isTTY),
    // Read at each redraw: the terminal may have been resized.
    get columns() {
      return stream.columns;
    },
  };
}

/**
 * Starts a runbook and prints its id and link. With --wait it follows the run (progress) and
 * prints `summary`'s rendering of the report; with --json stdout carries only JSON: the report
 * as `JSON.stringify(report, null, 2)` (what `--wait` printed before it had a summary), the
 * id and link on stderr. A failed run throws RunFailed: one line with the cause and the link.
 */
export async function startAndFollow<R>(
  runbook: string,
  flags: RunFlags,
  start: (client: Client, options: { taskQueue: string }) => Promise<WorkflowHandleWithFirstExecutionRunId & { result(): Promise<R> }>,
  summary: (report: R) => string = (report) => genericSummary(report),
): Promise<void> {
  const json = flags.json ?? false;
  await withClient(async ({ client, namespace }) => {
    const handle = await start(client, { taskQueue: flags.taskQueue });
    const url = webUiUrl(namespace, handle.workflowId, handle.firstExecutionRunId);
    printStarted(runbook, namespace, handle, json ? console.error : console.log);
    if (!flags.wait) {
      if (json) console.log(JSON.stringify({ runbook, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, url }, null, 2));
      return;
    }
    const output = progressOutput(json);
    let report: R;
    try {
      report = output ? await followRun(client, handle, output) : await handle.result();
    } catch (error) {
      if (error instanceof WorkflowFailedError) throw runFailed(runbook, handle.workflowId, url, error);
      if (isUnreachable(error)) throw new ServerUnreachable(`lost the Temporal server while waiting for ${handle.workflowId} (${(error as Error).message}); the run goes on — ${url}`, { cause: error });
      throw error;
    }
    console.log(json ? JSON.stringify(report, null, 2) : summary(report));
  });
}

/** "label=name" pairs from repeatable options. */
export function pairs(values: string[] = [], option: string): Array<[string, string]> {
  return values.map((value) => {
    const [key, name, ...rest] = value.split('=');
    if (!key || !name || rest.length > 0) throw new InvalidInput(`${option} takes <from>=<to>, got "${value}"`);
    return [key, name];
  });
}
