import { ApplicationFailure } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import {
  backupKeys,
  backupLockSchema,
  manifestSchema,
  verificationSchema,
  type Artifact,
  type BackupLock,
  type Manifest,
} from '../config/manifest.js';
import { backupIdPattern } from '../config/names.js';
import type { StoreConfig } from '../config/stacks.js';
import { ProgressHeartbeat } from './heartbeat.js';
import { hashStored } from './store/hashing.js';
import { withStore } from './store/open.js';
import type { ArtifactStore } from './store/types.js';

export interface VerificationSummary {
  key: string;
  depth: 'checksum' | 'restore';
  passed: boolean;
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
  /** The newest drill of any depth, and the newest restore-depth drill. */
  lastVerification?: VerificationSummary;
  lastRestoreVerification?: VerificationSummary;
  /** Running restores or drills using this backup. */
  locks: BackupLock[];
}

interface ObjectsOfBackup {
  verificationKeys: string[];
  lockKeys: string[];
}

async function readJson(store: ArtifactStore, key: string): Promise<unknown> {
  return JSON.parse(await text(await store.get(key)));
}

/** Every backup set of a stack found in the store, newest first, complete or not. */
export async function listBackupsIn(store: ArtifactStore, stack: string): Promise<BackupListing[]> {
  const byId = new Map<string, BackupListing & ObjectsOfBackup & { hasManifest: boolean }>();
  for await (const object of store.list(`${stack}/`)) {
    const [backupId = '', ...rest] = object.key.slice(stack.length + 1).split('/');
    if (!backupIdPattern.test(backupId)) continue;
    const listing = byId.get(backupId) ?? {
      backupId,
      objects: 0,
      bytes: 0,
      lastModified: object.lastModified.toISOString(),
      locks: [],
      verificationKeys: [],
      lockKeys: [],
      hasManifest: false,
    };
    listing.objects += 1;
    listing.bytes += object.size;
    if (object.lastModified.toISOString() > listing.lastModified) listing.lastModified = object.lastModified.toISOString();
    const path = rest.join('/');
    if (path === 'manifest.json') listing.hasManifest = true;
    else if (path.startsWith('verifications/')) listing.verificationKeys.push(object.key);
    else if (path.startsWith('locks/')) listing.lockKeys.push(object.key);
    byId.set(backupId, listing);
  }
  const listings: BackupListing[] = [];
  for (const { verificationKeys, lockKeys, hasManifest, ...listing } of byId.values()) {
    if (hasManifest) {
      const parsed = manifestSchema.safeParse(await readJson(store, backupKeys.manifest(stack, listing.backupId)).catch(() => undefined));
      if (parsed.success) listing.manifest = parsed.data;
      else listing.problem = `manifest.json does not parse: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
    }
    const sorted = verificationKeys.sort();
    listing.lastVerification = await readVerification(store, sorted.at(-1));
    listing.lastRestoreVerification = await readVerification(store, sorted.filter((key) => key.endsWith('-restore.json')).at(-1));
    for (const key of lockKeys) {
      const lock = backupLockSchema.safeParse(await readJson(store, key).catch(() => undefined));
      if (lock.success) listing.locks.push(lock.data);
    }
    listings.push(listing);
  }
  return listings.sort((a, b) => b.backupId.localeCompare(a.backupId));
}

async function readVerification(store: ArtifactStore, key: string | undefined): Promise<VerificationSummary | undefined> {
  if (!key) return undefined;
  const parsed = verificationSchema.safeParse(await readJson(store, key).catch(() => undefined));
  if (!parsed.success) return { key, depth: key.endsWith('-restore.json') ? 'restore' : 'checksum', passed: false, finishedAt: '' };
  return { key, depth: parsed.data.depth, passed: parsed.data.passed, finishedAt: parsed.data.finishedAt };
}

export function createStoreActivities() {
  return {
    /** Re-reads one stored artifact and checks its size and SHA-256 against the manifest entry. */
    async verifyStoredArtifact({ store: storeConfig, artifact }: { store: StoreConfig; artifact: Artifact }): Promise<{ key: string; sha256: string; durationMs: number }> {
      const progress = new ProgressHeartbeat(`verify ${artifact.key}`);
      const found = await withStore(storeConfig, (store) =>
        hashStored(store, artifact.key, { signal: progress.signal, onProgress: progress.bytes }),
      );
      if (found.sha256 !== artifact.sha256 || found.size !== artifact.size) {
        throw ApplicationFailure.nonRetryable(
          `stored ${artifact.component} artifact "${artifact.name}" (${artifact.key}) does not match: expected ${artifact.size} bytes with sha256 ${artifact.sha256}, found ${found.size} bytes with sha256 ${found.sha256}`,
          'ChecksumMismatch',
        );
      }
      return { key: artifact.key, sha256: found.sha256, durationMs: progress.elapsedMs() };
    },

    /** Writes the manifest, the last step of a backup: its presence is what makes a backup complete. */
    async writeManifest({ store: storeConfig, manifest }: { store: StoreConfig; manifest: Manifest }): Promise<string> {
      const checked = manifestSchema.parse(manifest);
      const key = backupKeys.manifest(checked.stack, checked.backupId);
      await withStore(storeConfig, (store) =>
        store.put(key, Readable.from([JSON.stringify(checked, null, 2) + '\n']), { contentType: 'application/json' }),
      );
      return key;
    },

    async listBackups({ store: storeConfig, stack }: { store: StoreConfig; stack: string }): Promise<BackupListing[]> {
      return withStore(storeConfig, (store) => listBackupsIn(store, stack));
    },
  };
}
