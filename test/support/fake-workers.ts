// A dev server and workers whose activities are fakes: for tests of workflow logic alone.
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities/index.js';
import { createTemporalActivities } from '../../src/activities/temporal/index.js';
import { workflowsPath } from '../../src/worker.js';
import { quietRuntime, uniqueName } from './ragops.js';
import { startTestTemporal, type TestTemporal } from './temporal.js';

export interface FakeWorkerEnv {
  temporal: TestTemporal;
  /** Runs `run` while a worker with these activities polls a fresh task queue. */
  withFakeWorker<T>(activities: Partial<Activities>, run: (taskQueue: string) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export async function startFakeWorkerEnv(): Promise<FakeWorkerEnv> {
  quietRuntime();
  const temporal = await startTestTemporal();
  const connection = await NativeConnection.connect({ address: temporal.address });
  return {
    temporal,
    async withFakeWorker(activities, run) {
      const taskQueue = uniqueName('fake');
      // The leases are real (lease workflows on the dev server): runbooks take them after their plan step.
      const leases = createTemporalActivities({ temporalClient: async () => temporal.client });
      const worker = await Worker.create({ connection, taskQueue, workflowsPath, activities: { ...leases, ...activities } });
      return worker.runUntil(run(taskQueue));
    },
    async stop() {
      await connection.close();
      await temporal.stop();
    },
  };
}
