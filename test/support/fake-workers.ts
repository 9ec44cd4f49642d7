// A dev server and workers whose activities are fakes: for tests of workflow logic alone.
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities/index.js';
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
      const worker = await Worker.create({ connection, taskQueue, workflowsPath, activities });
      return worker.runUntil(run(taskQueue));
    },
    async stop() {
      await connection.close();
      await temporal.stop();
    },
  };
}
