// Runs ragops workers for tests: in this process (fast, shares a workflow bundle) or as a
// real child process that a test can SIGKILL.
import { Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createActivities } from '../../src/activities/index.js';
import { parseStacksFile } from '../../src/config/load.js';
import { activityWorkerOptions, lazyClient, workflowInterceptorModules, workflowsPath } from '../../src/worker.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let runtimeInstalled = false;

export function quietRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}

function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, workflowInterceptorModules, logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } });
  return bundle;
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `ragops-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Writes a stacks file (validated, as the worker would) and returns its path. */
export async function writeStacksFile(dir: string, stacks: unknown): Promise<string> {
  const text = stringify(stacks);
  parseStacksFile(text, 'test stacks');
  const path = join(dir, 'ragops.yaml');
  await writeFile(path, text);
  return path;
}

export interface RunningWorker {
  stop(): Promise<void>;
}

/** A worker in this process whose activities read the given stacks file. */
export async function startWorker(options: { address: string; taskQueue: string; stacksText: string }): Promise<RunningWorker> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: options.address });
  const client = lazyClient(() => Connection.connect({ address: options.address }), 'default');
  const worker = await Worker.create({
    connection,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ loadStacks: async () => parseStacksFile(options.stacksText, 'test stacks'), temporalClient: client.get }),
    ...activityWorkerOptions,
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await client.close();
      await connection.close();
    },
  };
}

export interface WorkerProcess {
  process: ResultPromise;
  output(): string;
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** `ragops worker` as its own OS process, the way an operator runs it. */
export function spawnWorkerProcess(options: { address: string; taskQueue: string; configPath: string; env?: Record<string, string> }): WorkerProcess {
  let output = '';
  const child = execa(process.execPath, ['--import', 'tsx', 'src/client/cli/index.ts', 'worker'], {
    cwd: PROJECT_ROOT,
    env: {
      ...options.env,
      RAGOPS_CONFIG: options.configPath,
      RAGOPS_TASK_QUEUE: options.taskQueue,
      TEMPORAL_ADDRESS: options.address,
      TEMPORAL_NAMESPACE: 'default',
    },
    reject: false,
    all: true,
    buffer: false,
  });
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    process: child,
    output: () => output,
    kill: (signal) => child.kill(signal),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await child;
    },
  };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The summaries of the timers a run started, in order (what each wait said it waited for). */
export async function timerSummaries(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .filter((event) => event.timerStartedEventAttributes)
    .map((event) => {
      const summary = event.userMetadata?.summary;
      return summary ? String(defaultPayloadConverter.fromPayload(summary as Payload)) : '';
    });
}
