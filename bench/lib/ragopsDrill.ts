// ragops restore drills as an operator runs them: a `verifyBackup` workflow at restore depth
// on a real `ragops worker` process, timed from workflow start to result, with the drill's
// own check durations and an outside view of its scratch database (drillTimeline.ts).
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { VerificationCheck } from '../../src/config/manifest.js';
import { startVerify } from '../../src/client/api/runbooks.js';
import type { VerifyReport } from '../../src/workflows/verifyBackup.js';
import { watchDrillTimeline, type DrillTimeline } from './drillTimeline.js';
import { ownedDatabaseName } from '../../src/core/runNames.js';

export interface RagopsDrillRun {
  wallMs: number;
  report: VerifyReport;
  timeline: DrillTimeline;
  /** The checksum check's durationMs: the artifact re-read from the store and hashed. */
  checksumMs: number;
  /** The pg_restore check's durationMs: download (local disk only) + pg_restore. */
  pgRestoreCheckMs: number;
  /** The row-count check's durationMs: exact count(*) of every table. */
  rowCountsMs: number;
  /** Store → local temp file, before pg_restore starts (undefined when streamed). */
  downloadMs?: number;
  /** pg_restore itself: the pg_restore check less the download. */
  restoreMs: number;
  /** DROP DATABASE of the scratch database, inside the drill activity. */
  dropMs?: number;
  /** The rest: workflow and activity scheduling, plan, hold, CREATE DATABASE, sanity SQL, release, evidence. */
  otherMs: number;
}

/** The run tag the drill's plan activity made (recorded in its history), once it is there. */
async function planRunTag(handle: WorkflowHandle): Promise<string> {
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const payload = events.find((event) => event.activityTaskCompletedEventAttributes)?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    if (payload) return (defaultPayloadConverter.fromPayload(payload) as { runTag: string }).runTag;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function checkNamed(report: VerifyReport, name: string): VerificationCheck {
  const found = report.checks.find((check) => check.name === name && check.component !== 'qdrant');
  if (!found) throw new Error(`drill of ${report.backupId} reported no "${name}" check: ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
}

/**
 * One restore-depth drill of `backupId`. `onScratch` hears the scratch database's name as
 * soon as it is known, so a caller can drop it should the worker die mid-drill.
 */
export async function timeRagopsDrill(
  client: Client,
  options: { stack: string; backupId: string; taskQueue: string; label: string; localDisk: boolean; onScratch?: (name: string) => void },
): Promise<RagopsDrillRun> {
  const started = performance.now();
  const handle = await startVerify(client, { stack: options.stack, backupId: options.backupId, depth: 'restore' }, { taskQueue: options.taskQueue });
  const scratch = ownedDatabaseName('drill', await planRunTag(handle), options.label);
  options.onScratch?.(scratch);
  const watch = await watchDrillTimeline(scratch);
  const outcome = await handle.result().then(
    (report) => ({ report, wallMs: performance.now() - started }),
    (error: unknown) => ({ error }),
  );
  const timeline = await watch.stop();
  if ('error' in outcome) throw outcome.error;
  const { report, wallMs } = outcome;
  if (!report.passed) throw new Error(`drill of ${options.backupId} failed: ${JSON.stringify(report.checks)}`);

  // Restore depth has no separate checksum pass any more (the restore hashes what it reads).
  const checksumMs = report.checks.find((check) => check.name === 'checksum')?.durationMs ?? 0;
  const pgRestoreCheckMs = checkNamed(report, 'pg_restore').durationMs;
  const rowCountsMs = checkNamed(report, 'row counts').durationMs;
  const { created, restoreStarted, dropStarted, dropped } = timeline;
  const downloadMs = options.localDisk && created !== undefined && restoreStarted !== undefined ? restoreStarted - created : undefined;
  const dropMs = dropStarted !== undefined && dropped !== undefined ? dropped - dropStarted : undefined;
  const restoreMs = pgRestoreCheckMs - (downloadMs ?? 0);
  return {
    wallMs,
    report,
    timeline,
    checksumMs,
    pgRestoreCheckMs,
    rowCountsMs,
    downloadMs,
    restoreMs,
    dropMs,
    otherMs: wallMs - checksumMs - pgRestoreCheckMs - rowCountsMs - (dropMs ?? 0),
  };
}
