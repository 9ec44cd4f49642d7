import { executeChild, workflowInfo } from '@temporalio/workflow';
import { pruneInputSchema } from '../config/inputs.js';
import type { RetentionPolicy } from '../config/stacks/index.js';
import { quickActivities, streamingActivities } from './lib/activities.js';
import { formatBytes } from '../core/format.js';
import { parseInput } from './lib/input.js';
import { compareText, describePolicy, planRetention, planUploadCleanup, type BackupState, type UploadSummary } from '../core/retention.js';
import { StepTracker } from './lib/steps.js';
import { withLeases } from './lib/leases.js';
import { pruneClaims } from '../core/leases.js';
import type { PruneOptions } from '../config/inputs.js';
import type { PruneTarget } from '../config/plan.js';

export interface PruneReport {
  stack: string;
  store: string;
  dryRun: boolean;
  /** The workflow time the plan was made at. */
  now: string;
  policy: RetentionPolicy;
  /** Newest first, each with every reason that applied. */
  kept: Array<{ backupId: string; state: BackupState; reasons: string[] }>;
  /** Newest first; in a dry run, what would be deleted (objects and bytes as listed). */
  deleted: Array<{ backupId: string; state: BackupState; reasons: string[]; objects: number; bytes: number }>;
  /** The ids in `deleted` that were crash leftovers (no manifest). */
  leftovers: string[];
  /** In a dry run, what would be aborted. */
  abortedUploads: UploadSummary[];
  /** Unfinished uploads younger than the grace period: maybe still being written. */
  youngUploads: UploadSummary[];
  total: { kept: number; deleted: number; objects: number; bytes: number; abortedUploads: number };
}

/**
 * Retention of a stack's backups: list them, decide with the pure `planRetention` (so the
 * decision and its reasons are part of the run, visible and replayable), then delete each
 * doomed backup, oldest first, and abort stale unfinished uploads. A dry run stops after
 * the plan.
 */
export async function pruneBackups(rawInput: unknown): Promise<PruneReport> {
  const options = parseInput(pruneInputSchema, rawInput, 'pruneBackups');
  const steps = new StepTracker('pruneBackups', options.stack);
  steps.setHeadline(`**pruneBackups** of stack \`${options.stack}\`${options.dryRun ? ' (dry run)' : ''}`);

  const target = await steps.step(
    'plan',
    'resolve the stack and its retention policy',
    () => quickActivities(`resolve ${options.stack}`).resolvePruneTarget({ stack: options.stack }),
    (t) => `${describePolicy(t.retention)} → ${t.storeLocation}`,
  );
  return withLeases(steps, 'pruneBackups', pruneClaims(target.stack), () => prune(options, steps, target));
}

/** The prune itself, once the stack's prune lease is held. */
async function prune(options: PruneOptions, steps: StepTracker, target: PruneTarget): Promise<PruneReport> {
  const listing = await steps.step(
    'list',
    'list backups and unfinished uploads',
    () => streamingActivities(`list backups of ${target.stack}`).listPruneCandidates({ store: target.store, stack: target.stack }),
    (l) => `${l.candidates.length} backup(s), ${l.unfinishedUploads.length} unfinished upload(s)`,
  );

  const now = new Date();
  const { plan, uploads } = await steps.step(
    'decide',
    'decide what to keep',
    async () => ({
      plan: planRetention(listing.candidates, now, target.retention),
      uploads: planUploadCleanup(listing.unfinishedUploads, now, target.retention),
    }),
    (p) => `keep ${p.plan.kept.length}, delete ${p.plan.deleted.length}, abort ${p.uploads.abort.length} upload(s)`,
  );

  const kept: PruneReport['kept'] = plan.kept.map(({ backupId, state, reasons }) => ({ backupId, state, reasons }));
  let deleted: PruneReport['deleted'] = plan.deleted.map(({ backupId, state, reasons, objects, bytes }) => ({ backupId, state, reasons, objects, bytes }));
  if (!options.dryRun) {
    deleted = [];
    for (const decision of [...plan.deleted].reverse()) {
      const { backupId, state, reasons } = decision;
      const result = await steps.step(
        'delete',
        `delete ${backupId}`,
        () =>
          streamingActivities(`delete ${backupId}`).deleteBackup({ store: target.store, stack: target.stack, backupId, complete: state !== 'incomplete' }),
        (r) => (r.skipped ? `skipped: ${r.skipped}` : `${r.objects} object(s), ${formatBytes(r.bytes)}`),
      );
      if (result.skipped) kept.push({ backupId, state, reasons: [...reasons, `not deleted: ${result.skipped}`] });
      else deleted.unshift({ backupId, state, reasons, objects: result.objects, bytes: result.bytes });
    }
    kept.sort((a, b) => compareText(b.backupId, a.backupId));
    if (uploads.abort.length > 0) {
      await steps.step(
        'uploads',
        `abort ${uploads.abort.length} stale upload(s)`,
        () => streamingActivities('abort stale uploads').abortStaleUploads({ store: target.store, uploads: uploads.abort }),
        (r) => `${r.aborted} aborted`,
      );
    }
  }

  const objects = deleted.reduce((sum, backup) => sum + backup.objects, 0);
  const bytes = deleted.reduce((sum, backup) => sum + backup.bytes, 0);
  const verb = options.dryRun ? 'would delete' : 'deleted';
  steps.finish(`kept ${kept.length}, ${verb} ${deleted.length} (${formatBytes(bytes)}), ${uploads.abort.length} stale upload(s)`);
  return {
    stack: target.stack,
    store: target.storeLocation,
    dryRun: options.dryRun,
    now: plan.now,
    policy: target.retention,
    kept,
    deleted,
    leftovers: deleted.filter((backup) => backup.state === 'incomplete').map((backup) => backup.backupId),
    abortedUploads: uploads.abort,
    youngUploads: uploads.keep,
    total: { kept: kept.length, deleted: deleted.length, objects, bytes, abortedUploads: uploads.abort.length },
  };
}

/**
 * For `backup` to call once its manifest is written, when its stack has a retention policy:
 * prunes as a child workflow, so the prune keeps its own history and report.
 */
export function runRetentionAfterBackup(stack: string): Promise<PruneReport> {
  return executeChild(pruneBackups, {
    args: [{ stack, dryRun: false }],
    workflowId: `${workflowInfo().workflowId}-prune`,
    staticSummary: `prune of stack ${stack} after backup`,
  });
}
