// Qdrant under real use: points written while a snapshot is taken, ragops' own scratch
// collections next to the ones it backs up, named vectors, restores onto what already exists.
import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import { verificationSchema } from '../src/config/manifest.js';
import type { RestoreInput, VerifyInput } from '../src/config/inputs.js';
import type { RestoreReport } from '../src/workflows/restore.js';
import { readSnapshotTar } from './support/qdrant/index.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { startWorker, uniqueName } from './support/ragops.js';
import { readBuffer, readManifest, s3Objects } from './support/verify.js';
import { useBackupSuite } from './support/suite.js';
import { qdrantIsExternal } from './support/targets.js';

type Stacks = { stacks: { prod: Record<string, unknown> & { qdrant: Record<string, unknown> } } };

const vector = (seed: number, size: number) => Array.from({ length: size }, (_, i) => Math.sin(seed * 7 + i) + 1.5);

describe('Qdrant consistency: counts under ingestion, owned collections, named vectors, restores onto what exists', { skip: qdrantIsExternal && 'needs the stand-in (faults)' }, () => {
  const suite = useBackupSuite('qdrant-consistency', { documents: 200 });
  const qdrant = () => new QdrantClient({ url: suite.fixture.qdrant.url, apiKey: suite.fixture.qdrant.apiKey, checkCompatibility: false });

  async function workerFor(prefix: string, edit: (stacks: Stacks) => void = () => undefined): Promise<string> {
    const stacks = suite.fixture.stacks({ store: 's3', prefix }) as Stacks;
    stacks.stacks.prod.drill = { samplePoints: 5, qdrantRecovery: 'upload' };
    edit(stacks);
    const taskQueue = uniqueName('qdrant');
    suite.workers.push(await startWorker({ address: suite.fixture.temporal.address, taskQueue, stacksText: stringify(stacks) }));
    return taskQueue;
  }

  async function drill(client: Client, taskQueue: string, input: VerifyInput): Promise<VerifyReport> {
    const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('verify'), args: [input] });
    return (await handle.result()) as VerifyReport;
  }

  test('points upserted while the snapshot is taken: the manifest holds both exact counts and the drill compares within that range', async () => {
    const prefix = 'ingest/';
    const taskQueue = await workerFor(prefix);
    const client = qdrant();
    const before = (await client.count('faq', { exact: true })).count;
    let nextId = 10_000;
    const upsert = (count: number) =>
      client.upsert('faq', { wait: true, points: Array.from({ length: count }, () => ({ id: nextId, vector: vector(nextId++, 4) })) });
    // Ten points land inside the snapshot, ten more right after it is taken (before the second count).
    let later: Promise<unknown> | undefined;
    suite.fixture.qdrant.faults.duringSnapshot = async (collection) => {
      if (collection !== 'faq' || later) return;
      await upsert(10);
      later = upsert(10);
    };
    try {
      const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'], collections: ['faq'] }, { taskQueue })).result();
      await later;
      const objects = s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix);
      const manifest = await readManifest(objects, backup.manifestKey);
      const faq = manifest.artifacts.find((artifact) => artifact.name === 'faq');
      assert.ok(faq?.component === 'qdrant');
      assert.equal(faq.pointsCountBefore, before);
      assert.ok(faq.pointsCountAfter !== undefined && faq.pointsCountAfter >= before + 10, `after-count ${faq.pointsCountAfter}`);

      const report = await drill(suite.fixture.temporal.client, taskQueue, { stack: 'prod', backupId: backup.backupId, depth: 'restore' });
      assert.equal(report.passed, true);
      const evidence = verificationSchema.parse(JSON.parse((await readBuffer(await objects.read(report.evidenceKey))).toString()));
      const count = evidence.checks.find((check) => check.artifact === 'faq' && check.name.startsWith('points count'));
      assert.ok(count, 'no points count check in the evidence');
      assert.equal(count.passed, true);
      assert.match(count.detail, new RegExp(`^${before + 10} points restored, manifest says ${before}–${faq.pointsCountAfter} \\(compared within a range`));
      assert.equal(count.figures['comparison'], 'range');
    } finally {
      suite.fixture.qdrant.faults.duringSnapshot = undefined;
      await client.delete('faq', { wait: true, points: Array.from({ length: 20 }, (_, i) => 10_000 + i) });
    }
  });
  test('a "*" backup while a drill runs leaves the drill\'s scratch collection out', async () => {
    const prefix = 'owned/';
    const taskQueue = await workerFor(prefix);
    const client = qdrant();
    const source = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'], collections: ['faq'] }, { taskQueue })).result();
    const drillHandle = await suite.fixture.temporal.client.workflow.start('verifyBackup', {
      taskQueue,
      workflowId: uniqueName('verify'),
      args: [{ stack: 'prod', backupId: source.backupId, depth: 'restore' } satisfies VerifyInput],
    });
    const faults = suite.fixture.qdrant.faults;
    let scratch: string | undefined;
    try {
      for (let i = 0; i < 500 && !scratch; i++) {
        scratch = (await client.getCollections()).collections.map((c) => c.name).find((name) => name.startsWith('ragops_drill_'));
        if (!scratch) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(scratch, 'the drill never created its scratch collection');
      // Slow every request down so the drill's scratch collection outlives the backup's listing.
      faults.delayMs = 400;
      const listedFrom = faults.requests.length;
      const backupRun = startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'] }, { taskQueue }).then((handle) => handle.result());
      while (!faults.requests.slice(listedFrom).some((r) => r.method === 'GET' && r.path === '/collections')) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 500));
      faults.delayMs = 0;
      const backup = await backupRun;
      const listedAt = faults.requests.findIndex((r, i) => i >= listedFrom && r.method === 'GET' && r.path === '/collections');
      const deletedAt = faults.requests.findIndex((r) => r.method === 'DELETE' && r.path === `/collections/${scratch}`);
      assert.ok(deletedAt === -1 || deletedAt > listedAt, 'the scratch collection was gone before the backup listed the collections');

      const manifest = await readManifest(s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix), backup.manifestKey);
      const names = manifest.artifacts.map((artifact) => artifact.name).sort();
      assert.ok(!names.some((name) => name.startsWith('ragops_')), `a ragops-owned collection was backed up: ${names.join(', ')}`);
      assert.ok(names.includes('docs_v1') && names.includes('faq'), names.join(', '));
      assert.equal(((await drillHandle.result()) as VerifyReport).passed, true);
    } finally {
      faults.delayMs = 0;
    }
  });

  test('a collection with named vectors drills with each named vector', async () => {
    const prefix = 'named/';
    const taskQueue = await workerFor(prefix);
    const client = qdrant();
    await client.createCollection('multimodal', { vectors: { text: { size: 4, distance: 'Cosine' }, image: { size: 3, distance: 'Euclid' } } });
    try {
      await client.upsert('multimodal', {
        wait: true,
        points: Array.from({ length: 12 }, (_, i) => ({ id: i + 1, vector: { text: vector(i, 4), image: vector(i + 50, 3) } })),
      });
      const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'], collections: ['multimodal'] }, { taskQueue })).result();
      const report = await drill(suite.fixture.temporal.client, taskQueue, { stack: 'prod', backupId: backup.backupId, depth: 'restore' });
      assert.equal(report.passed, true);
      const sample = report.checks.find((check) => check.artifact === 'multimodal' && check.name.startsWith('sample queries'));
      assert.ok(sample, 'no sample query check');
      assert.match(sample.detail, /^10 sample queries over 5 point\(s\) each found its point first \(vector "image", vector "text"\)$/);
      assert.equal(sample.figures['checked'], 10);
    } finally {
      await client.deleteCollection('multimodal');
    }
  });
  async function restoreRun(taskQueue: string, input: RestoreInput): Promise<RestoreReport> {
    const handle = await suite.fixture.temporal.client.workflow.start('restore', { taskQueue, workflowId: uniqueName('restore'), args: [input] });
    return (await handle.result()) as RestoreReport;
  }

  test('restore over an existing collection first saves it as a safety snapshot in the store, named in the report', async () => {
    const prefix = 'safety/';
    const taskQueue = await workerFor(prefix);
    const client = qdrant();
    const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'], collections: ['faq'] }, { taskQueue })).result();
    const seeded = (await client.count('faq', { exact: true })).count;
    await client.upsert('faq', { wait: true, points: Array.from({ length: 7 }, (_, i) => ({ id: 20_000 + i, vector: vector(i + 900, 4) })) });

    const report = await restoreRun(taskQueue, { stack: 'prod', backupId: backup.backupId, components: ['qdrant'], qdrant: { faq: { collection: 'faq', confirm: 'faq' } } });
    const [faq] = report.qdrant;
    assert.equal(faq?.replaced, true);
    assert.equal(faq?.collection, 'faq');
    assert.match(faq?.safetySnapshotKey ?? '', new RegExp(`^prod/${backup.backupId}/safety/faq-[a-z0-9]{8}\\.snapshot$`));
    assert.equal((await client.count('faq', { exact: true })).count, seeded, 'the collection is back to the backup');
    const saved = readSnapshotTar(await readBuffer(await s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix).read(faq!.safetySnapshotKey!)));
    assert.equal(saved.points.length, seeded + 7, 'the safety snapshot holds the collection as it was before the restore');

    // A recovery that fails after the safety snapshot was taken names it in the failure.
    suite.fixture.qdrant.faults.failNext({ status: 400, method: 'POST', pathIncludes: '/collections/faq/snapshots/upload' });
    const handle = await suite.fixture.temporal.client.workflow.start('restore', {
      taskQueue,
      workflowId: uniqueName('restore'),
      args: [{ stack: 'prod', backupId: backup.backupId, components: ['qdrant'], qdrant: { faq: { collection: 'faq', confirm: 'faq' } } } satisfies RestoreInput],
    });
    const failure = await handle.result().then(() => assert.fail('the restore passed'), (error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match(String((failure.cause as Error).message), new RegExp(`"faq" as it was before this restore is saved in the store as prod/${backup.backupId}/safety/faq-[a-z0-9]{8}\\.snapshot`));
    assert.equal((await client.count('faq', { exact: true })).count, seeded);
  });

  test('restore onto an alias recovers into a new collection, switches the alias to it and leaves the old one', async () => {
    const prefix = 'alias/';
    const taskQueue = await workerFor(prefix);
    const client = qdrant();
    const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'], collections: ['docs_v1'] }, { taskQueue })).result();
    const before = (await client.count('docs_v1', { exact: true })).count;
    await client.upsert('docs_v1', { wait: true, points: [{ id: 30_000, vector: vector(3, 8) }] });

    const report = await restoreRun(taskQueue, { stack: 'prod', backupId: backup.backupId, components: ['qdrant'], qdrant: { docs_v1: { collection: 'docs', confirm: 'docs' } } });
    const [docs] = report.qdrant;
    assert.match(docs?.collection ?? '', /^docs_[a-z0-9]{8}$/);
    assert.deepEqual(docs?.alias, { name: 'docs', previousCollection: 'docs_v1' });
    assert.equal(docs?.safetySnapshotKey, undefined);
    const aliases = (await client.getAliases()).aliases.filter((alias) => alias.alias_name === 'docs');
    assert.deepEqual(aliases, [{ alias_name: 'docs', collection_name: docs!.collection }]);
    assert.equal((await client.count(docs!.collection, { exact: true })).count, before);
    assert.equal((await client.count('docs_v1', { exact: true })).count, before + 1, 'the collection the alias pointed at is left as it was');
  });
});
