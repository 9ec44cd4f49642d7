// Disaster recovery's pure parts: the phases in order, which backup a recovery uses, and the
// RTO/RPO arithmetic against the stack's targets.

export const DR_PHASES = ['assess', 'approve', 'stop writers', 'restore data', 'verify dependencies', 'deploy services', 'traffic', 'validate', 'report'] as const;
export type DrPhase = (typeof DR_PHASES)[number];

export type DrillVerdict = 'passed' | 'failed' | 'inconclusive';

export interface DrBackupCandidate {
  backupId: string;
  startedAt: string;
  finishedAt: string;
  /** The newest conclusive drill (any depth), and the newest restore-depth one. */
  lastConclusiveDrill?: DrillVerdict;
  lastRestoreDrill?: DrillVerdict;
}

export type DrBackupChoice = { backupId: string; verified: boolean; why: string } | { refused: string };

/**
 * The backup a recovery restores: the named one, or the newest (finished by `at`) whose last
 * restore drill passed; one never drilled only with allowUnverified; one whose last conclusive
 * drill failed never. Candidates newest first.
 */
export function chooseDrBackup(candidates: readonly DrBackupCandidate[], options: { at?: string; backupId?: string; allowUnverified: boolean }): DrBackupChoice {
  const failed = (candidate: DrBackupCandidate) => candidate.lastConclusiveDrill === 'failed';
  const verified = (candidate: DrBackupCandidate) => candidate.lastRestoreDrill === 'passed' && !failed(candidate);
  if (options.backupId !== undefined) {
    const named = candidates.find((candidate) => candidate.backupId === options.backupId);
    if (!named) return { refused: `backupId: no complete backup ${options.backupId}` };
    if (failed(named)) return { refused: `backupId: the last drill of backup ${named.backupId} failed; it is never used for a recovery` };
    if (!verified(named) && !options.allowUnverified) return { refused: `backupId: no restore drill of backup ${named.backupId} has passed; set allowUnverified to use it anyway` };
    return { backupId: named.backupId, verified: verified(named), why: 'named in the input' };
  }
  const eligible = candidates.filter((candidate) => options.at === undefined || Date.parse(candidate.finishedAt) <= Date.parse(options.at));
  const by = options.at !== undefined ? ` finished by ${options.at}` : '';
  const newestVerified = eligible.find(verified);
  if (newestVerified) return { backupId: newestVerified.backupId, verified: true, why: `the newest backup${by} whose last restore drill passed` };
  const newestUndrilled = eligible.find((candidate) => !failed(candidate));
  if (newestUndrilled && options.allowUnverified) return { backupId: newestUndrilled.backupId, verified: false, why: `the newest backup${by} whose last drill did not fail (allowUnverified: no restore drill has passed)` };
  if (eligible.length === 0) return { refused: `no complete backup${by}` };
  const failedCount = eligible.filter(failed).length;
  return {
    refused: `no backup${by} has passed a restore drill (${eligible.length} complete, ${failedCount} with a failed drill): drill one (ragops verify run), or set allowUnverified to use the newest never-drilled one`,
  };
}

export interface AgainstTarget {
  seconds: number;
  targetSeconds: number;
  met: boolean;
}

export function againstTarget(seconds: number, targetMinutes: number): AgainstTarget {
  const targetSeconds = Math.round(targetMinutes * 60);
  return { seconds, targetSeconds, met: seconds <= targetSeconds };
}

/** Seconds between two ISO times, to the millisecond. */
export const secondsBetween = (from: string, to: string): number => Math.round(Date.parse(to) - Date.parse(from)) / 1000;
