import { CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import { type VerificationCheck } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { quickActivities } from './activities.js';
import type { StepTracker } from './steps.js';
import { backupKeys } from '../../core/storeKeys.js';


/**
 * Holds a backup (a lock object retention respects) while `work` runs, and always runs
 * `cleanup` and releases it afterwards, even when the run is cancelled.
 */
export async function withBackupHeld<T>(
  steps: StepTracker,
  held: { store: StoreConfig; stack: string; backupId: string; runbook: string },
  work: () => Promise<T>,
  cleanup: () => Promise<void>,
): Promise<T> {
  const { workflowId } = workflowInfo();
  const key = backupKeys.lock(held.stack, held.backupId, workflowId);
  await steps.step('hold', `hold backup ${held.backupId}`, () =>
    quickActivities('hold backup').holdBackup({ store: held.store, key, lock: { workflowId, runbook: held.runbook, since: new Date().toISOString() } }),
  );
  try {
    return await work();
  } finally {
    await CancellationScope.nonCancellable(async () => {
      await steps.step('cleanup', 'remove what this run created, release the backup', async () => {
        await cleanup();
        await quickActivities('release backup').releaseBackup({ store: held.store, key });
      });
    });
  }
}

/** Runs a check step; a failure becomes a failed check (evidence), a cancellation goes on up. */
export async function recordChecks(
  steps: StepTracker,
  phase: string,
  title: string,
  artifact: { component: VerificationCheck['component']; name: string },
  work: () => Promise<VerificationCheck | VerificationCheck[]>,
): Promise<VerificationCheck[]> {
  const started = Date.now();
  try {
    const result = await steps.step(phase, title, work, (checks) => {
      const list = Array.isArray(checks) ? checks : [checks];
      const failed = list.filter((check) => !check.passed);
      return failed.length === 0 ? `${list.length} check(s) passed` : `FAILED: ${failed.map((check) => `${check.name}: ${check.detail}`).join('; ')}`;
    });
    return Array.isArray(result) ? result : [result];
  } catch (error) {
    if (isCancellation(error)) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    return [{ name: title, component: artifact.component, artifact: artifact.name, passed: false, detail, figures: {}, durationMs: Date.now() - started }];
  }
}
