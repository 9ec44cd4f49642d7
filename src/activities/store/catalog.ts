import { forEachLimited } from '../runtime/pool.js';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { backupLockSchema, drEvidenceSummarySchema, type DrEvidenceSummary, manifestSchema, verificationOutcome, verificationSchema, type Artifact, type DrillOutcome, type BackupLock, type Manifest, type Verification, type VerificationCheck } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { compactStamp, mibPerSecond } from '../../core/format.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { hashStored } from './hashing.js';
import { recordInCatalogSafely } from './stackCatalog.js';
import { withArtifactStore, withStore } from './open.js';
import { StoreObjectMissing, type ArtifactStore } from './types.js';
import { backupKeys, backupIdPattern, isMirrorObjectKey } from '../../core/storeKeys.js';

export interface VerificationSummary {
  key: string;
  depth: 'checksum' | 'restore';
  passed: boolean;
  outcome: DrillOutcome;
  finishedAt: string;
}

export interface BackupListing {
  backupId: string;
  /** Present only for complete backups: a backup without a manifest is incomplete. */
  manifest?: Manifest;
  objects: number;
  bytes: number;
  lastModified: string;
  problem?: string;
  /** The newest drill of any outcome and depth, by its recorded finishedAt. */
  lastVerification?: VerificationSummary;
  /** The newest conclusive (passed or failed) drill of any depth, and of restore depth. */
  lastConclusiveVerification?: VerificationSummary;
  lastRestoreVerification?: VerificationSummary;
  /** The newest disaster recovery or DR drill that restored this backup: its RTO and RPO against the targets. */
  lastDr?: DrEvidenceSummary & { key: string };
  /** Running restores or drills using this backup. */
  locks: BackupLock[];
  /** Evidence files and locks that could not be read or parsed, each with why. */
  unreadable: string[];
}

interface ObjectsOfBackup {
  verificationKeys: string[];
  drKeys: string[];
  lockObjects: Array<{ key: string; lastModified: string }>;
}

async function readJson(store: ArtifactStore, key: string): Promise<unknown> {
  return JSON.parse(await text(await store.get(key)));
}

/** Backups listed per page: each page's listings stay far below Temporal's 2 MB payload limit. */
export const BACKUP_PAGE_SIZE = 1000;
/** How many backups' manifests, evidence and locks are read at once. */
const READ_CONCURRENCY = 8;

export interface BackupPage {
  /** In key order (oldest id first), at most `limit`. */
  listings: BackupListing[];
  /** The last backup id of this page, to pass as `after` for the next one; absent on the last page. */
  next?: string;
}

/** `onlyMirrorObjects`: what a pruned backup leaves for later backups that reference its mirrored objects. */
type GroupedBackup = BackupListing & ObjectsOfBackup & { hasManifest: boolean; onlyMirrorObjects: boolean };

/**
 * The store key right after every key of `backupId`: ids all have one length, and "0"
 * sorts right after "/", so the next id's keys (and only they) come after it.
 */
const keyAfterBackup = (stack: string, backupId: string) => `${backupKeys.prefix(stack, backupId).slice(0, -1)}0`;

/**
 * One page of a stack's backup sets, complete or not: up to `limit` backup ids after
 * `after`, in key order, each with its manifest, newest drills and locks read.
 * `onProgress` hears how many keys were listed and backups read so far.
 */
export async function listBackupPage(
  store: ArtifactStore,
  stack: string,
  options: { after?: string; limit?: number; onProgress?: (progress: { keysListed: number; backupsRead: number }) => void } = {},
): Promise<BackupPage> {
  const limit = options.limit ?? BACKUP_PAGE_SIZE;
  const progress = { keysListed: 0, backupsRead: 0 };
  const byId = new Map<string, GroupedBackup>();
  let more = false;
  const startAfter = options.after === undefined ? undefined : keyAfterBackup(stack, options.after);
  for await (const object of store.list(`${stack}/`, { startAfter })) {
    const [backupId = '', ...rest] = object.key.slice(stack.length + 1).split('/');
    if (!backupIdPattern.test(backupId)) continue;
    let listing = byId.get(backupId);
    if (!listing) {
      if (byId.size >= limit) {
        more = true;
        break;
      }
      listing = { backupId, objects: 0, bytes: 0, lastModified: object.lastModified.toISOString(), locks: [], unreadable: [], verificationKeys: [], drKeys: [], lockObjects: [], hasManifest: false, onlyMirrorObjects: true };
      byId.set(backupId, listing);
    }
    listing.objects += 1;
    listing.bytes += object.size;
    if (object.lastModified.toISOString() > listing.lastModified) listing.lastModified = object.lastModified.toISOString();
    const path = rest.join('/');
    if (!isMirrorObjectKey(object.key)) listing.onlyMirrorObjects = false;
    if (path === 'manifest.json') listing.hasManifest = true;
    else if (path.startsWith('verifications/')) listing.verificationKeys.push(object.key);
    else if (path.startsWith('dr/')) listing.drKeys.push(object.key);
    else if (path.startsWith('locks/')) listing.lockObjects.push({ key: object.key, lastModified: object.lastModified.toISOString() });
    progress.keysListed += 1;
    options.onProgress?.(progress);
  }
  // Mirrored bytes a pruned backup left because later backups reference them are not a backup of their own.
  const groups = [...byId.values()].filter((group) => !group.onlyMirrorObjects);
  const listings: BackupListing[] = new Array(groups.length);
  await forEachLimited(groups, READ_CONCURRENCY, async (group, index) => {
    listings[index] = await readDetails(store, stack, group);
    progress.backupsRead += 1;
    options.onProgress?.(progress);
  });
  return { listings, next: more ? [...byId.keys()].at(-1) : undefined };
}

