// What ragops keeps of pgBackRest's own account of a stanza (`pgbackrest info --output=json`),
// in the shape manifests, reports and metrics use.

export type PgbackrestBackupType = 'full' | 'diff' | 'incr';

export interface PgbackrestBackup {
  /** pgBackRest's label, e.g. 20261206-134501F or 20261206-134501F_20261206-140003I. */
  label: string;
  type: PgbackrestBackupType;
  /** The backup a diff or incr builds on; none for a full backup. */
  priorLabel?: string;
  startedAt: string;
  stoppedAt: string;
  lsn: { start: string; stop: string };
  /** The WAL segments the backup needs to be consistent: the archive range it depends on. */
  wal: { start: string; stop: string };
  /** Bytes of the cluster (databaseBytes), of files changed since the prior backup (deltaBytes), and both as stored in the repository. */
  sizes: { databaseBytes: number; deltaBytes: number; repositoryBytes: number; repositoryDeltaBytes: number };
  /** pgBackRest found page checksum errors while copying (its `error` flag). */
  pageChecksumErrors: boolean;
}

export interface PgbackrestStanzaInfo {
  stanza: string;
  /** 0 is "ok"; others are pgBackRest's, e.g. 1 "missing stanza path", 2 "no valid backups". */
  status: { code: number; message: string };
  /** Oldest first, as pgBackRest lists them. */
  backups: PgbackrestBackup[];
  /** The archived WAL of the current database: its oldest and newest segment names. */
  archive?: { minWal: string; maxWal: string };
  /** The PostgreSQL version of the current database ("15"). */
  postgresVersion?: string;
}

export const newestBackup = (info: PgbackrestStanzaInfo): PgbackrestBackup | undefined => info.backups.at(-1);

export interface AchievableRpo {
  seconds: number;
  /**
   * What the point rests on: the time the newest WAL segment was archived (the server's
   * pg_stat_archiver.last_archived_time: pgBackRest's info names the segment, not its time),
   * or the stop of the newest backup (whose WAL pgBackRest checked was archived), whichever is later.
   */
  basis: 'archived-wal' | 'backup-stop';
  recoverableTo: string;
}

/** now − the newest point a restore can reach, when anything tells it; undefined when nothing does. */
export function achievableRpo(now: Date, evidence: { lastArchivedAt?: Date; info?: PgbackrestStanzaInfo }): AchievableRpo | undefined {
  const backup = evidence.info ? newestBackup(evidence.info) : undefined;
  const points = [
    ...(evidence.lastArchivedAt ? [{ at: evidence.lastArchivedAt, basis: 'archived-wal' as const }] : []),
    ...(backup ? [{ at: new Date(backup.stoppedAt), basis: 'backup-stop' as const }] : []),
  ].filter((point) => !Number.isNaN(point.at.getTime()));
  const latest = points.reduce<(typeof points)[number] | undefined>((best, point) => (!best || point.at > best.at ? point : best), undefined);
  if (!latest) return undefined;
  return {
    seconds: Math.max(0, Math.round((now.getTime() - latest.at.getTime()) / 1000)),
    basis: latest.basis,
    recoverableTo: latest.at.toISOString(),
  };
}

/** The full backup a label belongs to: "20261206-134501F_20261206-140003I" → "20261206-134501F". */
export const fullLabelOf = (label: string): string => label.split('_')[0]!;

/**
 * The repo1-retention-full that `expire` runs with: the policy's, raised so that the newest
 * full backup a drill has proved good (or one of its diff/incr) is never expired — a
 * corrupted newer backup must not push out the last one known to restore. Fulls newest first.
 */
export function protectedRetentionFull(policy: number, fullsNewestFirst: readonly string[], provedGood: ReadonlySet<string>): { retentionFull: number; protecting?: string } {
  const newestGood = fullsNewestFirst.findIndex((label) => provedGood.has(label));
  if (newestGood < 0 || newestGood + 1 <= policy) return { retentionFull: policy };
  return { retentionFull: newestGood + 1, protecting: fullsNewestFirst[newestGood]! };
}

/** A drill's measured RPO: how far before its target the newest data it recovered lies. */
export function measuredRpoSeconds(target: Date, recoveredPoint: Date): number {
  return Math.round((target.getTime() - recoveredPoint.getTime()) / 1000);
}
