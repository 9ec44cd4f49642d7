import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type Logger, type WorkerOptions as WorkerCreateOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { cancellationInterceptor } from './activities/runtime/cancellation.js';
import { createActivities, type ActivityDeps } from './activities/index.js';
import { startRagopsGauges } from './activities/exporter/gauges.js';
import { startHealthServer, type HealthServer } from './activities/exporter/health.js';
import { startRpoGauges } from './activities/pgbackrest/rpoGauges.js';
import { redactingActivityInterceptors } from './activities/runtime/redactErrors.js';
import { listScheduleStates } from './client/api/scheduleStates.js';
import { ensureSearchAttributes } from './client/api/searchAttributes.js';
import { configPathFromEnv, loadStacksFile } from './config/load.js';
import { activitySlotsFromEnv, taskQueueFromEnv, temporalConnectConfig } from './config/temporal.js';
import { durationMs } from './core/duration.js';

export const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/**
 * Workflow interceptors every ragops worker registers: ragops_runbook_runs_total counts finished
 * runs. A worker given a prebuilt bundle gets them only if the bundle was built with them
 * (bundleWorkflowCode's workflowInterceptorModules), as the test harness does.
 */
export const workflowInterceptorModules = [fileURLToPath(new URL('./workflows/lib/runOutcomes.ts', import.meta.url))];

export interface WorkerOptions {
  taskQueue?: string;
  address?: string;
  namespace?: string;
  activityDeps?: ActivityDeps;
  /** host:port for Prometheus metrics (the SDK's and ragops's), e.g. 127.0.0.1:9464; default RAGOPS_METRICS_ADDRESS. */
  metricsAddress?: string;
  /** host:port for GET /healthz, e.g. 0.0.0.0:8080; default RAGOPS_HEALTH_ADDRESS; off when neither is set. */
  healthAddress?: string;
  /** How often the ragops gauges are read from the stores, e.g. "60s"; default RAGOPS_METRICS_REFRESH, else 60s. */
  metricsRefresh?: string;
  log?: (line: string) => void;
}

let runtimeInstalled = false;
/** Whether this process's runtime serves Prometheus metrics (the ragops gauges go beside them). */
let metricsServed = false;

/**
 * The SDK runtime can be installed once per process: with the Prometheus exporter when
 * `metricsAddress` is set, and with `logger` when the caller (`ragops dev`) sends the log elsewhere.
 */
export function installRuntime(metricsAddress: string | undefined, logger?: Logger): void {
  if (runtimeInstalled || (!metricsAddress && !logger)) return;
  Runtime.install({
    ...(logger ? { logger } : {}),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
  });
  runtimeInstalled = true;
  metricsServed = Boolean(metricsAddress);
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

/**
 * Builds a worker for the ragops task queue; `run()` it, and it stops on SIGINT/SIGTERM. With a
 * metrics address it serves the ragops gauges beside the SDK's metrics; with a health address,
 * GET /healthz. `closeClient()` stops both after the run.
 */
export async function createWorker(options: WorkerOptions = {}): Promise<{ worker: Worker; connection: NativeConnection; taskQueue: string; namespace: string; closeClient(): Promise<void> }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const stacks = await (options.activityDeps?.loadStacks ?? (() => loadStacksFile()))();
  log(`ragops worker: stacks file ${configPathFromEnv()} defines ${Object.keys(stacks.stacks).join(', ')}`);
  const refreshMs = durationMs(options.metricsRefresh ?? process.env.RAGOPS_METRICS_REFRESH ?? '60s');
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
  // With metrics on: the operator's figures (backups, drills, DR, SLOs, paused schedules) and the
  // achievable RPO of each physical target are gauges beside the SDK's.
  const loadStacks = options.activityDeps?.loadStacks ?? (() => loadStacksFile());
  const ragopsGauges = metricsServed
    ? startRagopsGauges(Runtime.instance().metricMeter, { loadStacks, listSchedules: async () => listScheduleStates(await leaseClient.get()), log }, refreshMs)
    : undefined;
  const hasPhysicalTargets = Object.values(stacks.stacks).some((stack) => stack.postgres.some((target) => target.physical));
  const rpoGauges = metricsServed && hasPhysicalTargets ? startRpoGauges(Runtime.instance().metricMeter, loadStacks) : undefined;
  let health: HealthServer | undefined;
  const closeClient = async () => {
    ragopsGauges?.stop();
    rpoGauges?.stop();
    await health?.close();
    await leaseClient.close();
  };
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace,
      taskQueue,
      workflowsPath,
      activities: createActivities({ temporalClient: leaseClient.get, ...options.activityDeps }),
      ...activityWorkerOptions,
      ...activitySlotsFromEnv(),
      interceptors: {
        activity: [...activityWorkerOptions.interceptors!.activity!, ...(ragopsGauges ? [ragopsGauges.activityInterceptors] : [])],
        workflowModules: workflowInterceptorModules,
      },
      shutdownGraceTime: '30s',
    });
    const healthAddress = options.healthAddress ?? process.env.RAGOPS_HEALTH_ADDRESS;
    if (healthAddress) {
      health = await startHealthServer(healthAddress, () => ({ taskQueue, workerState: worker.getState() }));
      log(`ragops worker: health at http://${health.address}/healthz`);
    }
  } catch (error) {
    await closeClient();
    await connection.close();
    throw error;
  }
  log(`ragops worker: polling task queue "${taskQueue}" in namespace "${namespace}" at ${options.address ?? config.connectionOptions.address}`);
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