/** A JSON object read and checked, or why it could not be: a failed GET and a bad body are told apart. */
async function readChecked<T>(store: ArtifactStore, key: string, schema: { safeParse(raw: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } }): Promise<{ data: T } | { problem: string }> {
  let body: string;
  try {
    body = await text(await store.get(key));
  } catch (error) {
    return { problem: `could not be read: ${briefly(error)}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { problem: 'is not JSON' };
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? { data: parsed.data } : { problem: `does not parse: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
}

const briefly = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 200);

/** The newest by the recorded finishedAt (key order is not time order across key formats). */
function newest(summaries: VerificationSummary[]): VerificationSummary | undefined {
  let found: VerificationSummary | undefined;
  for (const summary of summaries) {
    const [time, best] = [Date.parse(summary.finishedAt), found ? Date.parse(found.finishedAt) : -Infinity];
    if (time > best || (time === best && found && summary.key > found.key)) found = summary;
  }
  return found;
}

/**
 * Reads a backup's manifest, every drill's evidence and its locks. What cannot be read is
 * recorded (`problem` for the manifest, `unreadable` for the rest), never taken as a verdict.
 */
async function readDetails(store: ArtifactStore, stack: string, group: GroupedBackup): Promise<BackupListing> {
  const { verificationKeys, drKeys, lockObjects, hasManifest, ...listing } = group;
  if (hasManifest) {
    const read = await readChecked(store, backupKeys.manifest(stack, listing.backupId), manifestSchema);
    if ('data' in read) listing.manifest = read.data;
    else listing.problem = `manifest.json ${read.problem}`;
  }
  const drills: VerificationSummary[] = [];
  for (const key of verificationKeys) {
    const read = await readChecked(store, key, verificationSchema);
    if ('problem' in read) listing.unreadable.push(`drill evidence ${key.slice(stack.length + 1)} (${read.problem})`);
    else drills.push({ key, depth: read.data.depth, passed: read.data.passed, outcome: verificationOutcome(read.data), finishedAt: read.data.finishedAt });
  }
  const conclusive = drills.filter((drill) => drill.outcome !== 'inconclusive');
  listing.lastVerification = newest(drills);
  listing.lastConclusiveVerification = newest(conclusive);
  listing.lastRestoreVerification = newest(conclusive.filter((drill) => drill.depth === 'restore'));
  // Evidence keys start with the run's start time: the last in key order is the newest run.
  const newestDr = [...drKeys].sort().at(-1);
  if (newestDr) {
    const read = await readChecked(store, newestDr, drEvidenceSummarySchema);
    if ('data' in read) listing.lastDr = { key: newestDr, ...read.data };
    else listing.unreadable.push(`DR evidence ${newestDr.slice(stack.length + 1)} (${read.problem})`);
  }
  for (const object of lockObjects) {
    const read = await readChecked(store, object.key, backupLockSchema);
    if ('data' in read) listing.locks.push(read.data);
    // A lock that is there but does not parse is aged by its lastModified, as deleteBackups does.
    else if (read.problem.startsWith('could not be read')) listing.unreadable.push(`lock ${object.key.slice(stack.length + 1)} (${read.problem})`);
    else listing.locks.push({ workflowId: object.key.slice(stack.length + 1), runbook: `an unreadable lock (${read.problem})`, since: object.lastModified });
  }
  return listing;
}

/** The ids of a stack's backup sets (complete or not), newest first, from the key listing alone. */
export async function backupIdsIn(store: ArtifactStore, stack: string): Promise<string[]> {
  const ids = new Set<string>();
  for await (const object of store.list(`${stack}/`)) {
    const backupId = object.key.slice(stack.length + 1).split('/')[0] ?? '';
    if (backupIdPattern.test(backupId)) ids.add(backupId);
  }
  return [...ids].sort().reverse();
}

/** Narrows "the newest complete backup": started by a time (its id says when), and accepted by `accept`. */
export interface NewestBackupFilter {
  startedBy: Date;
  accept(manifest: Manifest): boolean;
  /** Said when none is found: "with a physical backup that ended by …". */
  what: string;
}

export type ManifestLookup = { manifest: Manifest } | { refused: string };

/**
 * The named backup's manifest, or else the newest complete backup's: reads manifests newest
 * first and stops at the first that parses, so choosing a backup never reads the whole catalog.
 * An incomplete backup (no manifest, or one that does not parse) is never chosen.
 */
export async function findManifest(store: ArtifactStore, stack: string, backupId?: string, newest?: NewestBackupFilter): Promise<ManifestLookup> {
  const manifestOf = async (id: string) => {
    const raw = await readJson(store, backupKeys.manifest(stack, id)).catch((error: unknown) => {
      if (error instanceof StoreObjectMissing) return undefined;
      throw error;
    });
    return raw === undefined ? { missing: true as const } : manifestSchema.safeParse(raw);
  };
  if (backupId) {
    const found = await manifestOf(backupId);
    if ('success' in found && found.success) return { manifest: found.data };
    const anyObject = await store.list(backupKeys.prefix(stack, backupId))[Symbol.asyncIterator]().next();
    if (anyObject.done) return { refused: `backupId: no backup ${backupId} of stack "${stack}" in ${store.location}` };
    const problem = 'missing' in found ? 'no manifest' : `manifest.json does not parse: ${found.error.issues[0]?.message ?? 'invalid'}`;
    return { refused: `backupId: backup ${backupId} is incomplete (${problem}); it cannot be verified or restored` };
  }
  for (const id of await backupIdsIn(store, stack)) {
    if (newest && id.slice(0, 16) > compactStamp(newest.startedBy)) continue;
    const found = await manifestOf(id);
    if ('success' in found && found.success && (!newest || newest.accept(found.data))) return { manifest: found.data };
  }
  return { refused: `stack "${stack}" has no complete backup${newest ? ` ${newest.what}` : ''} in ${store.location}` };
}

/** How many manifests, newest first, are read looking for the previous backup of a mirror. */
const PREVIOUS_MIRROR_SEARCH = 200;

/**
 * Per mirror name, the entry list of the newest complete backup (of any plan) that has it: the
 * next mirror copies only what changed since. A name not found within the newest
 * PREVIOUS_MIRROR_SEARCH backups is absent (everything is copied). Only a backup whose objects
 * were written as this one's will be (both encrypted client-side, or both not) counts: one
 * backup's objects are all read one way.
 */
export async function previousMirrorKeys(store: ArtifactStore, stack: string, names: readonly string[], encrypted: boolean): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  if (names.length === 0) return found;
  for (const id of (await backupIdsIn(store, stack)).slice(0, PREVIOUS_MIRROR_SEARCH)) {
    const raw = await readJson(store, backupKeys.manifest(stack, id)).catch(() => undefined);
    const parsed = raw === undefined ? undefined : manifestSchema.safeParse(raw);
    if (!parsed?.success) continue;
    for (const artifact of parsed.data.artifacts) {
      if (artifact.component !== 'mirror' || !names.includes(artifact.name) || found[artifact.name] !== undefined) continue;
      if ((artifact.encryption !== undefined) === encrypted) found[artifact.name] = artifact.key;
    }
    if (names.every((name) => found[name] !== undefined)) break;
  }
  return found;
}

