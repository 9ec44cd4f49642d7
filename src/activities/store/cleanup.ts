import { text } from 'node:stream/consumers';
import { backupLockSchema } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { lockIsFresh, timeOfBackupId, type DrillSummary, type RetentionCandidate, type UploadSummary } from '../../core/retention.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { listBackupsIn, type BackupListing, type VerificationSummary } from './catalog.js';
import { withStore } from './open.js';
import type { ArtifactStore, StoredObject } from './types.js';
import { backupKeys } from '../../core/storeKeys.js';

export interface PruneListing {
  candidates: RetentionCandidate[];
  unfinishedUploads: UploadSummary[];
}

export interface DeletedBackup {
  backupId: string;
  objects: number;
  bytes: number;
  /** Set when the backup was left alone after all, and why. */
  skipped?: string;
}

const drill = (summary: VerificationSummary | undefined): DrillSummary | undefined =>
  summary && { depth: summary.depth, passed: summary.passed, finishedAt: summary.finishedAt };

export function toRetentionCandidate(listing: BackupListing): RetentionCandidate {
  return {
    backupId: listing.backupId,
    // The manifest's start time is to the millisecond; the id's stamp only to the second, and
    // two backups of one second must not be ordered by the random tail of their ids.
    time: listing.manifest?.startedAt ?? timeOfBackupId(listing.backupId),
    lastModified: listing.lastModified,
    complete: listing.manifest !== undefined,
    problem: listing.problem,
    lastVerification: drill(listing.lastVerification),
    lastRestoreVerification: drill(listing.lastRestoreVerification),
    locks: listing.locks.map(({ workflowId, runbook, since }) => ({ workflowId, runbook, since })),
    objects: listing.objects,
    bytes: listing.bytes,
  };
}

/**
 * A lock taken after the listing (a restore that just started) must still stop the delete.
 * A lock object that does not parse is aged by its lastModified instead of its `since`.
 */
async function freshLockIn(store: ArtifactStore, lockObjects: StoredObject[]): Promise<string | undefined> {
  const now = new Date();
  for (const object of lockObjects) {
    const parsed = backupLockSchema.safeParse(await text(await store.get(object.key)).then(JSON.parse).catch(() => undefined));
    const lock = parsed.success ? parsed.data : { workflowId: object.key, runbook: 'an unreadable lock', since: object.lastModified.toISOString() };
    if (lockIsFresh(lock, now)) return `in use by ${lock.runbook} ${lock.workflowId} since ${lock.since}`;
  }
  return undefined;
}

async function summarizeUploads(store: ArtifactStore, prefix: string): Promise<UploadSummary[]> {
  const summaries: UploadSummary[] = [];
  for (const upload of await store.listUnfinishedUploads(prefix)) {
    const lastWrite = await store.lastWriteOf(upload).catch((error: Error) => {
      if (error.name === 'NoSuchUpload') return undefined; // completed or aborted since the listing
      throw error;
    });
    if (lastWrite) summaries.push({ key: upload.key, uploadId: upload.uploadId, initiated: upload.initiated.toISOString(), lastWrite: lastWrite.toISOString() });
  }
  return summaries;
}

export function createCleanupActivities() {
  return {
    /** Every backup prefix of the stack as a retention candidate, and the unfinished uploads under it. */
    async listPruneCandidates({ store: storeConfig, stack }: { store: StoreConfig; stack: string }): Promise<PruneListing> {
      const progress = new ProgressHeartbeat(`list backups of ${stack}`);
      return withStore(storeConfig, (store) =>
        progress.during(
          (async () => ({
            candidates: (await listBackupsIn(store, stack)).map(toRetentionCandidate),
            unfinishedUploads: await summarizeUploads(store, `${stack}/`),
          }))(),
        ),
      );
    },

    /**
     * Deletes one backup: the manifest first, so a half-deleted backup is never taken for a
     * complete one, then every other object. A retry finds fewer objects and goes on; the
     * counts carry over in the heartbeat details.
     */
    async deleteBackup({ store: storeConfig, stack, backupId, complete }: { store: StoreConfig; stack: string; backupId: string; complete: boolean }): Promise<DeletedBackup> {
      const progress = new ProgressHeartbeat(`delete ${backupId}`);
      const counts = { objects: 0, bytes: 0, ...progress.previousDetails<{ objects: number; bytes: number }>() };
      return withStore(storeConfig, async (store) => {
        progress.beat(counts, true);
        const found: StoredObject[] = [];
        for await (const object of store.list(backupKeys.prefix(stack, backupId))) found.push(object);
        const inUse = await freshLockIn(store, found.filter((object) => object.key.startsWith(backupKeys.locksPrefix(stack, backupId))));
        if (inUse) return { backupId, ...counts, skipped: `${inUse} (lock taken after the listing)` };
        const manifestKey = backupKeys.manifest(stack, backupId);
        const manifest = found.find((object) => object.key === manifestKey);
        if (manifest && !complete) return { backupId, ...counts, skipped: 'a manifest appeared after the listing: the backup may have just finished' };

        const ordered = manifest ? [manifest, ...found.filter((object) => object !== manifest)] : found;
        for (const [index, object] of ordered.entries()) {
          progress.signal.throwIfAborted();
          await store.delete(object.key);
          counts.objects += 1;
          counts.bytes += object.size;
          progress.beat({ ...counts, remaining: ordered.length - index - 1 }, true);
        }
        return { backupId, ...counts };
      });
    },

    /** Aborts unfinished uploads (S3 multipart uploads, fs ".partial" files); one already gone counts as done. */
    async abortStaleUploads({ store: storeConfig, uploads }: { store: StoreConfig; uploads: UploadSummary[] }): Promise<{ aborted: number }> {
      const progress = new ProgressHeartbeat('abort stale uploads');
      return withStore(storeConfig, async (store) => {
        let aborted = 0;
        for (const upload of uploads) {
          progress.signal.throwIfAborted();
          await store.abortUpload({ ...upload, initiated: new Date(upload.initiated) }).catch((error: Error) => {
            if (error.name !== 'NoSuchUpload') throw error;
          });
          aborted += 1;
          progress.beat({ aborted, remaining: uploads.length - aborted }, true);
        }
        return { aborted };
      });
    },
  };
}
