// The S3 bucket mirror against moto, as both the source bucket and the S3 store, in a mock
// activity context: incremental backups (copy what changed, reference the rest), the restore
// drill into a scratch prefix, pruning that keeps referenced bytes, resuming an interrupted copy.
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMirrorActivities, type MirrorArtifact } from '../src/activities/mirror/index.js';
import { readEntryList } from '../src/activities/mirror/entries.js';
import { withStore } from '../src/activities/store/open.js';
import { mirrorComponentSchema, type MirrorComponent } from '../src/config/stacks/mirror.js';
import type { StoreConfig } from '../src/config/stacks/index.js';
import { mirrorKeys } from '../src/core/mirror.js';
import { startMoto, type TestMoto } from './support/moto.js';

const activities = createMirrorActivities();
const SOURCE = 'ragops-mirror-source';
const STORE = 'ragops-mirror-store';
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const env = (options: ConstructorParameters<typeof MockActivityEnvironment>[0] = {}) => new MockActivityEnvironment(options, { logger: quiet });
const run = <A extends unknown[], R>(environment: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => environment.run(fn, ...args) as Promise<R>;

const docKey = (i: number) => `d${i % 10}/file-${String(i).padStart(4, '0')}.txt`;
const body = (i: number, version = 1) => `document ${i} version ${version} `.repeat(1 + (i % 7));

async function putEach(moto: TestMoto, keys: Array<[string, string]>, concurrency = 32): Promise<void> {
  for (let start = 0; start < keys.length; start += concurrency) {
    await Promise.all(keys.slice(start, start + concurrency).map(([key, text]) => moto.s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: key, Body: text }))));
  }
}

