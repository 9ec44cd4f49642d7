import { ApplicationFailure } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { backupKeys, manifestSchema, type Artifact, type Manifest } from '../config/manifest.js';
import { backupIdPattern } from '../config/names.js';
import type { StoreConfig } from '../config/stacks.js';
import { ProgressHeartbeat } from './heartbeat.js';
import { hashStored } from './store/hashing.js';
import { withStore } from './store/open.js';
import type { ArtifactStore } from './store/types.js';

export interface BackupListing {
  backupId: string;
  /** Present only for complete backups: a backup without a manifest is incomplete. */
  manifest?: Manifest;
  objects: number;
  bytes: number;
  lastModified: string;
  problem?: string;
}

async function readJson(store: ArtifactStore, key: string): Promise<unknown> {
  return JSON.parse(await text(await store.get(key)));
}

/** Every backup set of a stack found in the store, newest first, complete or not. */
export async function listBackupsIn(store: ArtifactStore, stack: string): Promise<BackupListing[]> {
  const byId = new Map<string, BackupListing>();
  for await (const object of store.list(`${stack}/`)) {
    const backupId = object.key.slice(stack.length + 1).split('/')[0] ?? '';
    if (!backupIdPattern.test(backupId)) continue;
    const listing = byId.get(backupId) ?? { backupId, objects: 0, bytes: 0, lastModified: object.lastModified.toISOString() };
    listing.objects += 1;
    listing.bytes += object.size;
    if (object.lastModified.toISOString() > listing.lastModified) listing.lastModified = object.lastModified.toISOString();
    byId.set(backupId, listing);
  }
  for (const listing of byId.values()) {
    const key = backupKeys.manifest(stack, listing.backupId);
    if (!(await store.exists(key))) continue;
    const parsed = manifestSchema.safeParse(await readJson(store, key).catch(() => undefined));
    if (parsed.success) listing.manifest = parsed.data;
    else listing.problem = `manifest.json does not parse: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
  }
  return [...byId.values()].sort((a, b) => b.backupId.localeCompare(a.backupId));
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
