import type { RetentionPolicy } from '../../config/stacks/index.js';
import { compareText, type BackupState, type RetentionDecision, type UploadSummary } from '../../core/retention.js';

/** Each list of a report names at most this many entries; `omitted` counts the rest. */
export const REPORT_LIST_CAP = 200;

export type KeptEntry = { backupId: string; state: BackupState; reasons: string[] };
export type DeletedEntry = { backupId: string; state: BackupState; reasons: string[]; objects: number; bytes: number };

export interface PruneReport {
  stack: string;
  store: string;
  dryRun: boolean;
  /** The workflow time the plan was made at; every run of a continued prune keeps it. */
  now: string;
  policy: RetentionPolicy;
  /** Newest first, each with every reason that applied; at most REPORT_LIST_CAP. */
  kept: KeptEntry[];
  /**
   * Newest first; in a dry run, what would be deleted (objects and bytes as listed). At most
   * REPORT_LIST_CAP: the first ones deleted (the oldest).
   */
  deleted: DeletedEntry[];
  /** Ids of deleted crash leftovers (no manifest); at most REPORT_LIST_CAP. */
  leftovers: string[];
  /** In a dry run, what would be aborted. */
  abortedUploads: UploadSummary[];
  /** Unfinished uploads younger than the grace period: maybe still being written. */
  youngUploads: UploadSummary[];
  /** How many entries each list above leaves out to stay bounded ("… and N more"). */
  omitted: { kept: number; deleted: number; leftovers: number; abortedUploads: number; youngUploads: number };
  /** `runs`: how many runs the prune took (it continues as new when its history grows). */
  total: { kept: number; deleted: number; objects: number; bytes: number; abortedUploads: number; leftovers: number; runs: number };
}

type ListName = keyof PruneReport['omitted'];

export function emptyReport(fields: Pick<PruneReport, 'stack' | 'store' | 'dryRun' | 'now' | 'policy'>): PruneReport {
  return {
    ...fields,
    kept: [],
    deleted: [],
    leftovers: [],
    abortedUploads: [],
    youngUploads: [],
    omitted: { kept: 0, deleted: 0, leftovers: 0, abortedUploads: 0, youngUploads: 0 },
    total: { kept: 0, deleted: 0, objects: 0, bytes: 0, abortedUploads: 0, leftovers: 0, runs: 1 },
  };
}

function listCapped<L extends ListName>(report: PruneReport, list: L, entry: PruneReport[L][number]): void {
  const entries = report[list] as Array<typeof entry>;
  if (entries.length < REPORT_LIST_CAP) entries.push(entry);
  else report.omitted[list] += 1;
}

export function recordKept(report: PruneReport, entry: KeptEntry): void {
  listCapped(report, 'kept', entry);
  report.total.kept += 1;
}

export function recordDeleted(report: PruneReport, entry: DeletedEntry): void {
  listCapped(report, 'deleted', entry);
  report.total.deleted += 1;
  report.total.objects += entry.objects;
  report.total.bytes += entry.bytes;
  if (entry.state === 'incomplete') {
    listCapped(report, 'leftovers', entry.backupId);
    report.total.leftovers += 1;
  }
}

export function recordUploads(report: PruneReport, list: 'abortedUploads' | 'youngUploads', uploads: UploadSummary[]): void {
  for (const upload of uploads) listCapped(report, list, upload);
  if (list === 'abortedUploads') report.total.abortedUploads += uploads.length;
}

export const decisionEntry = ({ backupId, state, reasons }: RetentionDecision): KeptEntry => ({ backupId, state, reasons });

/** The report as returned: lists newest first. */
export function finishedReport(report: PruneReport): PruneReport {
  const newestFirst = (a: { backupId: string }, b: { backupId: string }) => compareText(b.backupId, a.backupId);
  return { ...report, kept: [...report.kept].sort(newestFirst), deleted: [...report.deleted].sort(newestFirst), leftovers: [...report.leftovers].sort().reverse() };
}
