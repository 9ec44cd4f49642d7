// The retention activities against real stores (moto S3 and a directory), run in a mock
// activity context: deletion order, resumption after an interruption, late locks, the fs
// store's unfinished writes.
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listBackupPage } from '../src/activities/store/catalog.js';
import { createCleanupActivities } from '../src/activities/store/cleanup.js';
import { FsStore } from '../src/activities/store/fs.js';
import { withStore } from '../src/activities/store/open.js';
import type { StoreConfig } from '../src/config/stacks/index.js';
import { startMoto, type TestMoto } from './support/moto.js';
import { tempDir } from './support/ragops.js';
import { objectsOf, putAll, syntheticBackup } from './support/synthetic-backups.js';
import { backupKeys } from '../src/core/storeKeys.js';

const activities = createCleanupActivities();
const bucket = 'ragops-prune-activities';
let serial = 0;
/** MockActivityEnvironment.run does not infer the result type. */
const run = <A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => env.run(fn, ...args) as Promise<R>;
const newBackup = (extra: Parameters<typeof syntheticBackup>[2] = {}) => syntheticBackup(new Date(Date.UTC(2026, 5, 1, 6) + serial * 60_000), ++serial, extra);

describe('retention activities on moto S3', () => {
  let moto: TestMoto;
  let store: StoreConfig;
  before(async () => {
    moto = await startMoto();
    await moto.createBucket(bucket);
    store = { type: 's3', bucket, prefix: 'p/', endpoint: moto.endpoint, region: moto.region, forcePathStyle: true, partSizeMiB: 5, uploadConcurrency: 1 };
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  });
  after(async () => moto?.stop());

  const keysOf = async (backupId: string) => (await moto.listKeys(bucket, `p/prod/${backupId}/`)).map((key) => key.slice(2)).sort();

  test('deleteBackup removes the manifest first, and a retry after an interruption finishes with the counts carried over', async () => {
    const backup = newBackup({ drills: [{ depth: 'checksum', passed: true, afterHours: 1 }] });
    const objects = objectsOf('prod', backup);
    await putAll(moto.s3, bucket, 'p/', objects);
    const input = { store, stack: 'prod', backupId: backup.backupId, complete: true };

    const interrupted = new MockActivityEnvironment();
    const beats: Array<{ objects: number; bytes: number }> = [];
    interrupted.on('heartbeat', (details: { objects: number; bytes: number }) => {
      beats.push(details);
      if (details.objects === 1) interrupted.cancel();
    });
    await assert.rejects(run(interrupted, activities.deleteBackup, input));
    const left = await keysOf(backup.backupId);
    assert.equal(left.length, objects.length - 1, 'one object deleted before the interruption');
    assert.ok(!left.includes(backupKeys.manifest('prod', backup.backupId)), 'and that object is the manifest');

    const retry = new MockActivityEnvironment({ heartbeatDetails: beats.at(-1) });
    const result = await run(retry, activities.deleteBackup, input);
    assert.equal(result.objects, objects.length);
    assert.equal(result.bytes, objects.reduce((sum, object) => sum + Buffer.byteLength(object.body), 0));
    assert.deepEqual(await keysOf(backup.backupId), []);
    const again = await run(new MockActivityEnvironment(), activities.deleteBackup, input);
    assert.deepEqual({ objects: again.objects, skipped: again.skipped }, { objects: 0, skipped: undefined });
  });

  test('deleteBackup leaves a backup alone when a lock or a manifest appeared after the listing', async () => {
    const locked = newBackup({ locks: [{ workflowId: 'restore-1', runbook: 'restore', since: new Date().toISOString() }] });
    const finished = newBackup();
    await putAll(moto.s3, bucket, 'p/', [...objectsOf('prod', locked), ...objectsOf('prod', finished)]);
    const env = new MockActivityEnvironment();
    const lockedResult = await run(env, activities.deleteBackup, { store, stack: 'prod', backupId: locked.backupId, complete: true });
    assert.match(lockedResult.skipped ?? '', /in use by restore restore-1 since .*lock taken after the listing/);
    const finishedResult = await run(env, activities.deleteBackup, { store, stack: 'prod', backupId: finished.backupId, complete: false });
    assert.match(finishedResult.skipped ?? '', /a manifest appeared after the listing/);
    assert.equal((await keysOf(locked.backupId)).length, objectsOf('prod', locked).length);
    assert.equal((await keysOf(finished.backupId)).length, objectsOf('prod', finished).length);
  });

  test('deleteBackups: a batch interrupted mid-way resumes from its heartbeat, skips what it finished, and keeps the safety checks', async () => {
    // Well over the 8 deletes in flight at once, so the interruption lands with backups not yet started.
    const plain = Array.from({ length: 24 }, () => newBackup());
    const leftover = newBackup({ manifest: 'none' });
    const locked = newBackup({ locks: [{ workflowId: 'restore-2', runbook: 'restore', since: new Date().toISOString() }] });
    const finished = newBackup();
    const all = [...plain, leftover, locked, finished];
    await putAll(moto.s3, bucket, 'p/', all.flatMap((backup) => objectsOf('prod', backup)));
    const backups = [
      ...plain.map((backup) => ({ backupId: backup.backupId, complete: true })),
      { backupId: leftover.backupId, complete: false },
      { backupId: locked.backupId, complete: true },
      { backupId: finished.backupId, complete: false }, // listed as incomplete: its manifest "appeared" since
    ];
    const input = { store, stack: 'prod', backups };

    const interrupted = new MockActivityEnvironment();
    const beats: Array<{ done: Array<{ backupId: string; skipped?: string }>; partial: Record<string, unknown> }> = [];
    interrupted.on('heartbeat', (details: (typeof beats)[number]) => {
      beats.push(details);
      if (details.done.length >= 3) interrupted.cancel();
    });
    await assert.rejects(run(interrupted, activities.deleteBackups, input));
    const last = beats.at(-1)!;
    assert.ok(last.done.length >= 3 && last.done.length < backups.length, `${last.done.length} finished before the interruption`);
    for (const { backupId, skipped } of last.done) if (!skipped) assert.deepEqual(await keysOf(backupId), [], `${backupId} reported deleted is gone`);

    const retry = new MockActivityEnvironment({ heartbeatDetails: last });
    const { results } = await run(retry, activities.deleteBackups, input);
    assert.deepEqual(results.map((result) => result.backupId), backups.map((backup) => backup.backupId), 'results in the order asked');
    for (const [index, backup] of all.entries()) {
      const result = results[index]!;
      const objects = objectsOf('prod', backup);
      if (backup === locked || backup === finished) {
        assert.match(result.skipped ?? '', backup === locked ? /in use by restore restore-2/ : /a manifest appeared after the listing/);
        assert.equal((await keysOf(backup.backupId)).length, objects.length, `${backup.backupId} is untouched`);
      } else {
        assert.equal(result.skipped, undefined);
        assert.equal(result.objects, objects.length, `objects of ${backup.backupId}, counted once across the retry`);
        assert.equal(result.bytes, objects.reduce((sum, object) => sum + Buffer.byteLength(object.body), 0));
        assert.deepEqual(await keysOf(backup.backupId), []);
      }
    }
  });

  test('listBackupPage: pages after a cursor cover every backup once, in key order, past keys that are not backups', async () => {
    await putAll(moto.s3, bucket, 'pages/', [{ key: 'paged/notes.txt', body: 'x' }, { key: 'paged/zz-not-a-backup/file', body: 'x' }]);
    const backups = Array.from({ length: 7 }, (_, index) => newBackup(index === 2 ? { manifest: 'none' } : {}));
    await putAll(moto.s3, bucket, 'pages/', backups.flatMap((backup) => objectsOf('paged', backup)));
    const pagedStore: StoreConfig = { ...store, prefix: 'pages/' } as StoreConfig;
    const pages = await withStore(pagedStore, async (opened) => {
      const found: Array<{ ids: string[]; next?: string }> = [];
      let after: string | undefined;
      do {
        const page = await listBackupPage(opened, 'paged', { after, limit: 3 });
        found.push({ ids: page.listings.map((listing) => listing.backupId), next: page.next });
        after = page.next;
      } while (after);
      return found;
    });
    const ids = backups.map((backup) => backup.backupId).sort();
    assert.deepEqual(pages.map((page) => page.ids), [ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
    assert.deepEqual(pages.map((page) => page.next), [ids[2], ids[5], undefined]);

    const env = new MockActivityEnvironment();
    const beats: Array<{ backupsRead?: number }> = [];
    env.on('heartbeat', (details: { backupsRead?: number }) => beats.push(details));
    const listing = await run(env, activities.listPruneCandidates, { store: pagedStore, stack: 'paged' });
    assert.deepEqual(listing.candidates.map((candidate) => candidate.backupId), ids);
    assert.equal(listing.next, undefined);
    assert.equal(listing.candidates.find((candidate) => candidate.backupId === backups[2]!.backupId)?.complete, false);
    assert.ok(beats.length > 0, 'the listing heartbeats');
    const later = await run(new MockActivityEnvironment(), activities.listPruneCandidates, { store: pagedStore, stack: 'paged', after: ids[4] });
    assert.deepEqual(later.candidates.map((candidate) => candidate.backupId), ids.slice(5));
    assert.deepEqual(later.unfinishedUploads, [], 'unfinished uploads come with the first page only');
  });

  test('abortStaleUploads aborts multipart uploads, and one already gone counts as done', async () => {
    const key = 'p/prod/20260601T000000Z-00000001/postgres/app.dump';
    const { UploadId } = await moto.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const upload = { key: key.slice(2), uploadId: UploadId!, initiated: new Date().toISOString(), lastWrite: new Date().toISOString() };
    const env = new MockActivityEnvironment();
    assert.deepEqual(await run(env, activities.abortStaleUploads, { store, uploads: [upload] }), { aborted: 1 });
    assert.deepEqual(await moto.listUnfinishedUploads(bucket), []);
    assert.deepEqual(await run(env, activities.abortStaleUploads, { store, uploads: [upload] }), { aborted: 1 });
  });
});

describe('retention activities on the fs store', () => {
  test('".partial" files are listed as unfinished uploads aged by their mtime, aborted, and never listed as objects', async () => {
    const dir = await tempDir('prune-fs');
    try {
      const store: StoreConfig = { type: 'fs', path: dir.path };
      const leftover = newBackup({ manifest: 'none' });
      const write = async (key: string, body: string, mtime?: Date) => {
        const path = join(dir.path, key);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, body);
        if (mtime) await utimes(path, mtime, mtime);
      };
      const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
      for (const object of objectsOf('prod', leftover)) await write(object.key, object.body, twoDaysAgo);
      await write(`prod/${leftover.backupId}/qdrant/faq.snapshot.0a1b2c3d.partial`, 'half', twoDaysAgo);
      await write('prod/20990101T000000Z-0000000a/postgres/app.dump.4e5f6a7b.partial', 'being written');
      await write('prod/20990101T000000Z-0000000a/postgres/app.dump.partial', 'not a ragops writer');

      const env = new MockActivityEnvironment();
      const listing = await run(env, activities.listPruneCandidates, { store, stack: 'prod' });
      assert.deepEqual(listing.candidates.map((c) => [c.backupId, c.complete, c.objects, c.lastModified]), [
        [leftover.backupId, false, 2, twoDaysAgo.toISOString()],
      ]);
      assert.deepEqual(listing.unfinishedUploads.map((u) => [u.key, u.lastWrite === twoDaysAgo.toISOString()]), [
        [`prod/${leftover.backupId}/qdrant/faq.snapshot`, true],
        ['prod/20990101T000000Z-0000000a/postgres/app.dump', false],
      ]);
      await run(env, activities.abortStaleUploads, { store, uploads: listing.unfinishedUploads.slice(0, 1) });
      const deleted = await run(env, activities.deleteBackup, { store, stack: 'prod', backupId: leftover.backupId, complete: false });
      assert.equal(deleted.objects, 2);
      const fsStore = new FsStore(dir.path);
      assert.deepEqual((await fsStore.listUnfinishedUploads('prod/')).map((u) => u.key), ['prod/20990101T000000Z-0000000a/postgres/app.dump']);
      for await (const object of fsStore.list('prod/')) assert.fail(`${object.key} is left`);
    } finally {
      await dir.remove();
    }
  });
});
