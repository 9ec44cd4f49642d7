// Horizontal scale: two `ragops worker` processes on one task queue share backups of four
// stacks started at once. Each worker runs one activity at a time (RAGOPS_MAX_CONCURRENT_ACTIVITIES=1),
// and each dump lasts seconds, so while one worker streams a dump the next one can only go to the
// other: both must do work, and the histories must say so by their identities.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup } from '../src/client/api/runbooks.js';
import { addBulkTable } from './support/crash.js';
import { createTestDatabase, exactCounts, seedRagDatabase, type TestDatabase } from './support/postgres.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { activityRuns, maxOverlap, workflowTaskIdentities, type ActivityRun } from './support/scaling-history.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';
import { fsObjects, readManifest, sha256Of } from './support/verify.js';

const STACKS = ['north', 'south', 'east', 'west'] as const;
/** About 54 MB of pg_dump output per database: a dump lasts several seconds. */
const BULK_ROWS = 700_000;

let temporal: TestTemporal;
let dir: { path: string; remove(): Promise<void> };
const databases = new Map<string, TestDatabase>();
const workers: WorkerProcess[] = [];

before(async () => {
  [temporal, dir] = await Promise.all([startTestTemporal(), tempDir('scaling')]);
  await Promise.all(
    STACKS.map(async (stack) => {
      const db = await createTestDatabase(`scaling_${stack}`);
      databases.set(stack, db);
      await seedRagDatabase(db.name, { documents: 2_000 });
      await addBulkTable(db, BULK_ROWS);
    }),
  );
});

after(async () => {
  await Promise.allSettled(workers.map((worker) => worker.stop()));
  await Promise.allSettled([...databases.values()].map((db) => db.drop()));
  await temporal?.stop();
  await dir?.remove();
});

async function waitForPolling(worker: WorkerProcess): Promise<void> {
  for (let i = 0; i < 600 && !/polling task queue/.test(worker.output()); i += 1) {
    if (worker.process.exitCode !== null) break;
    await sleep(100);
  }
  assert.match(worker.output(), /polling task queue/, `the worker did not start:\n${worker.output()}`);
}

test('two workers on one task queue share backups of four stacks started at once: all complete, both did work', async () => {
  const storePath = `${dir.path}/store`;
  const configPath = await writeStacksFile(dir.path, {
    stacks: Object.fromEntries(
      STACKS.map((stack) => [
        stack,
        {
          postgres: [{ name: 'app', host: '127.0.0.1', port: 5432, database: databases.get(stack)!.name, user: 'postgres' }],
          store: { type: 'fs', path: storePath },
        },
      ]),
    ),
  });
  const taskQueue = uniqueName('scaling');
  const env = { RAGOPS_MAX_CONCURRENT_ACTIVITIES: '1' };
  for (let i = 0; i < 2; i += 1) workers.push(spawnWorkerProcess({ address: temporal.address, taskQueue, configPath, env }));
  await Promise.all(workers.map(waitForPolling));
  const identities = workers.map((worker) => `${worker.process.pid}@${hostname()}`);

  const startedAt = Date.now();
  const handles = await Promise.all(STACKS.map((stack) => startBackup(temporal.client, { stack }, { taskQueue })));
  const reports = await Promise.all(handles.map((handle) => handle.result()));
  const wallSeconds = (Date.now() - startedAt) / 1000;

  const objects = fsObjects(storePath);
  const dumpBytes: number[] = [];
  for (const [index, stack] of STACKS.entries()) {
    const report = reports[index]!;
    assert.equal(report.stack, stack);
    const manifest = await readManifest(objects, report.manifestKey);
    assert.equal(manifest.backupId, report.backupId);
    const [dump] = manifest.artifacts;
    assert.ok(manifest.artifacts.length === 1 && dump?.component === 'postgres', `${stack}: one postgres dump`);
    assert.deepEqual(dump.tables, await exactCounts(databases.get(stack)!.name), `${stack}: the dump's table counts`);
    assert.equal(dump.tables['public.bulk'], BULK_ROWS);
    const stored = await sha256Of(await objects.read(dump.key));
    assert.deepEqual(stored, { sha256: dump.sha256, size: dump.size }, `${stack}: the stored dump is the one the manifest names`);
    dumpBytes.push(dump.size);
  }

  const runs: ActivityRun[] = [];
  const workflowTasks = new Map<string, number>();
  for (const handle of handles) {
    const events = (await handle.fetchHistory()).events ?? [];
    runs.push(...activityRuns(handle.workflowId, events));
    for (const [identity, count] of workflowTaskIdentities(events)) workflowTasks.set(identity, (workflowTasks.get(identity) ?? 0) + count);
  }
  const dumps = runs.filter((run) => run.activityType === 'dumpPostgres');
  assert.equal(dumps.length, 4, 'one dump per stack, none retried');
  for (const [index, identity] of identities.entries()) {
    const mine = runs.filter((run) => run.identity === identity);
    const myDumps = dumps.filter((run) => run.identity === identity);
    const dumpSeconds = myDumps.map((run) => ((run.endedMs - run.startedMs) / 1000).toFixed(1));
    console.log(
      `worker ${index + 1} (${identity}): ${mine.length} activities, ${myDumps.length} dumps (${dumpSeconds.join(' s, ')} s), ${workflowTasks.get(identity) ?? 0} workflow tasks, at most ${maxOverlap(mine)} activity at once`,
    );
    assert.ok(myDumps.length >= 1, `worker ${index + 1} ran no dump`);
    assert.equal(maxOverlap(mine), 1, `worker ${index + 1} ran more than one activity at once`);
  }
  assert.deepEqual([...new Set(runs.map((run) => run.identity))].sort(), [...identities].sort(), 'the activities ran on the two workers, and only there');
  const dumpsAtOnce = maxOverlap(dumps);
  console.log(`4 backups (${dumpBytes.map((bytes) => (bytes / 1e6).toFixed(0)).join(', ')} MB dumps) in ${wallSeconds.toFixed(1)} s, ${dumpsAtOnce} dumps at once, ${(dumps.reduce((sum, run) => sum + run.endedMs - run.startedMs, 0) / 1000).toFixed(1)} s of dumping in all`);
  assert.equal(dumpsAtOnce, 2, 'the two workers dumped at the same time');
});
