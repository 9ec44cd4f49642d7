// The janitor sweeps what a drill killed mid-way leaves (its scratch database and collection,
// its local dump directory) and nothing else: not other databases and collections, not a
// restore's aside-renamed original.
import { QdrantClient } from '@qdrant/js-client-rest';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { stringify } from 'yaml';
import { sweepOrphans } from '../src/activities/janitor/index.js';
import { parseStacksFile } from '../src/config/load.js';
import { orphansAmong, sweepableRunTag } from '../src/core/janitor.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup } from '../src/client/api/runbooks.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { startWorker, uniqueName, type RunningWorker } from './support/ragops.js';
import { requiresStandin } from './support/targets.js';
import { dropDatabaseIfExists, listDatabases, PG } from './support/postgres.js';

describe('janitor', () => {
  test('only drill and restore scratch names of runs not running are orphans; aside originals never', () => {
    assert.equal(sweepableRunTag('ragops_drill_ab12cd34_app'), 'ab12cd34');
    assert.equal(sweepableRunTag('ragops_restore_ab12cd34_app'), 'ab12cd34');
    assert.equal(sweepableRunTag('ragops_old_ab12cd34_app'), undefined);
    assert.equal(sweepableRunTag('ragops_drill_ab12cd34'), undefined);
    assert.equal(sweepableRunTag('app'), undefined);
    assert.deepEqual(
      orphansAmong(['ragops_drill_ab12cd34_app', 'ragops_drill_running1_app', 'ragops_drill_ab12cd34_docs_u', 'docs_v1'], new Set(['running1'])),
      ['ragops_drill_ab12cd34_app', 'ragops_drill_ab12cd34_docs_u'],
    );
  });

  describe('against the servers', () => {
    let fixture: BackupFixture;
    let tempRoot: string;
    const tag = `z${Math.random().toString(36).slice(2, 9).padEnd(7, '0')}`;
    const scratchDatabase = `ragops_drill_${tag}_app`;
    const asideOriginal = `ragops_old_${tag}_app`;
    const notOwned = `ragops_drillish_${tag}`;
    const scratchCollection = `ragops_drill_${tag}_docs_v1_u`;

    before(async () => {
      fixture = await startBackupFixture({ documents: 10 });
      tempRoot = await mkdtemp(join(tmpdir(), 'janitor-test-'));
    });
    let worker: RunningWorker | undefined;
    let runningScratch: string | undefined;
    after(async () => {
      await worker?.stop();
      await Promise.allSettled([scratchDatabase, asideOriginal, notOwned, runningScratch ?? ''].filter(Boolean).map((name) => dropDatabaseIfExists(name)));
      await rm(tempRoot, { recursive: true, force: true });
      await fixture?.stop();
    });

    test('removes the scratch database, collection and drill dir a killed drill left, and leaves every other database and collection alone', async () => {
      const admin = new pg.Client({ ...PG, database: 'postgres' });
      await admin.connect();
      try {
        for (const name of [scratchDatabase, asideOriginal, notOwned]) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await admin.end();
      }
      const qdrant = new QdrantClient({ url: fixture.qdrant.url, apiKey: fixture.qdrant.apiKey, checkCompatibility: false });
      await qdrant.createCollection(scratchCollection, { vectors: { size: 8, distance: 'Cosine' } });
      const drillDir = join(tempRoot, 'ragops-restore-AbC123');
      await mkdir(drillDir);
      const anHourAgo = new Date(Date.now() - 3_600_000);
      await utimes(drillDir, anHourAgo, anHourAgo); // a crash's leftover; a young one may be a running drill's
      const youngDrillDir = join(tempRoot, 'ragops-restore-Young1');
      await mkdir(youngDrillDir);
      const otherDir = join(tempRoot, 'not-ragops');
      await mkdir(otherDir);

      const stacksFile = fixture.stacks({ store: 'fs', fsPath: join(tempRoot, 'store') }) as { stacks: { prod: Record<string, unknown> } };
      stacksFile.stacks.prod.drill = { tempDir: tempRoot };
      const stack = parseStacksFile(stringify(stacksFile), 'test stacks').stacks.prod!;
      // Other test files may be running drills on this Postgres right now, under their own
      // Temporal servers: this sweep looks only at this test's names (and those it must keep).
      const mine = (name: string) => name.includes(tag) || name.startsWith(tempRoot) || ['docs_v1', 'faq', fixture.db.name].includes(name);
      const report = await sweepOrphans(stack, fixture.temporal.client, { only: mine });

      assert.deepEqual(report.droppedDatabases, [scratchDatabase]);
      assert.deepEqual(report.deletedCollections, [scratchCollection]);
      assert.deepEqual(report.removedTempDirs, [drillDir]);
      assert.ok(report.asideOriginals.includes(asideOriginal), JSON.stringify(report));
      assert.deepEqual(await listDatabases(`ragops_drill_${tag}`), []);
      assert.deepEqual(await listDatabases(asideOriginal), [asideOriginal]);
      assert.deepEqual(await listDatabases(notOwned), [notOwned]);
      assert.deepEqual(await listDatabases(fixture.db.name), [fixture.db.name]);
      assert.deepEqual((await qdrant.getCollections()).collections.map((c) => c.name).sort(), ['docs_v1', 'faq']);
      assert.deepEqual((await readdir(tempRoot)).sort(), ['not-ragops', 'ragops-restore-Young1']);
    });

    test("keeps a running drill's scratch database", { skip: requiresStandin('a slow Qdrant') }, async () => {
      const { client } = fixture.temporal;
      const taskQueue = uniqueName('janitor');
      const stacks = fixture.stacks({ store: 's3', prefix: 'janitor/' }) as { stacks: { prod: Record<string, unknown> } };
      stacks.stacks.prod.drill = { qdrantRecovery: 'upload' };
      worker = await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) });
      const { backupId } = await (await startBackup(client, { stack: 'prod', components: ['qdrant'], prune: false }, { taskQueue })).result();
      fixture.qdrant.faults.delayMs = 20_000; // the drill waits on its snapshot upload meanwhile
      try {
        const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('drill'), args: [{ stack: 'prod', backupId, depth: 'restore' }] });
        let runTag: string | undefined;
        for (let i = 0; i < 100 && !runTag; i += 1) {
          for (const event of (await handle.fetchHistory()).events ?? []) {
            const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
            const result = payload ? (defaultPayloadConverter.fromPayload(payload) as { runTag?: string }) : undefined;
            runTag ??= result?.runTag;
          }
          if (!runTag) await sleep(100);
        }
        assert.ok(runTag, 'the drill never recorded its plan');
        runningScratch = `ragops_drill_${runTag}_app`;
        const admin = new pg.Client({ ...PG, database: 'postgres' });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(runningScratch)}`).finally(() => admin.end());
        const stack = parseStacksFile(stringify(stacks), 'test stacks').stacks.prod!;
        const report = await sweepOrphans(stack, client, { only: (name) => name === runningScratch });
        assert.deepEqual(report.droppedDatabases, []);
        assert.deepEqual(await listDatabases(runningScratch), [runningScratch]);
        await handle.terminate('test over');
        const afterwards = await sweepOrphans(stack, client, { only: (name) => name === runningScratch });
        assert.deepEqual(afterwards.droppedDatabases, [runningScratch], 'once the drill is terminated its scratch database is an orphan');
      } finally {
        fixture.qdrant.faults.delayMs = 0;
      }
    });
  });
});
