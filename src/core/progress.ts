// What `--wait` shows while a run goes: one line per look at the run, built from its
// RagopsPhase and the heartbeat details of its running activities. Pure: the CLI reads the
// server and the clock, these functions only turn what it read into text.
import { z } from 'zod';
import { formatBytes } from './format.js';

const figure = z.number().finite().nonnegative().optional().catch(undefined);
const words = z.string().optional().catch(undefined);

/**
 * The heartbeat fields a progress line can show: ProgressHeartbeat's `step`, `phase`, `bytes`
 * and `mibPerSecond`; a total where the activity knows one (`totalBytes`, `totalRows`); rows
 * of an ingestion (`progress.rows`, `rowsPerSecond`, `etaSeconds`). Details come from the
 * server, written by whatever worker ran the activity: a malformed field is dropped, not fatal.
 */
const heartbeatFiguresSchema = z
  .object({
    step: words,
    phase: words,
    bytes: figure,
    totalBytes: figure,
    mibPerSecond: figure,
    rows: figure,
    totalRows: figure,
    rowsPerSecond: figure,
    etaSeconds: figure,
    progress: z.object({ rows: figure }).optional().catch(undefined),
  })
  .catch({});

export interface ProgressFigures {
  step?: string;
  phase?: string;
  bytes?: number;
  totalBytes?: number;
  mibPerSecond?: number;
  rows?: number;
  totalRows?: number;
  rowsPerSecond?: number;
  etaSeconds?: number;
}

export function progressFigures(details: unknown): ProgressFigures {
  const { progress, ...parsed } = heartbeatFiguresSchema.parse(details ?? {});
  const figures: ProgressFigures = { ...parsed, rows: parsed.rows ?? progress?.rows };
  return Object.fromEntries(Object.entries(figures).filter(([, value]) => value !== undefined)) as ProgressFigures;
}

/** A running activity as `describe()` shows it: its type, attempt, last heartbeat's details. */
export interface ActivityProgress {
  activityType: string;
  attempt: number;
  details?: unknown;
  /** The failure of the previous attempt, when this one is a retry. */
  lastFailure?: string;
  /** MiB/s between the last two looks, for details that carry bytes but no rate. */
  measuredMibPerSecond?: number;
}

export interface RunProgress {
  workflowId: string;
  /** RagopsPhase: the runbook's current step. */
  phase?: string;
  elapsedMs: number;
  activities: ActivityProgress[];
  /** A child run whose activities these are (deploy's backup, DR's restores). */
  child?: string;
  /** Why the figures are old: the server did not answer the last look. */
  stale?: string;
}

/** `[########------------]`: ASCII, so CI logs and any terminal show it. */
export function progressBar(fraction: number, width = 20): string {
  const clamped = Number.isFinite(fraction) ? Math.min(Math.max(fraction, 0), 1) : 0;
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** 42s, 3m05s, 2h03m: short, fixed order, no locale. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

const percent = (done: number, total: number) => (total === 0 ? 100 : Math.min(100, (done / total) * 100));

/** What one activity is doing, with its figures: `pg_dump app: uploading | 412.3 MiB | 85.1 MiB/s`. */
export function activityText(activity: ActivityProgress): string {
  const f = progressFigures(activity.details);
  const what = `${f.step ?? activity.activityType}${f.phase ? `: ${f.phase}` : ''}`;
  const parts = [what];
  if (f.bytes !== undefined) {
    const rate = f.mibPerSecond ?? activity.measuredMibPerSecond;
    parts.push(f.totalBytes ? `${formatBytes(f.bytes)} of ${formatBytes(f.totalBytes)}` : formatBytes(f.bytes));
    if (rate !== undefined) parts.push(`${rate.toFixed(1)} MiB/s`);
    if (f.totalBytes) parts.push(`${progressBar(f.bytes / f.totalBytes)} ${percent(f.bytes, f.totalBytes).toFixed(1)} %`);
  } else if (f.rows !== undefined) {
    parts.push(f.totalRows !== undefined ? `${f.rows} of ${f.totalRows} rows` : `${f.rows} rows`);
    if (f.rowsPerSecond !== undefined) parts.push(`${f.rowsPerSecond} rows/s`);
    if (f.totalRows !== undefined) parts.push(`${progressBar(f.rows / Math.max(f.totalRows, 1))} ${percent(f.rows, f.totalRows).toFixed(1)} %`);
  }
  if (f.etaSeconds !== undefined) parts.push(`ETA ${formatElapsed(f.etaSeconds * 1000)}`);
  if (activity.attempt > 1) parts.push(`attempt ${activity.attempt}${activity.lastFailure ? ` after: ${firstLine(activity.lastFailure)}` : ''}`);
  return parts.join(' | ');
}

export function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

/**
 * One line for a look at the run: elapsed time, run, phase, the busiest activity with its
 * figures (the one moving the most bytes or rows), and how many more run beside it.
 */
export function progressLine(run: RunProgress): string {
  const head = [`[${formatElapsed(run.elapsedMs).padStart(6)}] ${run.workflowId}`];
  if (run.phase) head.push(run.phase);
  if (run.child) head.push(`child ${run.child}`);
  const ranked = [...run.activities].sort((a, b) => weight(b) - weight(a));
  const [first, ...others] = ranked;
  if (first) head.push(activityText(first) + (others.length > 0 ? ` (+${others.length} more running)` : ''));
  else head.push(run.phase === 'approve' ? 'waiting for approval' : 'waiting');
  if (run.stale) head.push(`(no answer from the server: ${firstLine(run.stale)})`);
  return head.join(' | ');
}

function weight(activity: ActivityProgress): number {
  const f = progressFigures(activity.details);
  return f.bytes ?? f.rows ?? -1;
}

/** Fits a line into a terminal row (the redrawn line must never wrap, or the redraw leaves copies). */
export function fitToWidth(line: string, columns: number): string {
  if (columns <= 1 || line.length < columns) return line;
  return `${line.slice(0, Math.max(columns - 2, 0))}…`;
}
