// ragops backups as an operator runs them: a real `ragops worker` process, a `backup`
// workflow of the postgres component, timed from workflow start to result.
import type { Client } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup } from '../../src/client/api/runbooks.js';
import { spawnWorkerProcess, type WorkerProcess } from '../../test/support/ragops.js';
import { sampleRssDuring, type RssFigures } from './rssSampler.js';

export interface RagopsBackupRun {
  backupId: string;
  /** The dump's key in the store (for an fs store, its path under the store's directory). */
  key: string;
  wallMs: number;
  /** The dump activity's own duration, from the report. */
  activityMs: number;
  bytes: number;
  rss: RssFigures;
}

/** Spawns `ragops worker` and waits until it has bundled the workflows and polls its queue. */
export async function startReadyWorker(options: Parameters<typeof spawnWorkerProcess>[0]): Promise<WorkerProcess & { pid: number }> {
  const worker = spawnWorkerProcess(options);
  const deadline = Date.now() + 180_000;
  try {
    while (!worker.output().includes('polling task queue')) {
      if (worker.process.exitCode !== null) throw new Error(`ragops worker exited (${worker.process.exitCode}):\n${worker.output()}`);
      if (Date.now() > deadline) throw new Error(`ragops worker not polling after 180 s:\n${worker.output()}`);
      await sleep(100);
    }
    const pid = worker.process.pid;
    if (pid === undefined) throw new Error('ragops worker has no pid');
    return Object.assign(worker, { pid });
  } catch (error) {
    await worker.stop();
    throw error;
  }
}

/** One backup of `stack` (postgres only), sampling the worker's RSS while it runs. */
export async function timeRagopsBackup(client: Client, workerPid: number, stack: string, taskQueue: string): Promise<RagopsBackupRun> {
  const { result, rss } = await sampleRssDuring(workerPid, async () => {
    const started = performance.now();
    const handle = await startBackup(client, { stack, components: ['postgres'] }, { taskQueue });
    const report = await handle.result();
    return { report, wallMs: performance.now() - started };
  });
  const artifact = result.report.artifacts[0];
  if (!artifact) throw new Error(`backup of ${stack} reported no artifact`);
  return { backupId: result.report.backupId, key: artifact.key, wallMs: result.wallMs, activityMs: artifact.durationMs, bytes: artifact.size, rss };
}
