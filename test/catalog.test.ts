// Choosing a backup to drill or restore reads manifests newest first and stops at the first
// complete one, on a real directory store; incomplete backups are refused with their reason.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { backupIdsIn, findManifest } from '../src/activities/store/catalog.js';
import { FsStore } from '../src/activities/store/fs.js';
import type { ArtifactStore } from '../src/activities/store/types.js';
import { tempDir } from './support/ragops.js';
import { objectsOf, syntheticBackup } from './support/synthetic-backups.js';

describe('finding a backup in the catalog', () => {
  let dir: { path: string; remove(): Promise<void> };
  let store: ArtifactStore;
  const at = (day: number) => new Date(Date.UTC(2026, 10, day, 5));
  const complete = syntheticBackup(at(1), 1);
  const newerComplete = syntheticBackup(at(2), 2);
  const incomplete = syntheticBackup(at(3), 3, { manifest: 'none' });
  const unreadable = syntheticBackup(at(4), 4, { manifest: 'unreadable' });
  const manifestReads: string[] = [];

  before(async () => {
    dir = await tempDir('catalog');
    for (const backup of [complete, newerComplete, incomplete, unreadable]) {
      for (const object of objectsOf('prod', backup)) {
        await mkdir(dirname(join(dir.path, object.key)), { recursive: true });
        await writeFile(join(dir.path, object.key), object.body);
      }
    }
    const fs = new FsStore(dir.path);
    // Count the manifests read: choosing must not read the whole catalog.
    store = Object.assign(Object.create(fs) as FsStore, {
      get: (key: string) => {
        if (key.endsWith('manifest.json')) manifestReads.push(key);
        return fs.get(key);
      },
    });
  });
  after(() => dir?.remove());

  test('the ids come from the key listing, newest first', async () => {
    assert.deepEqual(await backupIdsIn(store, 'prod'), [unreadable, incomplete, newerComplete, complete].map((b) => b.backupId));
  });

  test('without an id: the newest complete backup, past newer incomplete and unreadable ones, reading no older manifest', async () => {
    manifestReads.length = 0;
    const found = await findManifest(store, 'prod');
    assert.ok('manifest' in found, JSON.stringify(found));
    assert.equal(found.manifest.backupId, newerComplete.backupId);
    assert.equal(manifestReads.length, 3, `read ${manifestReads.join(', ')}`);
  });

  test('by id: complete, incomplete, unreadable, unknown', async () => {
    const named = await findManifest(store, 'prod', complete.backupId);
    assert.ok('manifest' in named && named.manifest.backupId === complete.backupId);
    assert.deepEqual(await findManifest(store, 'prod', incomplete.backupId), {
      refused: `backupId: backup ${incomplete.backupId} is incomplete (no manifest); it cannot be verified or restored`,
    });
    const bad = await findManifest(store, 'prod', unreadable.backupId);
    assert.ok('refused' in bad && /is incomplete \(manifest\.json does not parse/.test(bad.refused), JSON.stringify(bad));
    const unknown = await findManifest(store, 'prod', '20200101T000000Z-deadbeef');
    assert.ok('refused' in unknown && /no backup 20200101T000000Z-deadbeef of stack "prod"/.test(unknown.refused));
    assert.deepEqual(await findManifest(store, 'staging'), { refused: `stack "staging" has no complete backup in ${store.location}` });
  });
});
