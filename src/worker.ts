import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions as WorkerCreateOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { cancellationInterceptor } from './activities/runtime/cancellation.js';
import { createActivities, type ActivityDeps } from './activities/index.js';
import { startRpoGauges } from './activities/pgbackrest/rpoGauges.js';
import { redactingActivityInterceptors } from './activities/runtime/redactErrors.js';
import { ensureSearchAttributes } from './client/api/searchAttributes.js';
import { configPathFromEnv, loadStacksFile } from './config/load.js';
import { taskQueueFromEnv, temporalConnectConfig } from './config/temporal.js';

export const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

export interface WorkerOptions {
  taskQueue?: string;
  address?: string;
  namespace?: string;
  activityDeps?: ActivityDeps;
  /** host:port for Prometheus metrics of the SDK, e.g. 127.0.0.1:9464. */
  metricsAddress?: string;
  log?: (line: string) => void;
}

let runtimeInstalled = false;

function installRuntime(metricsAddress: string | undefined): void {
  if (runtimeInstalled || !metricsAddress) return;
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } });
  runtimeInstalled = true;
}

/** A client of the worker's own server and namespace, connected on first use (the lease activities need it). */
export function lazyClient(connect: () => Promise<Connection>, namespace: string): { get(): Promise<Client>; close(): Promise<void> } {
  let client: Promise<Client> | undefined;
  return {
    get: () => (client ??= connect().then((connection) => new Client({ connection, namespace }))),
    async close() {
      if (client) await (await client.catch(() => undefined))?.connection.close();
    },
  };
}

/** Builds a worker for the ragops task queue; `run()` it, and it stops on SIGINT/SIGTERM. */
/**
 * How every ragops worker runs activities (the test harness's in-process workers too): errors
 * scrubbed of secrets, cancellation passed down, and heartbeats sent at most a second apart —
 * not the SDK's 0.8 × the heartbeat timeout — so the progress a retry resumes from (an ingest's
 * last page, a dump's bytes) is at most a second old when a worker dies.
 */
export const activityWorkerOptions: Pick<WorkerCreateOptions, 'interceptors' | 'maxHeartbeatThrottleInterval'> = {
  interceptors: { activity: [redactingActivityInterceptors, cancellationInterceptor] },
  maxHeartbeatThrottleInterval: '1s',
};

export async function createWorker(options: WorkerOptions = {}): Promise<{ worker: Worker; connection: NativeConnection; taskQueue: string; namespace: string; closeClient(): Promise<void> }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const stacks = await (options.activityDeps?.loadStacks ?? (() => loadStacksFile()))();
  log(`ragops worker: stacks file ${configPathFromEnv()} defines ${Object.keys(stacks.stacks).join(', ')}`);
  installRuntime(options.metricsAddress ?? process.env.RAGOPS_METRICS_ADDRESS);

  const config = temporalConnectConfig();
  const namespace = options.namespace ?? config.namespace;
  const connection = await NativeConnection.connect({
    ...config.connectionOptions,
    address: options.address ?? config.connectionOptions.address,
  });
  const taskQueue = options.taskQueue ?? taskQueueFromEnv();
  const { address: _address, ...clientOptions } = config.connectionOptions;
  const leaseClient = lazyClient(
    () => Connection.connect({ ...clientOptions, address: options.address ?? config.connectionOptions.address } as Parameters<typeof Connection.connect>[0]),
    namespace,
  );
  try {
    const { created } = await ensureSearchAttributes(connection, namespace);
    if (created.length > 0) log(`ragops worker: created search attributes ${created.join(', ')} in namespace "${namespace}"`);
  } catch (error) {
    await connection.close();
    throw error;
  }
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowsPath,
    activities: createActivities({ temporalClient: leaseClient.get, ...options.activityDeps }),
    ...activityWorkerOptions,
    shutdownGraceTime: '30s',
  });
  log(`ragops worker: polling task queue "${taskQueue}" in namespace "${namespace}" at ${options.address ?? config.connectionOptions.address}`);
  // With metrics on, the achievable RPO of each physical target is a gauge beside the SDK's.
  const loadStacks = options.activityDeps?.loadStacks ?? (() => loadStacksFile());
  const hasPhysicalTargets = Object.values(stacks.stacks).some((stack) => stack.postgres.some((target) => target.physical));
  const gauges = runtimeInstalled && hasPhysicalTargets ? startRpoGauges(Runtime.instance().metricMeter, loadStacks) : undefined;
  const closeClient = async () => {
    gauges?.stop();
    await leaseClient.close();
  };
  return { worker, connection, taskQueue, namespace, closeClient };
}

export async function runWorker(options: WorkerOptions = {}): Promise<void> {
  const { worker, connection, closeClient } = await createWorker(options);
  try {
    await worker.run();
  } finally {
    await closeClient();
    await connection.close();
  }
}
