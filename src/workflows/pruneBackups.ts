import { continueAsNew, executeChild, isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import { pruneInputSchema } from '../config/inputs.js';
import { housekeepingActivities, quickActivities, streamingActivities } from './lib/activities.js';
import { formatBytes } from '../core/format.js';
import { parseInput } from './lib/input.js';
import { describePolicy, planRetentionOfPlan, planUploadCleanup, type BackupState, type RetentionCandidate, type UploadSummary } from '../core/retention.js';
import { StepTracker } from './lib/steps.js';
import { Notifier } from './lib/notify.js';
import { withLeases } from './lib/leases.js';
import { pruneClaims } from '../core/leases.js';
import type { PruneOptions } from '../config/inputs.js';
import type { PruneTarget } from '../config/plan.js';
import { decisionEntry, emptyReport, finishedReport, recordDeleted, recordKept, recordUploads, REPORT_LIST_CAP, type PruneReport } from './lib/pruneReport.js';

export type { PruneReport } from './lib/pruneReport.js';

/** Backups deleted by one activity (one step in the UI). */
export const DELETE_BATCH_SIZE = 100;
/** A run continues as new after this many batches, or once its history reaches the event count below. */
export const BATCHES_PER_RUN = 25;
export const HISTORY_EVENTS_PER_RUN = 1_500;
/** Unfinished uploads aborted by one activity. */
const UPLOAD_BATCH_SIZE = 500;

/**
 * What is left of a prune's plan, handed from one run to the next by continue-as-new. The
 * plan is made once, at `now`, and never re-made: every run deletes from `remaining`, so the
 * chain deletes exactly the planned set whatever appears in the store meanwhile.
 */
export interface PruneContinuation {
  target: PruneTarget;
  /** Ids still to delete, oldest first. */
  remaining: string[];
  /** How many deletions the plan had in all (for "delete 2,001–2,100 of 4,962"). */
  planned: number;
  /** The planned state of the remaining ids that are not 'good' (leftovers, failed drills). */
  states: Record<string, BackupState>;
  /** The planned reasons of the remaining ids the report will list. */
  reasons: Record<string, string[]>;
  /** The report so far: bounded lists and totals. */
  report: PruneReport;
}

/**
 * Retention of a stack's backups: list them page by page, decide with the pure
 * `planRetention` (so the decision and its reasons are part of the run, visible and
 * replayable), abort stale unfinished uploads, then delete the doomed backups in batches,
 * oldest first, continuing as new when the history grows. A dry run stops after the plan.
 * `continued` is only ever passed by the run's own continue-as-new.
 */
export async function pruneBackups(rawInput: unknown, continued?: PruneContinuation): Promise<PruneReport> {
  const options = parseInput(pruneInputSchema, rawInput, 'pruneBackups');
  const steps = new StepTracker('pruneBackups', options.stack);
  steps.setHeadline(`**pruneBackups** of stack \`${options.stack}\`${options.dryRun ? ' (dry run)' : ''}`);
  if (continued) {
    if (continued.target.stack !== options.stack || options.dryRun) throw new Error('pruneBackups: a continuation belongs to a non-dry-run prune of the same stack');
    const { report, remaining, planned } = continued;
    steps.setHeadline(
      `**pruneBackups** of stack \`${options.stack}\`, run ${report.total.runs}: plan of ${report.now}, ${planned - remaining.length} of ${planned} deletion(s) done`,
    );
    return new Notifier('pruneBackups', continued.target).failures(() => withLeases(steps, 'pruneBackups', pruneClaims(continued.target.stack), () => deleteInBatches(options, steps, continued)));
  }

  const target = await steps.step(
    'plan',
    'resolve the stack and its retention policy',
    () => quickActivities(`resolve ${options.stack}`).resolvePruneTarget({ stack: options.stack, ...(options.plan ? { plan: options.plan } : {}) }),
    (t) => `${t.plan ? `plan ${t.plan}: ` : ''}${describePolicy(t.retention)} → ${t.storeLocation}`,
  );
  return new Notifier('pruneBackups', target).failures(() => withLeases(steps, 'pruneBackups', pruneClaims(target.stack), () => prune(options, steps, target)));
}

/** The prune itself, once the stack's prune lease is held. */
async function prune(options: PruneOptions, steps: StepTracker, target: PruneTarget): Promise<PruneReport> {
  // patched: histories recorded before the janitor step replay without it.
  if (!options.dryRun && patched('janitor-sweep')) await sweepOrphans(steps, target.stack);
  const candidates: RetentionCandidate[] = [];
  let unfinishedUploads: UploadSummary[] = [];
  let after: string | undefined;
  do {
    const page = await steps.step(
      'list',
      after === undefined ? 'list backups and unfinished uploads' : `list backups after ${after}`,
      () => streamingActivities(`list backups of ${target.stack}`).listPruneCandidates({ store: target.store, stack: target.stack, after }),
      (p) => `${p.candidates.length} backup(s)${after === undefined ? `, ${p.unfinishedUploads.length} unfinished upload(s)` : ''}`,
    );
    candidates.push(...page.candidates);
    if (after === undefined) unfinishedUploads = page.unfinishedUploads;
    after = page.next;
  } while (after !== undefined);

  const now = new Date();
  const { plan, uploads } = await steps.step(
    'decide',
    `decide what to keep of ${candidates.length} backup(s)`,
    async () => ({
      plan: planRetentionOfPlan(candidates, now, target.retention, target.plan),
      uploads: planUploadCleanup(unfinishedUploads, now, target.retention),
    }),
    (p) => `keep ${p.plan.kept.length}, delete ${p.plan.deleted.length}, abort ${p.uploads.abort.length} upload(s)`,
  );

  const report = emptyReport({ stack: target.stack, store: target.storeLocation, dryRun: options.dryRun, now: plan.now, policy: target.retention });
  for (const decision of plan.kept) recordKept(report, decisionEntry(decision));
  recordUploads(report, 'youngUploads', uploads.keep);
  const oldestFirst = [...plan.deleted].reverse();
  if (options.dryRun) {
    for (const decision of oldestFirst) recordDeleted(report, { ...decisionEntry(decision), objects: decision.objects, bytes: decision.bytes });
    recordUploads(report, 'abortedUploads', uploads.abort);
    steps.finish(`kept ${report.total.kept}, would delete ${report.total.deleted} (${formatBytes(report.total.bytes)}), ${uploads.abort.length} stale upload(s)`);
    return finishedReport(report);
  }

  for (let start = 0; start < uploads.abort.length; start += UPLOAD_BATCH_SIZE) {
    const batch = uploads.abort.slice(start, start + UPLOAD_BATCH_SIZE);
    await steps.step(
      'uploads',
      `abort ${batch.length} stale upload(s)`,
      () => streamingActivities('abort stale uploads').abortStaleUploads({ store: target.store, uploads: batch }),
      (r) => `${r.aborted} aborted`,
    );
    recordUploads(report, 'abortedUploads', batch);
  }

  const states: Record<string, BackupState> = {};
  const reasons: Record<string, string[]> = {};
  oldestFirst.forEach((decision, index) => {
    if (decision.state !== 'good') states[decision.backupId] = decision.state;
    if (index < REPORT_LIST_CAP) reasons[decision.backupId] = decision.reasons;
  });
  const remaining = oldestFirst.map((decision) => decision.backupId);
  return deleteInBatches(options, steps, { target, remaining, planned: remaining.length, states, reasons, report });
}

/**
 * Removes what crashed or terminated drills and restores left (scratch databases and
 * collections of runs no longer running, old local drill dirs). Housekeeping: a failure is
 * shown on its step and retention goes on.
 */
async function sweepOrphans(steps: StepTracker, stack: string): Promise<void> {
  try {
    await steps.step(
      'janitor',
      'sweep leftovers of crashed drills and restores',
      () => housekeepingActivities(`janitor of ${stack}`).sweepOrphans({ stack }),
      (r) =>
        `dropped ${r.droppedDatabases.length} database(s), deleted ${r.deletedCollections.length} collection(s), removed ${r.removedTempDirs.length + (r.removedPitrDirs?.length ?? 0)} drill dir(s)${r.stoppedScratchServers?.length ? `, stopped ${r.stoppedScratchServers.length} scratch server(s)` : ''}` +
        (r.asideOriginals.length > 0 ? `; kept aside originals ${r.asideOriginals.join(', ')}` : ''),
    );
  } catch (error) {
    if (isCancellation(error)) throw error;
    log.warn('janitor step failed; retention goes on', { error: (error as Error).message });
  }
}

/** Deletes what is left of the plan, a batch per step, and continues as new before the history grows large. */
async function deleteInBatches(options: PruneOptions, steps: StepTracker, progress: PruneContinuation): Promise<PruneReport> {
  const { target, planned, states, reasons, report } = progress;
  let remaining = progress.remaining;
  for (let batches = 0; remaining.length > 0; batches += 1) {
    const info = workflowInfo();
    if (batches >= BATCHES_PER_RUN || info.continueAsNewSuggested || info.historyLength >= HISTORY_EVENTS_PER_RUN) {
      const next: PruneContinuation = { ...progress, remaining, report: { ...report, total: { ...report.total, runs: report.total.runs + 1 } } };
      await continueAsNew<typeof pruneBackups>(options, next);
    }
    const batch = remaining.slice(0, DELETE_BATCH_SIZE);
    const first = planned - remaining.length + 1;
    const { results } = await steps.step(
      'delete',
      `delete backups ${first}–${first + batch.length - 1} of ${planned}`,
      () =>
        streamingActivities(`delete ${batch.length} backup(s) of ${target.stack}`).deleteBackups({
          store: target.store,
          stack: target.stack,
          backups: batch.map((backupId) => ({ backupId, complete: states[backupId] !== 'incomplete' })),
        }),
      (r) => {
        const skipped = r.results.filter((result) => result.skipped).length;
        const bytes = r.results.reduce((sum, result) => sum + result.bytes, 0);
        return `${r.results.length - skipped} deleted (${formatBytes(bytes)})${skipped ? `, ${skipped} skipped` : ''}`;
      },
    );
    for (const result of results) {
      const { backupId } = result;
      const state = states[backupId] ?? 'good';
      const why = reasons[backupId] ?? [`planned for deletion (${state})`];
      if (result.skipped) recordKept(report, { backupId, state, reasons: [...why, `not deleted: ${result.skipped}`] });
      else recordDeleted(report, { backupId, state, reasons: why, objects: result.objects, bytes: result.bytes });
      delete states[backupId];
      delete reasons[backupId];
    }
    remaining = remaining.slice(batch.length);
  }

  const { total } = report;
  steps.finish(`kept ${total.kept}, deleted ${total.deleted} (${formatBytes(total.bytes)}) in ${total.runs} run(s), ${total.abortedUploads} stale upload(s)`);
  return finishedReport(report);
}

/**
 * For `backup` to call once its manifest is written, when its stack has a retention policy:
 * prunes as a child workflow, so the prune keeps its own history and report (a child that
 * continues as new is still one child to `executeChild`).
 */
export function runRetentionAfterBackup(stack: string, plan: string | undefined): Promise<PruneReport> {
  return executeChild(pruneBackups, {
    args: [{ stack, dryRun: false, ...(plan ? { plan } : {}) }],
    workflowId: `${workflowInfo().workflowId}-prune`,
    staticSummary: `prune of stack ${stack}${plan ? ` (plan ${plan})` : ''} after backup`,
  });
}
