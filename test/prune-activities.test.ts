// The retention activities against real stores (moto S3 and a directory), run in a mock
// activity context: deletion order, resumption after an interruption, late locks, the fs
// store's unfinished writes.
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCleanupActivities } from '../src/activities/store/cleanup.js';
import { FsStore } from '../src/activities/store/fs.js';
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
      await write(`prod/${leftover.backupId}/qdrant/faq.snapshot.partial`, 'half', twoDaysAgo);
      await write('prod/20990101T000000Z-0000000a/postgres/app.dump.partial', 'being written');

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
