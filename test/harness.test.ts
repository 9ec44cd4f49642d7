// Tests of the test harness itself: the real services it starts answer as the suites expect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CreateMultipartUploadCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DEV_SEARCH_ATTRIBUTES } from '../src/client/dev/devserver.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';
import { startMoto, type TestMoto } from './support/moto.js';
import { createTestDatabase, exactCounts, listDatabases, seedRagDatabase } from './support/postgres.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INDEXED_VALUE_TYPE_KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType

describe('temporal dev server', () => {
  let env: TestTemporal;
  before(async () => {
    env = await startTestTemporal();
  });
  after(async () => {
    await env?.stop();
  });

  test('registers the five ragops search attributes as Keyword', async () => {
    const { customAttributes } = await env.connection.operatorService.listSearchAttributes({ namespace: env.namespace });
    for (const name of Object.keys(DEV_SEARCH_ATTRIBUTES)) {
      assert.equal(customAttributes?.[name], INDEXED_VALUE_TYPE_KEYWORD, name);
    }
  });

  test('exportHistoryJson decodes payloads to text', async () => {
    const workflowId = `harness-${Date.now()}`;
    const handle = await env.client.workflow.start('noSuchWorkflow', {
      taskQueue: 'harness-no-worker',
      workflowId,
      args: [{ marker: 'decoded-marker-7f3a' }],
    });
    try {
      const json = await exportHistoryJson(env.client, workflowId);
      assert.match(json, /WORKFLOW_EXECUTION_STARTED|workflowExecutionStartedEventAttributes/);
      assert.ok(json.includes('decoded-marker-7f3a'), 'the input payload is decoded in the export');
      assert.ok(json.includes('json/plain'), 'payload metadata is decoded too');
    } finally {
      await handle.terminate('harness test done');
    }
  });
});

describe('moto S3', () => {
  let moto: TestMoto;
  before(async () => {
    moto = await startMoto();
  });
  after(async () => {
    await moto?.stop();
  });

  test('accepts puts and lists keys', async () => {
    await moto.createBucket('harness');
    await moto.s3.send(new PutObjectCommand({ Bucket: 'harness', Key: 'a/one.txt', Body: 'one' }));
    await moto.s3.send(new PutObjectCommand({ Bucket: 'harness', Key: 'b/two.txt', Body: 'two' }));
    assert.deepEqual(await moto.listKeys('harness'), ['a/one.txt', 'b/two.txt']);
    assert.deepEqual(await moto.listKeys('harness', 'a/'), ['a/one.txt']);
  });

  test('lists a multipart upload that was started and not finished', async () => {
    await moto.createBucket('harness-mpu');
    const { UploadId } = await moto.s3.send(new CreateMultipartUploadCommand({ Bucket: 'harness-mpu', Key: 'dump/pg.dump' }));
    const uploads = await moto.listUnfinishedUploads('harness-mpu');
    assert.deepEqual(
      uploads.map(({ key, uploadId }) => ({ key, uploadId })),
      [{ key: 'dump/pg.dump', uploadId: UploadId }],
    );
    assert.deepEqual(await moto.listUnfinishedUploads('harness-mpu', 'other/'), []);
  });

  test('pause makes S3 unanswering until resume', async () => {
    moto.pause();
    try {
      await assert.rejects(moto.s3.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(500) }));
    } finally {
      moto.resume();
    }
    const { Buckets } = await moto.s3.send(new ListBucketsCommand({}));
    assert.ok((Buckets ?? []).length >= 1);
  });
});

describe('postgres', () => {
  const dropAfter: Array<() => Promise<void>> = [];
  after(async () => {
    for (const drop of dropAfter) await drop();
  });

  test('seeds a RAG-like database with exact counts, and drop removes it', async () => {
    const db = await createTestDatabase('harness');
    dropAfter.push(() => db.drop());
    const expected = await seedRagDatabase(db.name, { documents: 30_000 });
    const counts = await exactCounts(db.name);
    assert.deepEqual(counts, expected);
    assert.equal(counts['public.ingest_queue'], 0);
    assert.ok(Object.values(counts).reduce((a, b) => a + b, 0) >= 100_000);

    const client = await db.client();
    const { rows } = await client.query('SELECT count(*)::int AS n FROM chunks WHERE document_id = 1');
    assert.equal(rows[0].n, 3);

    assert.deepEqual(await listDatabases(db.name), [db.name]);
    await db.drop();
    assert.deepEqual(await listDatabases(db.name), []);
  });
});

describe('docker compose file', () => {
  test('is valid and holds the Temporal server, UI and worker', async () => {
    const hasPlugin = (await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0;
    const [command, ...prefix] = hasPlugin ? ['docker', 'compose'] : ['docker-compose'];
    const { stdout } = await execa(command!, [...prefix, '-f', 'docker-compose.temporal.yml', 'config'], { cwd: ROOT });
    for (const service of ['temporal', 'temporal-ui', 'ragops-worker']) {
      assert.match(stdout, new RegExp(`^  ${service}:$`, 'm'), service);
    }
  });
});