describe('S3 bucket mirror on moto', () => {
  let moto: TestMoto;
  let store: StoreConfig;
  let component: MirrorComponent;
  const keys = (backupId: string) => ({ key: mirrorKeys.entries('prod', backupId, 'docs'), objectsPrefix: mirrorKeys.objectsPrefix('prod', backupId, 'docs') });
  const backup = (backupId: string, previousKey?: string, environment = env()) =>
    run(environment, activities.mirrorBucket, { component, store, ...keys(backupId), ...(previousKey ? { previousKey } : {}) });
  const drill = (key: string, runTag: string) => run(env(), activities.drillMirror, { component, store, key, runTag, concurrency: 8 });
  let first: MirrorArtifact;
  let second: MirrorArtifact;

  before(async () => {
    moto = await startMoto();
    await moto.createBucket(SOURCE);
    await moto.createBucket(STORE);
    process.env.TEST_MIRROR_KEY = moto.accessKeyId;
    process.env.TEST_MIRROR_SECRET = moto.secretAccessKey;
    process.env.AWS_ACCESS_KEY_ID ??= moto.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY ??= moto.secretAccessKey;
    store = { type: 's3', bucket: STORE, prefix: 'backups/', endpoint: moto.endpoint, region: moto.region, forcePathStyle: true, partSizeMiB: 5, uploadConcurrency: 1 };
    component = mirrorComponentSchema.parse({
      name: 'docs',
      bucket: SOURCE,
      prefix: 'docs/',
      endpoint: moto.endpoint,
      region: moto.region,
      forcePathStyle: true,
      accessKeyId: { env: 'TEST_MIRROR_KEY' },
      secretAccessKey: { env: 'TEST_MIRROR_SECRET' },
    });
    await putEach(moto, [...Array.from({ length: 1000 }, (_, i): [string, string] => [`docs/${docKey(i)}`, body(i)]), ['elsewhere/not-mirrored.txt', 'outside the prefix']]);
  });
  after(async () => moto?.stop());

  test('the first backup copies all 1,000 objects, with their SHA-256, under its own prefix', async () => {
    const environment = env();
    const beats: Array<Record<string, unknown>> = [];
    environment.on('heartbeat', (details: Record<string, unknown>) => beats.push(details));
    first = await backup('20261206T100000Z-aaaaaaaa', undefined, environment);
    const copying = beats.filter((beat) => beat.phase === 'copying objects' && typeof beat.copied === 'number');
    assert.ok(copying.length > 0, `heartbeats carry the copy's progress: ${JSON.stringify(beats.slice(-2))}`);
    assert.ok(copying.every((beat) => typeof beat.bytesCopied === 'number' && typeof beat.toCopy === 'number'));
    assert.deepEqual(
      { objects: first.objects, copied: first.copied, referenced: first.referenced, bytesReferenced: first.bytesReferenced },
      { objects: 1000, copied: 1000, referenced: 0, bytesReferenced: 0 },
    );
    const list = await withStore(store, (opened) => readEntryList(opened, first.key));
    assert.equal(list.entries.length, 1000);
    assert.ok(list.entries.every((entry) => entry.storedAt.startsWith(keys('20261206T100000Z-aaaaaaaa').objectsPrefix)));
    assert.ok(!list.entries.some((entry) => entry.key.includes('not-mirrored')), 'only the component\'s prefix');
    const stored = await moto.listKeys(STORE, `backups/${keys('20261206T100000Z-aaaaaaaa').objectsPrefix}`);
    assert.equal(stored.length, 1000);
  });

  test('after changing 10, adding 5 and deleting 1, the second copies 15 and references the rest', async () => {
    await putEach(moto, [
      ...Array.from({ length: 10 }, (_, n): [string, string] => [`docs/${docKey(n * 97)}`, body(n * 97, 2)]),
      ...Array.from({ length: 5 }, (_, n): [string, string] => [`docs/new/added-${n}.txt`, `added ${n}`]),
    ]);
    await moto.s3.send(new DeleteObjectCommand({ Bucket: SOURCE, Key: `docs/${docKey(1)}` }));

    second = await backup('20261206T110000Z-bbbbbbbb', first.key);
    assert.deepEqual(
      { objects: second.objects, copied: second.copied, referenced: second.referenced },
      { objects: 1004, copied: 15, referenced: 989 },
    );
    assert.ok(second.bytesReferenced > second.bytesCopied);
    const list = await withStore(store, (opened) => readEntryList(opened, second.key));
    assert.ok(!list.entries.some((entry) => entry.key === docKey(1)), 'the deleted object is not in the second list');
    const firstList = await withStore(store, (opened) => readEntryList(opened, first.key));
    const before = new Map(firstList.entries.map((entry) => [entry.key, entry]));
    const changed = list.entries.find((entry) => entry.key === docKey(97))!;
    assert.notEqual(changed.sha256, before.get(docKey(97))!.sha256, 'a changed object has its new checksum');
    assert.ok(changed.storedAt.startsWith(keys('20261206T110000Z-bbbbbbbb').objectsPrefix));
    const unchanged = list.entries.find((entry) => entry.key === docKey(2))!;
    assert.equal(unchanged.storedAt, before.get(docKey(2))!.storedAt, 'an unchanged object is referenced where the first backup stored it');
  });

  test('a drill restores the second backup into a scratch prefix with identical keys and checksums, then empties it', async () => {
    const checks = await drill(second.key, 'd1111111');
    assert.deepEqual(checks.map((check) => [check.name, check.outcome]), [['restore (mirror)', 'passed'], ['objects and checksums (mirror)', 'passed']], JSON.stringify(checks, null, 1));
    assert.equal(checks[1]!.figures.matched, 1004);
    assert.deepEqual(await moto.listKeys(SOURCE, 'ragops_drill_'), [], 'the scratch prefix is cleaned');
  });

  test('pruning the first backup deletes only bytes the second does not reference; the second still restores', async () => {
    const pruned = await run(env(), activities.deleteMirrorBytes, { store, pruned: keys('20261206T100000Z-aaaaaaaa'), keptKeys: [second.key] });
    assert.deepEqual({ deleted: pruned.deleted, stillReferenced: pruned.stillReferenced }, { deleted: 11, stillReferenced: 989 });
    // What retention then does with the rest of the backup: its entry list goes too.
    await withStore(store, (opened) => opened.delete(first.key));
    const checks = await drill(second.key, 'd2222222');
    assert.ok(checks.every((check) => check.outcome === 'passed'), JSON.stringify(checks, null, 1));
  });

  test('a copy interrupted mid-way resumes: the retry keeps what the first attempt stored, a drill catches bytes gone from the store, and the next backup copies them again', async () => {
    await putEach(moto, Array.from({ length: 60 }, (_, n): [string, string] => [`docs/${docKey(n * 13 + 3)}`, body(n * 13 + 3, 3)]));
    const third = keys('20261206T120000Z-cccccccc');
    const interrupted = env();
    const attempt = run(interrupted, activities.mirrorBucket, { component, store, ...third, previousKey: second.key, concurrency: 1 });
    attempt.catch(() => undefined);
    for (let polls = 0; polls < 400; polls += 1) {
      if ((await moto.listKeys(STORE, `backups/${third.objectsPrefix}`)).length >= 10) break;
      await sleep(25);
    }
    interrupted.cancel();
    await assert.rejects(attempt);
    const copiedBefore = (await moto.listKeys(STORE, `backups/${third.objectsPrefix}`)).length;
    assert.ok(copiedBefore >= 10 && copiedBefore < 60, `the first attempt stopped mid-way (${copiedBefore} of 60 copied)`);

    const result = await run(env(), activities.mirrorBucket, { component, store, ...third, previousKey: second.key });
    assert.equal(result.copied, 60);
    assert.ok(result.resumed >= copiedBefore - 1, `the retry kept ${result.resumed} copies of ${copiedBefore}`);
    assert.equal(result.objects, 1004);

    const list = await withStore(store, (opened) => readEntryList(opened, result.key));
    const victim = list.entries.find((entry) => entry.storedAt.startsWith(third.objectsPrefix))!;
    await withStore(store, (opened) => opened.delete(victim.storedAt));
    const checks = await drill(result.key, 'd3333333');
    assert.equal(checks[0]!.outcome, 'failed');
    assert.match(checks[0]!.detail, new RegExp(`gone from the store \\(${victim.key.replace(/[.]/g, '\\.')}`));
    assert.equal(checks[1]!.outcome, 'failed', 'the missing object is missing from the scratch prefix too');

    // The next backup does not reference bytes that are gone: it copies that object again.
    const fourth = await backup('20261206T130000Z-dddddddd', result.key);
    assert.deepEqual({ objects: fourth.objects, copied: fourth.copied, referenced: fourth.referenced }, { objects: 1004, copied: 1, referenced: 1003 });
  });
});
