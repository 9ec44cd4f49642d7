// Ids that survive a Reset and do not survive into the next execution: a backup reset in the
// middle keeps its one backup id, and cron runs of one workflow id each make their own backup.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { manifestSchema, type Manifest } from '../src/config/manifest.js';
import { backupIdPattern } from '../src/core/storeKeys.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { PruneReport } from '../src/workflows/pruneBackups.js';
import { addBulkTable } from './support/crash.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { createTestDatabase, seedRagDatabase, type TestDatabase } from './support/postgres.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { fsObjects, readBuffer, sha256Of } from './support/verify.js';

const TEMPORAL = fileURLToPath(new URL('../.venv/bin/temporal', import.meta.url));

describe('backup ids across Reset and cron runs', () => {
  let fixture: BackupFixture;
  let bulk: TestDatabase;
  let store: { path: string; remove(): Promise<void> };
  let worker: RunningWorker;
  const taskQueue = uniqueName('reset');

  before(async () => {
    [fixture, bulk, store] = await Promise.all([startBackupFixture({ documents: 2_000 }), createTestDatabase('reset_bulk'), tempDir('reset-store')]);
    await seedRagDatabase(bulk.name, { documents: 100 });
    await addBulkTable(bulk, 600_000); // a second dump that lasts a few seconds
    const stacks = fixture.stacks({ store: 'fs', fsPath: store.path }) as { stacks: { prod: Record<string, unknown> & { postgres: Array<Record<string, unknown>> } } };
    stacks.stacks.prod.postgres.push({ ...stacks.stacks.prod.postgres[0], name: 'bulk', database: bulk.name });
    // A tiny grace: an incomplete backup prefix would be taken for a crash leftover at once.
    stacks.stacks.prod.retention = { keepLast: 10, leftoverGraceHours: 0.0003 };
    worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([fixture?.stop(), bulk?.drop(), store?.remove()]);
  });

  const temporal = (...args: string[]) => execa(TEMPORAL, [...args, '--address', fixture.temporal.address, '--namespace', 'default']);

  async function backupPrefixes(): Promise<string[]> {
    return (await readdir(join(store.path, 'prod')).catch(() => [])).filter((name) => backupIdPattern.test(name)).sort();
  }

  async function readStoredManifest(backupId: string): Promise<Manifest> {
    return manifestSchema.parse(JSON.parse((await readBuffer(await fsObjects(store.path).read(`prod/${backupId}/manifest.json`))).toString('utf8')));
  }

  test('reset to the workflow task after the first dump: one backup id for the manifest and every artifact; a later prune deletes none of it', async () => {
    const workflowId = uniqueName('backup-reset');
    const handle = await fixture.temporal.client.workflow.start('backup', { taskQueue, workflowId, args: [{ stack: 'prod', components: ['postgres'], prune: false }] });

    // Wait for the first dump to complete and the second to be running.
    let resetPoint: number | undefined;
    for (let i = 0; i < 600 && resetPoint === undefined; i += 1) {
      const events = (await handle.fetchHistory()).events ?? [];
      const dumps = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dumpPostgres');
      const firstDone = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(dumps[0]?.eventId));
      if (firstDone && dumps.length === 2) {
        resetPoint = Number(events.find((e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) > Number(firstDone.eventId))?.eventId);
      } else await sleep(100);
    }
    assert.ok(resetPoint, 'the backup never reached its second dump');
    const { stdout } = await temporal('workflow', 'reset', '--workflow-id', workflowId, '--event-id', String(resetPoint), '--reason', 'test: reset after the first dump', '--yes');
    assert.match(stdout, /./);

    const report = (await fixture.temporal.client.workflow.getHandle(workflowId).result()) as BackupReport;
    assert.notEqual((await fixture.temporal.client.workflow.getHandle(workflowId).describe()).runId, handle.firstExecutionRunId, 'the result came from the reset run');
    assert.deepEqual(await backupPrefixes(), [report.backupId], 'one backup prefix: the reset run reused the recorded backup id');
    const manifest = await readStoredManifest(report.backupId);
    assert.equal(manifest.backupId, report.backupId);
    assert.deepEqual(manifest.artifacts.map((a) => a.name).sort(), ['app', 'bulk']);
    for (const artifact of manifest.artifacts) {
      assert.ok(artifact.key.startsWith(`prod/${report.backupId}/`), `${artifact.key} is under another backup id`);
      assert.deepEqual(await sha256Of(await fsObjects(store.path).read(artifact.key)), { sha256: artifact.sha256, size: artifact.size });
    }

    const prune = (await (await fixture.temporal.client.workflow.start('pruneBackups', { taskQueue, workflowId: uniqueName('prune'), args: [{ stack: 'prod' }] })).result()) as PruneReport;
    assert.deepEqual(prune.deleted, []);
    assert.deepEqual(await backupPrefixes(), [report.backupId]);
    for (const artifact of manifest.artifacts) await fsObjects(store.path).read(artifact.key).then((s) => s.destroy());
  });

  test('a cron workflow (temporal workflow start --cron) makes a distinct, complete backup per run', async () => {
    const before = new Set(await backupPrefixes());
    const workflowId = uniqueName('backup-cron');
    await temporal('workflow', 'start', '--task-queue', taskQueue, '--type', 'backup', '--workflow-id', workflowId, '--cron', '@every 20s', '--input', JSON.stringify({ stack: 'prod', components: ['postgres'], prune: false }));
    try {
      let made: string[] = [];
      for (let i = 0; i < 180 && made.length < 2; i += 1) {
        made = (await backupPrefixes()).filter((id) => !before.has(id));
        const complete = await Promise.all(made.map((id) => readStoredManifest(id).then(() => true, () => false)));
        made = made.filter((_, index) => complete[index]);
        if (made.length < 2) await sleep(1_000);
      }
      assert.equal(made.length, 2, `two cron runs made ${made.length} complete backup(s)`);
      const manifests = await Promise.all(made.map(readStoredManifest));
      assert.notEqual(manifests[0]!.runId, manifests[1]!.runId);
      assert.equal(manifests[0]!.workflowId, workflowId);
      assert.equal(manifests[1]!.workflowId, workflowId);
      for (const manifest of manifests) assert.ok(manifest.artifacts.every((a) => a.key.startsWith(`prod/${manifest.backupId}/`)));
    } finally {
      await temporal('workflow', 'terminate', '--workflow-id', workflowId, '--reason', 'test done').catch(() => undefined);
    }
  });
});
