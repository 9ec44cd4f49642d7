// Retention's delete of mirror backups on a directory store, in a mock activity context: a
// batch larger than the delete concurrency, where each backup references the bytes of every
// one before it and the entry lists of the batch vanish while it runs.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { entryListBody } from '../src/activities/mirror/entries.js';
import { createCleanupActivities } from '../src/activities/store/cleanup.js';
import { FsStore } from '../src/activities/store/fs.js';
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
