import { text } from 'node:stream/consumers';
import { backupLockSchema } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { lockIsFresh, timeOfBackupId, type DrillSummary, type RetentionCandidate, type UploadSummary } from '../../core/retention.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { listBackupPage, type BackupListing, type VerificationSummary } from './catalog.js';
import { withStore } from './open.js';
import type { ArtifactStore, StoredObject } from './types.js';
import { backupKeys, isMirrorObjectKey } from '../../core/storeKeys.js';
import { deleteMirrorBytesIn } from '../mirror/prune.js';

/** One page of a stack's retention candidates (see listBackupPage). */
export interface PruneListing {
  /** In key order (oldest id first); compact: counts and drill summaries, never manifests. */
  candidates: RetentionCandidate[];
  /** The cursor for the next page; absent on the last page. */
  next?: string;
  /** The stack's unfinished uploads, listed with the first page only (empty on later ones). */
  unfinishedUploads: UploadSummary[];
}

export interface BackupToDelete {
  backupId: string;
  /** Had a manifest when listed: an incomplete backup whose manifest appeared since is left alone. */
  complete: boolean;
}

/** How many backups of one batch are deleted at once. */
const DELETE_CONCURRENCY = 8;

/** Heartbeat details of deleteBackups: what a retry skips and where it resumes. */
interface BatchProgress {
  done: DeletedBackup[];
  /** Objects and bytes already deleted of backups still in progress. */
  partial: Record<string, { objects: number; bytes: number }>;
}

export interface DeletedBackup {
  backupId: string;
  objects: number;
  bytes: number;
  /** Set when the backup was left alone after all, and why. */
  skipped?: string;
}

const drill = (summary: VerificationSummary | undefined): DrillSummary | undefined =>
  summary && { depth: summary.depth, passed: summary.passed, outcome: summary.outcome, finishedAt: summary.finishedAt };

export function toRetentionCandidate(listing: BackupListing): RetentionCandidate {
  return {
    backupId: listing.backupId,
    // The manifest's start time is to the millisecond; the id's stamp only to the second, and
    // two backups of one second must not be ordered by the random tail of their ids.
    time: listing.manifest?.startedAt ?? timeOfBackupId(listing.backupId),
    lastModified: listing.lastModified,
    complete: listing.manifest !== undefined,
    ...(listing.manifest?.plan === undefined ? {} : { plan: listing.manifest.plan }),
    problem: listing.problem,
    lastVerification: drill(listing.lastConclusiveVerification),
    lastRestoreVerification: drill(listing.lastRestoreVerification),
    lastInconclusive: listing.lastVerification?.outcome === 'inconclusive' ? drill(listing.lastVerification) : undefined,
    unreadable: listing.unreadable.length > 0 ? listing.unreadable : undefined,
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
    let body: string;
    try {
      body = await text(await store.get(object.key));
    } catch (error) {
      // Fail closed: a lock that cannot be read may be a running restore's.
      return `lock ${object.key} could not be read (${error instanceof Error ? error.message : String(error)})`;
    }
    const parsed = backupLockSchema.safeParse(await Promise.resolve(body).then(JSON.parse).catch(() => undefined));
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

/**
 * Deletes one backup: the manifest first, so a half-deleted backup is never taken for a
 * complete one, then every other object. A retry finds fewer objects and goes on from
 * `counts`. A fresh lock, or a manifest that appeared on a backup listed as incomplete,
 * leaves the backup alone.
 */
async function deleteOneBackup(
  store: ArtifactStore,
  stack: string,
  { backupId, complete }: BackupToDelete,
  counts: { objects: number; bytes: number },
  onObject: (counts: { objects: number; bytes: number; remaining: number }) => void,
  signal: AbortSignal,
  mirrorEntryLists: () => Promise<string[]>,
): Promise<DeletedBackup> {
  const found: StoredObject[] = [];
  for await (const object of store.list(backupKeys.prefix(stack, backupId))) found.push(object);
  const inUse = await freshLockIn(store, found.filter((object) => object.key.startsWith(backupKeys.locksPrefix(stack, backupId))));
  if (inUse) return { backupId, ...counts, skipped: `${inUse} (lock taken after the listing)` };
  const manifestKey = backupKeys.manifest(stack, backupId);
  const manifest = found.find((object) => object.key === manifestKey);
  if (manifest && !complete) return { backupId, ...counts, skipped: 'a manifest appeared after the listing: the backup may have just finished' };

  const removeObject = async (object: StoredObject, remaining: number) => {
    signal.throwIfAborted();
    await store.delete(object.key);
    counts.objects += 1;
    counts.bytes += object.size;
    onObject({ ...counts, remaining });
  };
  // Mirrored objects are left to the mirror-aware delete: a later backup may reference them.
  const rest = found.filter((object) => object !== manifest && !isMirrorObjectKey(object.key));
  if (manifest) await removeObject(manifest, rest.length);
  const mirrors = mirrorNamesIn(found.map((object) => object.key), stack, backupId);
  if (mirrors.length > 0) {
    const kept = (await mirrorEntryLists()).filter((key) => !key.startsWith(backupKeys.prefix(stack, backupId)));
    for (const name of mirrors) {
      const result = await deleteMirrorBytesIn(
        store,
        { pruned: { key: backupKeys.mirrorEntries(stack, backupId, name), objectsPrefix: backupKeys.mirrorObjectsPrefix(stack, backupId, name) }, keptKeys: kept },
        { beat: () => onObject({ ...counts, remaining: rest.length }), signal },
        { keptListsMayVanish: true },
      );
      counts.objects += result.deleted;
      counts.bytes += result.bytesDeleted;
    }
  }
  for (const [index, object] of rest.entries()) await removeObject(object, rest.length - index - 1);
  return { backupId, ...counts };
}

/** The mirror components a backup's keys show (an entry list, or copied objects). */
function mirrorNamesIn(keys: string[], stack: string, backupId: string): string[] {
  const mirrorPrefix = `${backupKeys.prefix(stack, backupId)}mirror/`;
  const names = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(mirrorPrefix)) continue;
    const rest = key.slice(mirrorPrefix.length);
    const entries = /^([^/]+)\.entries\.json$/.exec(rest);
    const objects = /^([^/]+)\/objects\//.exec(rest);
    const name = entries?.[1] ?? objects?.[1];
    if (name) names.add(name);
  }
  return [...names];
}

