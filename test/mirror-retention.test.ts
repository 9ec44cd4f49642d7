// Retention's delete of mirror backups on a directory store, in a mock activity context: a
// batch larger than the delete concurrency, where each backup references the bytes of every
// one before it and the entry lists of the batch vanish while it runs.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { entryListBody } from '../src/activities/mirror/entries.js';
import { previousMirrorKeys } from '../src/activities/store/catalog.js';
import { createCleanupActivities } from '../src/activities/store/cleanup.js';
import { FsStore } from '../src/activities/store/fs.js';
import type { Manifest } from '../src/config/manifest.js';
import type { MirrorEntry } from '../src/core/mirror.js';
import { backupKeys } from '../src/core/storeKeys.js';
import { tempDir } from './support/ragops.js';

const activities = createCleanupActivities();
const run = <A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => env.run(fn, ...args) as Promise<R>;
const BACKUPS = 12;
const idOf = (i: number) => `20261206T10${String(i).padStart(2, '0')}00Z-mirror${String(i).padStart(2, '0')}`;

describe('deleting a batch of mirror backups that reference each other', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FsStore;

  before(async () => {
    dir = await tempDir('mirror-retention');
    store = new FsStore(dir.path);
    // Backup i copies object i and references objects 0..i-1 where the backups before it stored them.
    const entries: MirrorEntry[] = [];
    for (let i = 0; i < BACKUPS; i++) {
      const body = `object ${i}`;
      const storedAt = `${backupKeys.mirrorObjectsPrefix('prod', idOf(i), 'docs')}${i}`;
      await store.put(storedAt, Readable.from([body]));
      entries.push({ key: `doc-${i}.txt`, size: body.length, etag: `etag-${i}`, sha256: createHash('sha256').update(body).digest('hex'), storedAt });
      await store.put(
        backupKeys.mirrorEntries('prod', idOf(i), 'docs'),
        entryListBody({ formatVersion: 1, component: 'mirror', name: 'docs', bucket: 'src', prefix: '', entries: [...entries] }),
      );
    }
  });
  after(async () => dir?.remove());

  test('every backup but the newest goes in one batch; the newest keeps every byte it references, nothing else is left', async () => {
    const doomed = Array.from({ length: BACKUPS - 1 }, (_, i) => ({ backupId: idOf(i), complete: false }));
    const { results } = await run(new MockActivityEnvironment(), activities.deleteBackups, { store: { type: 'fs', path: dir.path }, stack: 'prod', backups: doomed });
    assert.deepEqual(results.filter((r) => r.skipped), []);
    const left: string[] = [];
    for await (const object of store.list('prod/')) left.push(object.key);
    const newest = idOf(BACKUPS - 1);
    const expected = [
      ...Array.from({ length: BACKUPS }, (_, i) => `${backupKeys.mirrorObjectsPrefix('prod', idOf(i), 'docs')}${i}`),
      backupKeys.mirrorEntries('prod', newest, 'docs'),
    ].sort();
    assert.deepEqual(left.sort(), expected);
  });
});

describe('the previous mirror a new one is planned against', () => {
  test('the newest backup whose objects were written the way this one will be: encrypted client-side, or not', async () => {
    const dir = await tempDir('mirror-previous');
    const store = new FsStore(dir.path);
    const manifestOf = (backupId: string, encrypted: boolean): Manifest => ({
      formatVersion: 1,
      backupId,
      stack: 'prod',
      workflowId: 'w',
      runId: 'r',
      startedAt: '2026-12-06T10:00:00.000Z',
      finishedAt: '2026-12-06T10:01:00.000Z',
      store: dir.path,
      artifacts: [
        {
          component: 'mirror',
          name: 'docs',
          key: backupKeys.mirrorEntries('prod', backupId, 'docs'),
          size: 1,
          sha256: 'a'.repeat(64),
          durationMs: 1,
          bucket: 'src',
          prefix: '',
          objects: 1,
          copied: 1,
          referenced: 0,
          bytesCopied: 1,
          bytesReferenced: 0,
          resumed: 0,
          ...(encrypted ? { encryption: { scheme: 'ragops-aes-256-gcm-stream-v1' as const, keyId: 'k1' } } : {}),
        },
      ],
    });
    try {
      const [older, newer] = ['20261206T090000Z-plainaaa', '20261206T100000Z-cryptbbb'];
      await store.put(backupKeys.manifest('prod', older), Readable.from([JSON.stringify(manifestOf(older, false))]));
      await store.put(backupKeys.manifest('prod', newer), Readable.from([JSON.stringify(manifestOf(newer, true))]));
      assert.deepEqual(await previousMirrorKeys(store, 'prod', ['docs'], true), { docs: backupKeys.mirrorEntries('prod', newer, 'docs') });
      assert.deepEqual(await previousMirrorKeys(store, 'prod', ['docs'], false), { docs: backupKeys.mirrorEntries('prod', older, 'docs') });
      assert.deepEqual(await previousMirrorKeys(store, 'prod', ['other'], false), {});
    } finally {
      await dir.remove();
    }
  });
});
