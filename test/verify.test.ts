import { PutObjectCommand } from '@aws-sdk/client-s3';
import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import { manifestSchema, verificationSchema, type Manifest } from '../src/config/manifest.js';
import type { VerifyInput } from '../src/config/inputs.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { listDatabases } from './support/postgres.js';
import { startWorker, uniqueName } from './support/ragops.js';
import { exportHistoryJson } from './support/temporal.js';
import { readBuffer, readManifest, s3Objects, sha256Of } from './support/verify.js';
import { backupKeys } from '../src/core/storeKeys.js';
import { recordHistory } from './support/histories.js';
import { useBackupSuite } from './support/suite.js';

type Stacks = { stacks: { prod: Record<string, unknown> & { postgres: Array<Record<string, unknown>> } } };

describe('verifyBackup: restore drills', () => {
  const suite = useBackupSuite('verify-fs', { documents: 30_000 });

  function drillStacks(store: 'fs' | 's3', prefix: string, drill: Record<string, unknown> = {}): Stacks {
    const stacks = suite.fixture.stacks({ store, fsPath: suite.dir.path, prefix }) as Stacks;
    stacks.stacks.prod.drill = drill;
    stacks.stacks.prod.postgres[0]!.sanityChecks = [
      { name: 'every chunk has a document', sql: 'SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id WHERE d.id IS NULL', expect: 0 },
      { name: 'users exist', sql: 'SELECT count(*) > 0 FROM users', expect: true },
    ];
    return stacks;
  }

  async function workerFor(stacks: Stacks): Promise<string> {
    const taskQueue = uniqueName('verify');
    suite.workers.push(await startWorker({ address: suite.fixture.temporal.address, taskQueue, stacksText: stringify(stacks) }));
    return taskQueue;
  }

  const drillIds: string[] = [];
  const failedDrillIds: string[] = [];
  async function runVerify(client: Client, taskQueue: string, input: VerifyInput): Promise<VerifyReport> {
    const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('verify'), args: [input] });
    drillIds.push(handle.workflowId);
    const report = (await handle.result()) as VerifyReport;
    await recordHistory(suite.fixture.temporal, handle.workflowId, `verify-${input.depth ?? 'restore'}-passed`);
    return report;
  }

  async function failedDrill(taskQueue: string, input: VerifyInput): Promise<{ message: string; report: VerifyReport }> {
    const handle = await suite.fixture.temporal.client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('verify'), args: [input] });
    failedDrillIds.push(handle.workflowId);
    const failure = await handle.result().then(
      () => assert.fail('the drill passed'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    const cause = failure.cause as Error & { type?: string; details?: unknown[] };
    assert.equal(cause.type, 'DrillFailed');
    return { message: cause.message, report: cause.details?.[0] as VerifyReport };
  }

  async function assertNoScratchLeft(): Promise<void> {
    assert.deepEqual(await listDatabases('ragops_drill_'), []);
    assert.deepEqual(await listDatabases('ragops_restore_'), []);
    const qdrant = new QdrantClient({ url: suite.fixture.qdrant.url, apiKey: suite.fixture.qdrant.apiKey, checkCompatibility: false });
    const names = (await qdrant.getCollections()).collections.map((c) => c.name).sort();
    assert.deepEqual(names, ['docs_v1', 'faq']);
  }

  test('a real backup passes both depths on S3 (upload and presigned-URL recovery) and leaves evidence, nothing else', async () => {
    const prefix = 'drill-s3/';
    const taskQueue = await workerFor(drillStacks('s3', prefix));
    const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod' }, { taskQueue })).result();

    const checksum = await runVerify(suite.fixture.temporal.client, taskQueue, { stack: 'prod', depth: 'checksum' });
    assert.equal(checksum.backupId, backup.backupId, 'the latest backup is chosen when none is named');
    assert.equal(checksum.checks.length, 3);
    assert.ok(checksum.checks.every((check) => check.passed && check.name === 'checksum'));

    const drill = await runVerify(suite.fixture.temporal.client, taskQueue, { stack: 'prod', backupId: backup.backupId, depth: 'restore' });
    assert.equal(drill.passed, true);
    const names = drill.checks.map((check) => `${check.artifact}: ${check.name}`);
    for (const expected of [
      'app: pg_restore',
      'app: row counts',
      'app: sanity: every chunk has a document',
      'app: sanity: users exist',
      'docs_v1: recover (upload)',
      'docs_v1: recover (location)',
      'docs_v1: points count (upload)',
      'docs_v1: sample queries (location)',
      'faq: points count (location)',
    ]) {
      assert.ok(names.includes(expected), `missing check ${expected} in ${names.join(', ')}`);
    }

    const objects = s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix);
    const evidence = verificationSchema.parse(JSON.parse((await readBuffer(await objects.read(drill.evidenceKey))).toString()));
    assert.equal(evidence.passed, true);
    assert.equal(evidence.depth, 'restore');
    assert.match(drill.evidenceKey, new RegExp(`^prod/${backup.backupId}/verifications/\\d{8}T\\d{6}\\.\\d{3}Z-[a-z0-9]{8}-restore\\.json$`));
    const keys = await suite.fixture.moto.listKeys(suite.fixture.bucket, `${prefix}prod/${backup.backupId}/`);
    assert.ok(!keys.some((key) => key.includes('/locks/')), 'the backup is released');
    assert.equal((await sha256Of(await objects.read(backup.manifestKey))).sha256 !== '', true);
    await assertNoScratchLeft();

    for (const workflowId of drillIds) {
      const history = await exportHistoryJson(suite.fixture.temporal.client, workflowId);
      for (const secret of Object.values(suite.fixture.secrets)) assert.ok(!history.includes(secret), `a secret is in the history of ${workflowId}`);
    }
  });

  test('restore depth from the fs store with local disk and parallel jobs', async () => {
    const taskQueue = await workerFor(drillStacks('fs', '', { localDisk: true, jobs: 2 }));
    const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['postgres'] }, { taskQueue })).result();
    const drill = await runVerify(suite.fixture.temporal.client, taskQueue, { stack: 'prod', backupId: backup.backupId, depth: 'restore' });
    assert.equal(drill.passed, true);
    assert.match(drill.checks.find((check) => check.name === 'pg_restore')?.detail ?? '', /with 2 jobs/);
    await assertNoScratchLeft();
  });

  test('a flipped byte in a dump or a truncated snapshot fails checksum depth naming the artifact', async () => {
    const prefix = 'drill-corrupt/';
    const taskQueue = await workerFor(drillStacks('s3', prefix));
    const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod' }, { taskQueue })).result();
    const objects = s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix);
    const dumpKey = backupKeys.postgresDump('prod', backup.backupId, 'app');
    const dump = await readBuffer(await objects.read(dumpKey));
    const middle = Math.floor(dump.length / 2);
    dump[middle] = dump[middle]! ^ 0x01;
    await suite.fixture.moto.s3.send(new PutObjectCommand({ Bucket: suite.fixture.bucket, Key: prefix + dumpKey, Body: dump }));
    const snapshotKey = backupKeys.qdrantSnapshot('prod', backup.backupId, 'faq');
    const snapshot = await readBuffer(await objects.read(snapshotKey));
    await suite.fixture.moto.s3.send(new PutObjectCommand({ Bucket: suite.fixture.bucket, Key: prefix + snapshotKey, Body: snapshot.subarray(0, snapshot.length - 700) }));

    const { message, report } = await failedDrill(taskQueue, { stack: 'prod', backupId: backup.backupId, depth: 'checksum' });
    assert.match(message, /app checksum: .*app\.dump: expected \d+ bytes with sha256/);
    assert.match(message, /faq checksum: .*faq\.snapshot: expected \d+ bytes/);
    assert.doesNotMatch(message, /docs_v1/);
    const evidence = verificationSchema.parse(JSON.parse((await readBuffer(await objects.read(report.evidenceKey))).toString()));
    assert.equal(evidence.passed, false);
    assert.equal(evidence.checks.filter((check) => !check.passed).length, 2);
  });

  test('a dump that restores with different counts fails restore depth', async () => {
    const prefix = 'drill-counts/';
    const taskQueue = await workerFor(drillStacks('s3', prefix));
    const backup = await (await startBackup(suite.fixture.temporal.client, { stack: 'prod', components: ['postgres'] }, { taskQueue })).result();
    const objects = s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix);
    // Another, consistent dump of the same schema with one row fewer, recorded under the
    // original's manifest counts (the checksum is updated so only the counts differ).
    const db = await suite.fixture.db.client();
    await db.query('DELETE FROM users WHERE id = (SELECT max(id) FROM users WHERE id NOT IN (SELECT user_id FROM documents))');
    await db.query('DELETE FROM audit.events WHERE id = (SELECT max(id) FROM audit.events)');
    const other = await execa('pg_dump', ['-Fc', '-h', '127.0.0.1', '-U', 'postgres', suite.fixture.db.name], { encoding: 'buffer' });
    const dumpKey = backupKeys.postgresDump('prod', backup.backupId, 'app');
    await suite.fixture.moto.s3.send(new PutObjectCommand({ Bucket: suite.fixture.bucket, Key: prefix + dumpKey, Body: other.stdout }));
    const manifest: Manifest = await readManifest(objects, backup.manifestKey);
    const stored = await sha256Of(await objects.read(dumpKey));
    manifest.artifacts[0] = { ...manifest.artifacts[0]!, ...stored };
    await suite.fixture.moto.s3.send(
      new PutObjectCommand({ Bucket: suite.fixture.bucket, Key: prefix + backup.manifestKey, Body: JSON.stringify(manifestSchema.parse(manifest)) }),
    );

    const { message } = await failedDrill(taskQueue, { stack: 'prod', backupId: backup.backupId, depth: 'restore' });
    assert.match(message, /app row counts: .*audit\.events: manifest \d+, restored \d+/);
    await recordHistory(suite.fixture.temporal, failedDrillIds.at(-1)!, 'verify-restore-failed');
    await assertNoScratchLeft();
  });

  test('an incomplete or unknown backup is refused before anything runs', async () => {
    const taskQueue = await workerFor(drillStacks('s3', 'drill-missing/'));
    const handle = await suite.fixture.temporal.client.workflow.start('verifyBackup', {
      taskQueue,
      workflowId: uniqueName('verify'),
      args: [{ stack: 'prod', backupId: '20200101T000000Z-deadbeef' }],
    });
    const failure = await handle.result().catch((error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match((failure.cause as Error).message, /no backup 20200101T000000Z-deadbeef of stack "prod"/);
  });
});
