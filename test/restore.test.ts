import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import type { RestoreInput } from '../src/config/inputs.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { RestoreReport } from '../src/workflows/restore.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { dropDatabaseIfExists, exactCounts, listDatabases, PG } from './support/postgres.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { exportHistoryJson } from './support/temporal.js';
import { readManifest, s3Objects } from './support/verify.js';
import { recordHistory } from './support/histories.js';

describe('restore runbook', () => {
  let fixture: BackupFixture;
  let worker: RunningWorker;
  let taskQueue: string;
  let backup: BackupReport;
  let qdrant: QdrantClient;
  const restoredDatabase = `ragops_t_restored_${Date.now().toString(36)}`;
  const prefix = 'restore/';

  before(async () => {
    fixture = await startBackupFixture({ documents: 20_000 });
    taskQueue = uniqueName('restore');
    worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(fixture.stacks({ store: 's3', prefix })) });
    backup = await (await startBackup(fixture.temporal.client, { stack: 'prod' }, { taskQueue })).result();
    qdrant = new QdrantClient({ url: fixture.qdrant.url, apiKey: fixture.qdrant.apiKey, checkCompatibility: false });
  });
  after(async () => {
    await worker?.stop();
    await dropDatabaseIfExists(restoredDatabase);
    await fixture?.stop();
  });

  async function run(input: RestoreInput): Promise<{ workflowId: string; result: Promise<RestoreReport> }> {
    const handle = await fixture.temporal.client.workflow.start('restore', { taskQueue, workflowId: uniqueName('restore'), args: [input] });
    return { workflowId: handle.workflowId, result: handle.result() as Promise<RestoreReport> };
  }

  async function refusal(input: RestoreInput): Promise<string> {
    const failure = await (await run(input)).result.then(
      () => assert.fail('the restore was not refused'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    return (failure.cause as Error).message;
  }

  test('into a new database name and new collections, with aliases: exactly the manifest counts', async () => {
    const manifest = await readManifest(s3Objects(fixture.moto, fixture.bucket, prefix), backup.manifestKey);
    const { workflowId, result } = await run({
      stack: 'prod',
      postgres: { app: { database: restoredDatabase } },
      qdrant: { docs_v1: { collection: 'docs_v1_restored' }, faq: { collection: 'faq_restored' } },
      aliases: true,
    });
    const report = await result;
    const dump = manifest.artifacts.find((artifact) => artifact.component === 'postgres');
    assert.ok(dump?.component === 'postgres');
    assert.deepEqual(await exactCounts(restoredDatabase), dump.tables);
    assert.deepEqual(report.postgres[0]?.tables, dump.tables);
    assert.equal((await qdrant.count('docs_v1_restored', { exact: true })).count, 300);
    assert.equal((await qdrant.count('faq_restored', { exact: true })).count, 40);
    assert.deepEqual((await qdrant.getAliases()).aliases, [{ alias_name: 'docs', collection_name: 'docs_v1_restored' }]);
    assert.deepEqual(report.aliases, [{ alias: 'docs', collection: 'docs_v1_restored' }]);
    assert.deepEqual(await listDatabases('ragops_restore_'), []);
    assert.deepEqual(await listDatabases('ragops_old_'), []);
    const history = await exportHistoryJson(fixture.temporal.client, workflowId);
    for (const secret of Object.values(fixture.secrets)) assert.ok(!history.includes(secret), 'a secret is in the restore history');
    await recordHistory(fixture.temporal, workflowId, 'restore-new-targets');
  });

  test('replacing an existing database or collection without the matching confirm is refused before anything is touched', async () => {
    const before = await exactCounts(fixture.db.name);
    const message = await refusal({ stack: 'prod', postgres: { app: { database: fixture.db.name, confirm: 'yes' } } });
    assert.match(message, new RegExp(`postgres\\.app\\.confirm: database "${fixture.db.name}" exists`));
    assert.match(message, /qdrant\.docs_v1\.confirm: collection "docs_v1" exists/);
    assert.match(message, /nothing was touched/);
    assert.deepEqual(await exactCounts(fixture.db.name), before);
    assert.deepEqual(await listDatabases('ragops_restore_'), []);
    assert.match(await refusal({ stack: 'prod', components: ['qdrant'], qdrant: { nope: {} } }), /qdrant\.nope: the backup has no such collection/);
  });

  test('replacing with confirm: the database returns to the backup, rows written since are gone', async () => {
    const client = new pg.Client({ ...PG, database: fixture.db.name });
    client.on('error', () => undefined);
    await client.connect();
    await client.query(`INSERT INTO ingest_queue (source_uri) SELECT 's3://late/' || g FROM generate_series(1, 50) g`);
    await client.end();
    const manifest = await readManifest(s3Objects(fixture.moto, fixture.bucket, prefix), backup.manifestKey);
    const dump = manifest.artifacts.find((artifact) => artifact.component === 'postgres');
    assert.ok(dump?.component === 'postgres');

    const report = await (await run({ stack: 'prod', components: ['postgres'], postgres: { app: { database: fixture.db.name, confirm: fixture.db.name } } })).result;
    assert.equal(report.postgres[0]?.replaced, true);
    assert.deepEqual(await exactCounts(fixture.db.name), dump.tables);
    assert.deepEqual(await listDatabases('ragops_old_'), []);
  });
  test('Qdrant failing after the Postgres swap: the original database is back in place and connectable, the alias points back, each component\'s state is listed', async () => {
    // Rows written after the backup tell the original from the restored copy.
    const client = new pg.Client({ ...PG, database: fixture.db.name });
    client.on('error', () => undefined);
    await client.connect();
    await client.query(`INSERT INTO ingest_queue (source_uri) SELECT 's3://after-backup/' || g FROM generate_series(1, 7) g`);
    await client.end();
    const before = await exactCounts(fixture.db.name);
    const aliasBefore = (await qdrant.getAliases()).aliases.find((alias) => alias.alias_name === 'docs');
    assert.ok(aliasBefore, 'the fixture has a docs alias');
    fixture.qdrant.faults.failNext({ status: 400, pathIncludes: '/collections/faq_after_swap/snapshots', count: 5 });

    const { workflowId, result } = await run({
      stack: 'prod',
      postgres: { app: { database: fixture.db.name, confirm: fixture.db.name } },
      qdrant: { docs_v1: { collection: 'docs', confirm: 'docs' }, faq: { collection: 'faq_after_swap' } },
    });
    const failure = await result.then(() => assert.fail('the restore succeeded'), (error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError);
    const message = (failure.cause as Error).message;
    assert.match(message, /injected fault/);
    assert.match(message, new RegExp(`postgres app → ${fixture.db.name}: rolled back`));
    assert.match(message, /qdrant docs_v1 → docs: rolled back/);
    assert.match(message, /qdrant faq → faq_after_swap: failed/);
    assert.deepEqual((failure.cause as { details?: unknown[] }).details?.[0], {
      [`postgres app → ${fixture.db.name}`]: 'rolled back',
      'qdrant docs_v1 → docs': 'rolled back',
      'qdrant faq → faq_after_swap': 'failed',
    });

    // The original, with its late rows, under its name and taking connections; nothing of the run left.
    assert.deepEqual(await exactCounts(fixture.db.name), before);
    assert.deepEqual(await listDatabases('ragops_restore_'), []);
    assert.deepEqual(await listDatabases('ragops_old_'), []);
    assert.deepEqual((await qdrant.getAliases()).aliases.find((alias) => alias.alias_name === 'docs'), aliasBefore);
    const history = await exportHistoryJson(fixture.temporal.client, workflowId);
    assert.match(history, /undoPostgresRestore/);
  });
});