/** Every mirror entry list of the stack's backups (any plan, complete or not): what other backups may reference. */
async function listMirrorEntryLists(store: ArtifactStore, stack: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(`${stack}/`)) if (/^[^/]+\/[^/]+\/mirror\/[^/]+\.entries\.json$/.test(object.key)) keys.push(object.key);
  return keys;
}

export function createCleanupActivities() {
  return {
    /**
     * One page of the stack's backup prefixes as retention candidates (up to BACKUP_PAGE_SIZE
     * after `after`), heartbeating the backups read; the first page also lists the
     * unfinished uploads under the stack.
     */
    async listPruneCandidates({ store: storeConfig, stack, after }: { store: StoreConfig; stack: string; after?: string }): Promise<PruneListing> {
      const progress = new ProgressHeartbeat(`list backups of ${stack}`);
      const counts = { after: after ?? null, keysListed: 0, backupsRead: 0 };
      const listing = withStore(storeConfig, (store) =>
        progress.during(
          (async () => {
            const page = await listBackupPage(store, stack, { after, onProgress: (seen) => Object.assign(counts, seen) });
            return {
              candidates: page.listings.map(toRetentionCandidate),
              next: page.next,
              unfinishedUploads: after === undefined ? await summarizeUploads(store, `${stack}/`) : [],
            };
          })(),
          counts,
        ),
      );
      // The plan needs every page before it deletes anything, so a listing that fails stops the prune there.
      return listing.catch((error: unknown) => {
        if (error instanceof Error && !progress.signal.aborted) {
          error.message = `listing backups of ${stack} ${after === undefined ? '' : `after ${after} `}failed, nothing was deleted: ${error.message}`;
        }
        throw error;
      });
    },

    /**
     * Deletes a batch of backups (see deleteOneBackup), a few at a time. The heartbeat carries
     * each finished backup's result and the counts of those in progress, so a retry skips
     * the finished ones and the totals carry over. Results come in the order asked.
     */
    async deleteBackups({ store: storeConfig, stack, backups }: { store: StoreConfig; stack: string; backups: BackupToDelete[] }): Promise<{ results: DeletedBackup[] }> {
      const progress = new ProgressHeartbeat(`delete ${backups.length} backup(s) of ${stack}`);
      const previous = progress.previousDetails<Partial<BatchProgress>>();
      const state: BatchProgress = { done: previous?.done ?? [], partial: previous?.partial ?? {} };
      const beat = () => progress.beat({ done: state.done, partial: state.partial, remaining: backups.length - state.done.length }, true);
      const finished = new Set(state.done.map((result) => result.backupId));
      const queue = backups.filter((backup) => !finished.has(backup.backupId));
      return withStore(storeConfig, async (store) => {
        beat();
        // Listed once per batch, when a backup with a mirror comes up; lists of backups deleted meanwhile only keep more bytes.
        let entryLists: Promise<string[]> | undefined;
        const mirrorEntryLists = () => (entryLists ??= listMirrorEntryLists(store, stack));
        let failed = false;
        const worker = async () => {
          for (let backup = queue.shift(); backup && !failed; backup = queue.shift()) {
            const { backupId } = backup;
            const counts = { objects: 0, bytes: 0, ...state.partial[backupId] };
            try {
              const result = await deleteOneBackup(store, stack, backup, counts, ({ objects, bytes }) => {
                state.partial[backupId] = { objects, bytes };
                beat();
              }, progress.signal, mirrorEntryLists);
              delete state.partial[backupId];
              state.done.push(result);
              beat();
            } catch (error) {
              failed = true;
              throw error;
            }
          }
        };
        // Every worker settles before the activity fails, so the last heartbeat counts every
        // delete that completed and the store is not closed under a request in flight.
        const outcomes = await Promise.allSettled(Array.from({ length: DELETE_CONCURRENCY }, worker));
        const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
        if (failure) throw failure.reason;
        const byId = new Map(state.done.map((result) => [result.backupId, result]));
        return { results: backups.map((backup) => byId.get(backup.backupId)!) };
      });
    },

    /** One backup alone (see deleteOneBackup); the counts carry over a retry in the heartbeat details. */
    async deleteBackup({ store: storeConfig, stack, backupId, complete }: { store: StoreConfig; stack: string; backupId: string; complete: boolean }): Promise<DeletedBackup> {
      const progress = new ProgressHeartbeat(`delete ${backupId}`);
      const previous = progress.previousDetails<{ objects?: number; bytes?: number }>();
      const counts = { objects: previous?.objects ?? 0, bytes: previous?.bytes ?? 0 };
      return withStore(storeConfig, async (store) => {
        progress.beat(counts, true);
        return deleteOneBackup(store, stack, { backupId, complete }, counts, (details) => progress.beat(details, true), progress.signal, () => listMirrorEntryLists(store, stack));
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