/** Every backup set of a stack found in the store, newest first, complete or not. */
export async function listBackupsIn(store: ArtifactStore, stack: string): Promise<BackupListing[]> {
  const listings: BackupListing[] = [];
  let after: string | undefined;
  do {
    const page = await listBackupPage(store, stack, { after });
    listings.push(...page.listings);
    after = page.next;
  } while (after !== undefined);
  return listings.sort((a, b) => b.backupId.localeCompare(a.backupId));
}

/** One stored object re-read and compared with what the manifest says of it. */
async function reReadStored(
  store: ArtifactStore,
  key: string,
  expected: { size: number; sha256: string },
  progress: ProgressHeartbeat,
  what = '',
): Promise<{ detail: string; found?: { size: number; sha256: string }; fault?: 'ChecksumMismatch' | 'StoreObjectMissing' }> {
  try {
    const found = await hashStored(store, key, { signal: progress.signal, onProgress: progress.bytes });
    if (found.sha256 === expected.sha256 && found.size === expected.size) return { detail: `${what}${key}: ${found.size} bytes, sha256 matches the manifest`, found };
    return {
      detail: `${what}${key}: expected ${expected.size} bytes with sha256 ${expected.sha256}, found ${found.size} bytes with sha256 ${found.sha256}`,
      found,
      fault: 'ChecksumMismatch',
    };
  } catch (error) {
    if (error instanceof StoreObjectMissing) return { detail: `${what}${key} is missing from the store`, fault: 'StoreObjectMissing' };
    throw error;
  }
}

