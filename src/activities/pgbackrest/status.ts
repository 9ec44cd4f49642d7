import type { StoreConfig } from '../../config/stacks/index.js';
import { achievableRpo, type AchievableRpo, type PgbackrestBackupType, type PgbackrestStanzaInfo } from '../../core/pgbackrest.js';
import { connectionFor, openSession } from '../postgres/session.js';
import { repositoryOf, type PhysicalPostgresTarget } from './config.js';
import { describeRepository, withPgbackrest } from './session.js';

/** The server's archiver, from pg_stat_archiver and archive_mode. */
export interface ArchiverStatus {
  archiveMode: string;
  archivedCount: number;
  lastArchivedWal?: string;
  lastArchivedAt?: string;
  failedCount: number;
  lastFailedWal?: string;
  lastFailedAt?: string;
  /** The last attempt failed: a failure newer than the last success. */
  failing: boolean;
}

/** One target's point-in-time recovery as both sides see it; a side that could not be read has an error instead. */
export interface PitrStatus {
  target: string;
  database: string;
  stanza: string;
  /** Where the repository is, without secrets. */
  repository: string;
  readAt: string;
  stanzaInfo?: {
    status: PgbackrestStanzaInfo['status'];
    backups: Array<{ label: string; type: PgbackrestBackupType; stoppedAt: string }>;
    archive?: { minWal: string; maxWal: string };
  };
  repositoryError?: string;
  archiver?: ArchiverStatus;
  serverError?: string;
  /** From what could be read; undefined when neither side says. */
  rpo?: AchievableRpo;
}

const iso = (value: Date | null) => (value ? value.toISOString() : undefined);

async function readArchiver(target: PhysicalPostgresTarget): Promise<ArchiverStatus> {
  const client = await openSession(await connectionFor(target), 'ragops-pitr-status');
  try {
    const { rows } = await client.query<{
      archive_mode: string;
      archived_count: string;
      last_archived_wal: string | null;
      last_archived_time: Date | null;
      failed_count: string;
      last_failed_wal: string | null;
      last_failed_time: Date | null;
    }>(
      `SELECT current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal, last_archived_time,
              failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver`,
    );
    const row = rows[0]!;
    return {
      archiveMode: row.archive_mode,
      archivedCount: Number(row.archived_count),
      ...(row.last_archived_wal ? { lastArchivedWal: row.last_archived_wal } : {}),
      ...(row.last_archived_time ? { lastArchivedAt: iso(row.last_archived_time) } : {}),
      failedCount: Number(row.failed_count),
      ...(row.last_failed_wal ? { lastFailedWal: row.last_failed_wal } : {}),
      ...(row.last_failed_time ? { lastFailedAt: iso(row.last_failed_time) } : {}),
      failing: row.last_failed_time !== null && (row.last_archived_time === null || row.last_failed_time > row.last_archived_time),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Reads the repository (`pgbackrest info`) and the server (pg_stat_archiver) side by side;
 * either may fail alone, and the achievable RPO then rests on what the other says.
 */
export async function readPitrStatus(target: PhysicalPostgresTarget, store: StoreConfig, signal?: AbortSignal): Promise<PitrStatus> {
  const [info, archiver] = await Promise.allSettled([withPgbackrest(target, store, (session) => session.info(signal)), readArchiver(target)]);
  const now = new Date();
  const status: PitrStatus = {
    target: target.name,
    database: target.database,
    stanza: target.physical.stanza,
    repository: describeRepository(repositoryOf(target.physical, store, process.cwd())),
    readAt: now.toISOString(),
  };
  if (info.status === 'fulfilled') {
    status.stanzaInfo = {
      status: info.value.status,
      backups: info.value.backups.map(({ label, type, stoppedAt }) => ({ label, type, stoppedAt })),
      ...(info.value.archive ? { archive: info.value.archive } : {}),
    };
  } else {
    status.repositoryError = (info.reason as Error).message;
  }
  if (archiver.status === 'fulfilled') status.archiver = archiver.value;
  else status.serverError = (archiver.reason as Error).message;
  const lastArchivedAt = status.archiver?.lastArchivedAt ? new Date(status.archiver.lastArchivedAt) : undefined;
  const rpo = achievableRpo(now, { lastArchivedAt, info: info.status === 'fulfilled' ? info.value : undefined });
  if (rpo) status.rpo = rpo;
  return status;
}
