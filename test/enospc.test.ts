// A full disk is not retried: the fs store on a small tmpfs, and a local-disk drill whose temp
// dir is too small, each fail at once with ENOSPC named, leaving nothing half-written behind.
import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { execa } from 'execa';
import { startBackup } from '../src/client/api/runbooks.js';
import { addBulkTable } from './support/crash.js';
import { startWorker, uniqueName } from './support/ragops.js';
import { useBackupSuite } from './support/suite.js';

const notRoot = process.getuid?.() !== 0 ? 'mounting a 20 MB tmpfs needs root (the tests run as root in CI)' : false;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

/** The activity's start events and its failure messages, from the run's history. */
async function activityAttempts(client: Client, workflowId: string, activityType: string) {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId));
  const ofIt = (id: unknown) => scheduled.includes(String(id));
  const started = events.filter((e) => ofIt(e.activityTaskStartedEventAttributes?.scheduledEventId)).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  const failures = events
    .filter((e) => ofIt(e.activityTaskFailedEventAttributes?.scheduledEventId))
    .map((e) => e.activityTaskFailedEventAttributes!.failure);
  return { scheduled: scheduled.length, started, failures };
}

describe('disk full', { skip: notRoot }, () => {
  // About 28 MB of dump: more than the 20 MB tmpfs holds.
  const suite = useBackupSuite('enospc', { documents: 1_000, bulkRows: 400_000 });
  let tmpfs: string;

  before(async () => {
    tmpfs = await mkdtemp(join(tmpdir(), 'ragops-enospc-tmpfs-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', tmpfs]);
  });
  after(async () => {
    if (!tmpfs) return;
    await execa('umount', [tmpfs]).catch(() => undefined);
    await rmdir(tmpfs);
  });

  test('fs store on a 20 MB tmpfs: the backup fails at once naming ENOSPC and the store, no manifest, no partial artifact', async () => {
    const { fixture } = suite;
    const store = join(tmpfs, 'store');
    const taskQueue = uniqueName('enospc-store');
    suite.workers.push(await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(fixture.stacks({ store: 'fs', fsPath: store })) }));
    const handle = await startBackup(fixture.temporal.client, { stack: 'prod', components: ['postgres'], prune: false }, { taskQueue });
    const failure = await handle.result().then(() => assert.fail('the backup succeeded on a full disk'), (error: Error) => error);
    let message = '';
    for (let at: Error | undefined = failure; at; at = at.cause as Error | undefined) message += ` ${at.message}`;
    assert.match(message, /ENOSPC/);
    assert.ok(message.includes(store), `the failure does not name the store ${store}: ${message}`);
    const dump = await activityAttempts(fixture.temporal.client, handle.workflowId, 'dumpPostgres');
    assert.deepEqual(dump.started, [1], 'the dump was retried');
    // Whole small artifacts written before the dump (the roles script) may stay, like any
    // backup's without a manifest (prune sweeps them); neither the dump nor a partial file may.
    const left = await filesUnder(store).catch(() => []);
    assert.deepEqual(left.filter((file) => /manifest|\.dump|\.partial$/.test(file)), [], `left in the store: ${left.join(', ')}`);
  });

  test('local-disk drill whose temp dir has no room: fails at once naming ENOSPC, before downloading anything', async () => {
    const { fixture } = suite;
    const tempDir = join(tmpfs, 'drill');
    await mkdir(tempDir, { recursive: true });
    await rm(join(tmpfs, 'store'), { recursive: true, force: true });
    const stacks = fixture.stacks({ store: 's3', prefix: 'enospc/' }) as { stacks: { prod: Record<string, unknown> } };
    stacks.stacks.prod.drill = { localDisk: true, jobs: 2, tempDir };
    const taskQueue = uniqueName('enospc-drill');
    suite.workers.push(await startWorker({ address: fixture.temporal.address, taskQueue, stacksText: stringify(stacks) }));
    const client = fixture.temporal.client;
    const { backupId } = await (await startBackup(client, { stack: 'prod', components: ['postgres'], prune: false }, { taskQueue })).result();
    const workflowId = uniqueName('drill-enospc');
    const handle = await client.workflow.start('verifyBackup', { taskQueue, workflowId, args: [{ stack: 'prod', backupId, depth: 'restore' }] });
    await handle.result().then(() => assert.fail('the drill passed without room for its dump'), () => undefined);
    const drill = await activityAttempts(client, workflowId, 'drillPostgresRestore');
    assert.deepEqual(drill.started, [1], 'the drill was retried');
    assert.equal(drill.failures.length, 1);
    assert.match(String(drill.failures[0]?.message), /ENOSPC/);
    assert.ok(String(drill.failures[0]?.message).includes(tempDir), drill.failures[0]?.message ?? '');
    assert.deepEqual(await filesUnder(tempDir), [], 'drill files left in the temp dir');
  });
});