export function createCatalogActivities() {
  return {
    /**
     * Re-reads one stored artifact and checks its size and SHA-256 against the manifest entry;
     * for a dump, also the roles file stored beside it (a restore with "roles" applies it). The
     * check fails when either differs (errorType ChecksumMismatch) or is gone (StoreObjectMissing).
     */
    async checkStoredArtifact({ store: storeConfig, artifact }: { store: StoreConfig; artifact: Artifact }): Promise<VerificationCheck> {
      const progress = new ProgressHeartbeat(`checksum ${artifact.key}`);
      const globals = artifact.component === 'postgres' && artifact.globals && 'key' in artifact.globals ? artifact.globals : undefined;
      // A mirror's artifact is its entry list, an index kept in plaintext like the manifest.
      const open = artifact.component === 'mirror' ? withStore : withArtifactStore;
      return open(storeConfig, async (store) => {
        const dump = await reReadStored(store, artifact.key, artifact, progress);
        const roles = globals ? await reReadStored(store, globals.key, globals, progress, 'roles ') : undefined;
        const parts = [dump, ...(roles ? [roles] : [])];
        const fault = parts.find((part) => part.fault)?.fault;
        return {
          name: 'checksum',
          component: artifact.component,
          artifact: artifact.name,
          passed: !fault,
          detail: parts.map((part) => part.detail).join('; '),
          figures: {
            ...dump.found,
            ...(dump.found ? { mibPerSecond: mibPerSecond(dump.found.size, progress.elapsedMs()) } : {}),
            ...(roles ? { globals: roles.found ?? null } : {}),
            ...(fault ? { errorType: fault } : {}),
          },
          durationMs: progress.elapsedMs(),
        };
      });
    },

    async readManifest({ store: storeConfig, stack, backupId }: { store: StoreConfig; stack: string; backupId: string }): Promise<Manifest> {
      return withStore(storeConfig, async (store) => manifestSchema.parse(await readJson(store, backupKeys.manifest(stack, backupId))));
    },

    /** Evidence of a drill, beside the manifest; the manifest itself is never rewritten. */
    async writeVerification({ store: storeConfig, verification, key }: { store: StoreConfig; verification: Verification; key: string }): Promise<string> {
      const checked = verificationSchema.parse(verification);
      await withStore(storeConfig, async (store) => {
        await store.put(key, Readable.from([JSON.stringify(checked, null, 2) + '\n']), { contentType: 'application/json' });
        await recordInCatalogSafely(store, key, checked);
      });
      return key;
    },

    /** Marks the backup as in use (retention keeps it) until `releaseBackup`. */
    async holdBackup({ store: storeConfig, key, lock }: { store: StoreConfig; key: string; lock: BackupLock }): Promise<void> {
      await withStore(storeConfig, (store) => store.put(key, Readable.from([JSON.stringify(backupLockSchema.parse(lock)) + '\n']), { contentType: 'application/json' }));
    },

    async releaseBackup({ store: storeConfig, key }: { store: StoreConfig; key: string }): Promise<void> {
      await withStore(storeConfig, (store) => store.delete(key));
    },

    /** Writes the manifest, the last step of a backup: its presence is what makes a backup complete. */
    async writeManifest({ store: storeConfig, manifest }: { store: StoreConfig; manifest: Manifest }): Promise<string> {
      const checked = manifestSchema.parse(manifest);
      const key = backupKeys.manifest(checked.stack, checked.backupId);
      await withStore(storeConfig, async (store) => {
        await store.put(key, Readable.from([JSON.stringify(checked, null, 2) + '\n']), { contentType: 'application/json' });
        await recordInCatalogSafely(store, key, checked);
      });
      return key;
    },

    async listBackups({ store: storeConfig, stack }: { store: StoreConfig; stack: string }): Promise<BackupListing[]> {
      return withStore(storeConfig, (store) => listBackupsIn(store, stack));
    },
  };
}
