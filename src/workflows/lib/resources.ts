import { ApplicationFailure, CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import { checkOutcome, type VerificationCheck } from '../../config/manifest.js';
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

/**
 * Error types an activity raises when the artifact itself is at fault (its dump does not
 * restore, its checksum differs, it is gone from the store): the drill *failed*. Any other
 * error (unreachable store or server, timeout, a worker-side fault) only says the drill
 * could not finish: *inconclusive*.
 */
export const BACKUP_FAULT_TYPES: readonly string[] = ['RestoreFailed', 'ChecksumMismatch', 'StoreObjectMissing', 'EncryptedStreamCorrupt'];

/** The type of the error at the root of a failed step (see StepTracker.step), if any. */
function faultType(error: unknown): string | undefined {
  let found: unknown = error;
  while (found instanceof Error) {
    if (found instanceof ApplicationFailure && found.type && found.type !== 'StepFailed') return found.type;
    found = found.cause;
  }
  return undefined;
}

/**
 * Runs a check step. An error becomes a check (evidence): failed when its type says the
 * backup is bad (BACKUP_FAULT_TYPES), inconclusive otherwise. A cancellation goes on up.
 */
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
      const failed = list.filter((check) => checkOutcome(check) === 'failed');
      const inconclusive = list.filter((check) => checkOutcome(check) === 'inconclusive');
      if (failed.length > 0) return `FAILED: ${failed.map((check) => `${check.name}: ${check.detail}`).join('; ')}`;
      if (inconclusive.length > 0) return `INCONCLUSIVE: ${inconclusive.map((check) => `${check.name}: ${check.detail}`).join('; ')}`;
      return `${list.length} check(s) passed`;
    });
    return (Array.isArray(result) ? result : [result]).map((check) => ({ ...check, outcome: checkOutcome(check) }));
  } catch (error) {
    if (isCancellation(error)) throw error;
    const type = faultType(error);
    const outcome = type !== undefined && BACKUP_FAULT_TYPES.includes(type) ? 'failed' : 'inconclusive';
    const detail = `${error instanceof Error ? error.message : String(error)}${outcome === 'inconclusive' ? ' (the drill could not finish: inconclusive, not a verdict on the backup)' : ''}`;
    return [{ name: title, component: artifact.component, artifact: artifact.name, passed: false, outcome, detail, figures: { errorType: type ?? null }, durationMs: Date.now() - started }];
  }
}
