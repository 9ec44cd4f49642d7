import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { InvalidInput, startBackup } from '../src/client/api/runbooks.js';
import { createBackupSchedule } from '../src/client/api/schedules.js';
import { readSnapshotTar } from './support/qdrant/index.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import { startWorker, uniqueName } from './support/ragops.js';
import { exportHistoryJson } from './support/temporal.js';
import { fsObjects, readBuffer, readManifest, restoreAndCount, s3Objects, sha256Of, type StoredObjects } from './support/verify.js';
import { backupKeys } from '../src/core/storeKeys.js';
import { recordHistory } from './support/histories.js';
import { useBackupSuite } from './support/suite.js';

describe('backup runbook', () => {
  const suite = useBackupSuite('fs-store', { documents: 30_000 });

  async function workerFor(store: 'fs' | 's3', prefix?: string): Promise<string> {
    const taskQueue = uniqueName('backup');
    const stacksText = stringify(suite.fixture.stacks({ store, fsPath: suite.dir.path, prefix }));
    suite.workers.push(await startWorker({ address: suite.fixture.temporal.address, taskQueue, stacksText }));
    return taskQueue;
  }

  async function assertSecretsAbsent(workflowId: string): Promise<void> {
    const history = await exportHistoryJson(suite.fixture.temporal.client, workflowId);
    for (const [name, secret] of Object.entries(suite.fixture.secrets)) {
      if (!secret) continue; // no Qdrant key when a real Qdrant runs without one
      assert.ok(!history.includes(secret), `${name} appears in the history of ${workflowId}`);
    }
  }

  async function activityAttempts(workflowId: string, activityType: string): Promise<number> {
    const events = (await suite.fixture.temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const scheduled = events.find((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
    const started = events.find(
      (event) => String(event.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId),
    );
    return started?.activityTaskStartedEventAttributes?.attempt ?? 0;
  }

  /** Uploads a stored snapshot into a scratch collection, counts its points, and deletes it again. */
  async function restoredPointCount(snapshot: Buffer): Promise<number> {
    const collection = uniqueName('restore-check');
    const qdrant = new QdrantClient({ url: suite.fixture.qdrant.url, apiKey: suite.fixture.qdrant.apiKey, checkCompatibility: false });
    const form = new FormData();
    form.append('snapshot', new Blob([new Uint8Array(snapshot)]), 'check.snapshot');
    try {
      const response = await fetch(`${suite.fixture.qdrant.url}/collections/${collection}/snapshots/upload?priority=snapshot&wait=true`, {
        method: 'POST',
        headers: suite.fixture.qdrant.apiKey ? { 'api-key': suite.fixture.qdrant.apiKey } : {},
        body: form,
      });
      assert.equal(response.status, 200, await response.text());
      return (await qdrant.count(collection, { exact: true })).count;
    } finally {
      await qdrant.deleteCollection(collection);
    }
  }

  async function assertBackupMatchesStore(objects: StoredObjects, manifestKey: string): Promise<void> {
    const manifest = await readManifest(objects, manifestKey);
    for (const artifact of manifest.artifacts) {
      const stored = await sha256Of(await objects.read(artifact.key));
      assert.equal(stored.sha256, artifact.sha256, `sha256 of ${artifact.key}`);
      assert.equal(stored.size, artifact.size, `size of ${artifact.key}`);
    }
  }

  test('to moto S3: manifest hashes match the objects, pg_restore gives its counts, Qdrant recorded, no secret in history', async () => {
    const taskQueue = await workerFor('s3');
    const handle = await startBackup(suite.fixture.temporal.client, { stack: 'prod', verify: 'checksum' }, { taskQueue });
    const report = await handle.result();
    const objects = s3Objects(suite.fixture.moto, suite.fixture.bucket, 'ragops/');
    const manifest = await readManifest(objects, report.manifestKey);

    assert.equal(report.manifestKey, backupKeys.manifest('prod', report.backupId));
    assert.ok(manifest.checksumVerifiedAt);
    assert.deepEqual(
      manifest.artifacts.map((artifact) => artifact.key).sort(),
      [
        backupKeys.postgresDump('prod', report.backupId, 'app'),
        backupKeys.qdrantSnapshot('prod', report.backupId, 'docs_v1'),
        backupKeys.qdrantSnapshot('prod', report.backupId, 'faq'),
      ].sort(),
    );
    await assertBackupMatchesStore(objects, report.manifestKey);

    const dump = manifest.artifacts.find((artifact) => artifact.component === 'postgres');
    assert.ok(dump?.component === 'postgres');
    assert.deepEqual(dump.tables, suite.fixture.seededCounts);
    assert.ok(Object.values(dump.tables).reduce((a, b) => a + b, 0) >= 100_000);
    assert.deepEqual(await restoreAndCount(objects, dump.key), dump.tables);

    const docs = manifest.artifacts.find((artifact) => artifact.name === 'docs_v1');
    assert.ok(docs?.component === 'qdrant');
    assert.equal(docs.pointsCount, 300);
    assert.deepEqual(docs.vectors, { size: 8, distance: 'Cosine' });
    const snapshot = await readBuffer(await objects.read(docs.key));
    if (suite.fixture.qdrant.external) {
      // A real Qdrant's snapshot layout is its own: check the stored file by restoring it.
      assert.equal(await restoredPointCount(snapshot), 300);
    } else {
      assert.equal(readSnapshotTar(snapshot).points.length, 300);
    }
    assert.deepEqual(manifest.qdrant?.aliases, [{ alias: 'docs', collection: 'docs_v1' }]);

    const qdrant = new QdrantClient({ url: suite.fixture.qdrant.url, apiKey: suite.fixture.qdrant.apiKey, checkCompatibility: false });
    assert.deepEqual(await qdrant.listSnapshots('docs_v1'), [], 'snapshots are deleted from the node');
    assert.deepEqual(await suite.fixture.moto.listUnfinishedUploads(suite.fixture.bucket), []);
    assert.equal(report.total.artifacts, 3);
    await assertSecretsAbsent(handle.workflowId);
    await recordHistory(suite.fixture.temporal, handle.workflowId, 'backup-s3-checksum');
  });

  test('to the fs store while rows are inserted: the dump holds exactly the snapshot counts in the manifest', async () => {
    const taskQueue = await workerFor('fs');
    let inserting = true;
    let inserted = 0;
    const db = await suite.fixture.db.client();
    const writer = (async () => {
      while (inserting) {
        await db.query(`INSERT INTO ingest_queue (source_uri) SELECT 's3://incoming/' || g FROM generate_series(1, 200) g`);
        await db.query(`INSERT INTO audit.events (kind, payload) VALUES ('tick', '{}')`);
        inserted += 1;
      }
    })();
    await sleep(300);
    const handle = await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['postgres'] }, { taskQueue });
    const report = await handle.result();
    inserting = false;
    await writer;

    const objects = fsObjects(suite.dir.path);
    const manifest = await readManifest(objects, report.manifestKey);
    await assertBackupMatchesStore(objects, report.manifestKey);
    const dump = manifest.artifacts[0];
    assert.ok(dump?.component === 'postgres');
    assert.ok(inserted > 0 && dump.tables['public.ingest_queue']! > 0, 'inserts ran before the snapshot');
    const liveQueue = Number((await db.query('SELECT count(*) AS count FROM ingest_queue')).rows[0].count);
    assert.ok(liveQueue > dump.tables['public.ingest_queue']!, 'inserts went on after the snapshot');
    assert.deepEqual(await restoreAndCount(objects, dump.key), dump.tables);
    await assertSecretsAbsent(handle.workflowId);
  });

  test('bad inputs fail with a message naming the field and write nothing', async () => {
    const prefix = `bad-${Date.now()}/`;
    const taskQueue = await workerFor('s3', prefix);
    const cases: Array<[unknown, RegExp]> = [
      [{ stack: 'staging' }, /unknown stack "staging"/],
      [{ stack: 'prod', collections: ['docs; rm -rf /'] }, /collections\[0\]/],
      [{ stack: 'prod', components: [] }, /components: list at least one component/],
      [{ stack: 'prod', collections: ['missing_collection'] }, /collections: "missing_collection" not found/],
      [{ stack: '../prod' }, /stack: stack names are/],
    ];
    for (const [input, message] of cases) {
      const handle = await suite.fixture.temporal.client.workflow.start('backup', { taskQueue, workflowId: uniqueName('bad'), args: [input] });
      const failure = await handle.result().then(
        () => assert.fail(`backup with ${JSON.stringify(input)} succeeded`),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      const cause = failure.cause as Error & { type?: string; nonRetryable?: boolean };
      assert.match(cause.message, message);
      assert.equal(cause.type, 'InvalidInput');
    }
    await assert.rejects(
      createBackupSchedule(suite.fixture.temporal.client, { input: { stack: 'prod' }, cron: '0 */6 * *', taskQueue }),
      (error: Error) => error instanceof InvalidInput && /has 4 field/.test(error.message),
    );
    await assert.rejects(
      createBackupSchedule(suite.fixture.temporal.client, { input: { stack: 'prod' }, cron: '61 * * * *', taskQueue }),
      /minute field: 61 is outside 0-59/,
    );
    assert.deepEqual(await suite.fixture.moto.listKeys(suite.fixture.bucket, prefix), []);
    assert.deepEqual(await suite.fixture.moto.listUnfinishedUploads(suite.fixture.bucket, prefix), []);
  });

  test('Qdrant reports a wrong checksum: the run fails naming the collection and writes no manifest', async (t) => {
    if (suite.fixture.qdrant.external) return t.skip('needs the Qdrant stand-in (fault injection: faults.corruptChecksum)');
    const prefix = `corrupt-${Date.now()}/`;
    const taskQueue = await workerFor('s3', prefix);
    suite.fixture.qdrant.faults.corruptChecksum.add('faq');
    try {
      const handle = await startBackup(suite.fixture.temporal.client, { stack: 'prod' }, { taskQueue });
      const failure = await handle.result().then(
        () => assert.fail('backup succeeded despite the wrong checksum'),
        (error: unknown) => error as WorkflowFailedError,
      );
      assert.match(failure.cause?.message ?? '', /snapshot faq failed: .*collection "faq" failed its checksum/);
      await recordHistory(suite.fixture.temporal, handle.workflowId, 'backup-checksum-mismatch');
      const keys = await suite.fixture.moto.listKeys(suite.fixture.bucket, prefix);
      assert.ok(!keys.some((key) => key.endsWith('manifest.json')), `no manifest expected, found ${keys.join(', ')}`);
      assert.ok(!keys.some((key) => key.endsWith('faq.snapshot')), 'the bad snapshot is not kept');
    } finally {
      suite.fixture.qdrant.faults.reset();
    }
  });

  test('S3 unreachable for a while, then back: the run retries and completes', async (t) => {
    const endpoint = new URL(suite.fixture.moto.endpoint);
    // The proxy forwards bytes and is reached over plain http: a TLS endpoint would not accept that.
    if (endpoint.protocol !== 'http:') return t.skip(`the TCP proxy needs an http:// S3 endpoint, not ${endpoint.protocol}`);
    const prefix = `outage-${Date.now()}/`;
    const proxy = await startTcpProxy({ host: endpoint.hostname, port: Number(endpoint.port || 80) });
    try {
      const stacks = suite.fixture.stacks({ store: 's3', prefix }) as { stacks: { prod: { store: { endpoint: string } } } };
      stacks.stacks.prod.store.endpoint = proxy.url;
      const taskQueue = uniqueName('outage');
      suite.workers.push(await startWorker({ address: suite.fixture.temporal.address, taskQueue, stacksText: stringify(stacks) }));
      await proxy.cutOff();
      const handle = await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['postgres'] }, { taskQueue });
      await sleep(8_000);
      await proxy.restore();
      const report = await handle.result();
      const objects = s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix);
      await assertBackupMatchesStore(objects, report.manifestKey);
      assert.deepEqual(await suite.fixture.moto.listUnfinishedUploads(suite.fixture.bucket, prefix), []);
      assert.ok((await activityAttempts(handle.workflowId, 'dumpPostgres')) > 1, 'the dump was retried');
    } finally {
      await proxy.stop();
    }
  });

  test('a stack with a retention policy is pruned after the manifest is written', async () => {
    const prefix = `retention-${Date.now()}/`;
    const stacks = suite.fixture.stacks({ store: 's3', prefix }) as { stacks: { prod: Record<string, unknown> } };
    stacks.stacks.prod.retention = { keepLast: 1 };
    const taskQueue = uniqueName('retention');
    suite.workers.push(await startWorker({ address: suite.fixture.temporal.address, taskQueue, stacksText: stringify(stacks) }));
    const first = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'] }, { taskQueue })).result();
    assert.deepEqual(first.retention && 'kept' in first.retention ? first.retention.kept : -1, 1);
    const second = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'] }, { taskQueue })).result();
    assert.ok(second.retention && 'deleted' in second.retention, JSON.stringify(second.retention));
    if (second.retention.deleted !== 1) {
      const prune = await suite.fixture.temporal.client.workflow.getHandle(second.retention.workflowId).result();
      assert.fail(`expected one backup deleted: ${JSON.stringify(prune)}`);
    }
    const keys = await suite.fixture.moto.listKeys(suite.fixture.bucket, prefix);
    assert.ok(keys.length > 0 && keys.every((key) => key.includes(second.backupId)), keys.join(', '));
    const skipped = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['qdrant'], prune: false }, { taskQueue })).result();
    assert.equal(skipped.retention, undefined);
  });

  test('a schedule made with createBackupSchedule, triggered, runs a backup to completion', async () => {
    const taskQueue = await workerFor('fs');
    const scheduleId = uniqueName('ragops-backup-prod');
    const schedule = await createBackupSchedule(suite.fixture.temporal.client, {
      input: { stack: 'prod', components: ['qdrant'] },
      cron: '0 3 1 1 *',
      scheduleId,
      taskQueue,
      pauseOnFailure: true,
    });
    try {
      const described = await schedule.describe();
      assert.equal(described.policies.overlap, 'SKIP');
      assert.equal(described.policies.pauseOnFailure, true);
      await schedule.trigger();
      let workflowId: string | undefined;
      for (let i = 0; i < 50 && !workflowId; i += 1) {
        workflowId = (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId;
        if (!workflowId) await sleep(200);
      }
      assert.ok(workflowId, 'the schedule started a workflow');
      const report = (await suite.fixture.temporal.client.workflow.getHandle(workflowId).result()) as { manifestKey: string };
      const manifest = await readManifest(fsObjects(suite.dir.path), report.manifestKey);
      assert.deepEqual(manifest.artifacts.map((artifact) => artifact.name).sort(), ['docs_v1', 'faq']);
    } finally {
      await schedule.delete();
    }
  });
});
