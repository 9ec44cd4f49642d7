// Point-in-time recovery through the runbooks: `backup` drives pgBackRest against a cluster of
// the test's own (archive_mode on, a posix repository, the cluster's OS user), `verifyBackup`
// verifies and drills to a chosen second in a scratch server, `restore` recovers into a new
// directory and port. The Temporal dev server and the real pgBackRest, PostgreSQL and pg_ctl.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { OWNED_PITR_DIR } from '../src/core/runNames.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup, startRestore, startVerify } from '../src/client/api/runbooks.js';
import { manifestSchema, type Manifest } from '../src/config/manifest.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import type { RestoreReport } from '../src/workflows/restore.js';
import { infoCommand } from '../src/activities/pgbackrest/commands.js';
import { parsePgbackrestInfo } from '../src/activities/pgbackrest/info.js';
import { startTestTemporal, exportHistoryJson, type TestTemporal } from './support/temporal.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startPitrStack, processesMentioning, type PitrStack } from './support/pitr-stack.js';
import { runTagsOf } from './support/run-tags.js';
import { stringify } from 'yaml';

const STANZA = 'pitr-flow';

describe('point-in-time recovery through backup, verifyBackup and restore', { timeout: 600_000 }, () => {
  let temporal: TestTemporal;
  let stack: PitrStack;
  let worker: RunningWorker;
  let store: { path: string; remove(): Promise<void> };
  const taskQueue = uniqueName('pitr');
  const events: Array<{ body: string; at: Date }> = [];
  const manifests: Manifest[] = [];

  const readManifest = async (report: BackupReport) => manifestSchema.parse(JSON.parse(await readFile(join(store.path, report.manifestKey), 'utf8')));
  const backUp = async (input: Record<string, unknown>) => {
    const report = await (await startBackup(temporal.client, { stack: 'prod', components: ['pgbackrest'], ...input }, { taskQueue })).result();
    const manifest = await readManifest(report);
    manifests.push(manifest);
    return { report, manifest };
  };
  const drillRuns: Array<{ workflowId: string; runId: string }> = [];
  const drill = async (input: Record<string, unknown>) => {
    const handle = await startVerify(temporal.client, { stack: 'prod', depth: 'restore', ...input }, { taskQueue });
    drillRuns.push({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId });
    return handle;
  };
  /** The run tags of this file's drills: the data lane's dr-pitr drills in the same temp dir at the same time. */
  const drillTags = async () => new Set((await Promise.all(drillRuns.map((run) => runTagsOf(temporal.client, run.workflowId, run.runId)))).flatMap((tags) => [...tags]));
  const info = async () => parsePgbackrestInfo((await stack.pitr.run(infoCommand(stack.pitr.invocation))).stdout, STANZA);
  const scratchDirs = async (tags: Set<string>) => (await readdir(tmpdir())).filter((name) => tags.has(OWNED_PITR_DIR.exec(name)?.[1] ?? ''));

  before(async () => {
    temporal = await startTestTemporal();
    stack = await startPitrStack(STANZA);
    store = await tempDir('pitrstore');
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify({ stacks: { prod: stack.stack({ type: 'fs', path: store.path }) } }) });
  });
  after(async () => {
    await worker?.stop();
    await stack?.stop();
    await store?.remove();
    await temporal?.stop();
  });

  test('an incremental backup with no full backup yet is made full by pgBackRest, and the manifest says so', async () => {
    const { report, manifest } = await backUp({ physicalType: 'incr' });
    const [physical] = manifest.physical ?? [];
    assert.ok(physical, JSON.stringify(manifest));
    assert.equal(manifest.artifacts.length, 0, 'only the physical backup was asked for');
    assert.deepEqual([physical.requestedType, physical.type, physical.priorLabel], ['incr', 'full', undefined]);
    assert.match(physical.label, /^[0-9]{8}-[0-9]{6}F$/);
    assert.equal(physical.stanza, STANZA);
    assert.ok(physical.lsn.start <= physical.lsn.stop && physical.wal.start <= physical.wal.stop);
    assert.ok(physical.sizes.databaseBytes > 1_000_000, JSON.stringify(physical.sizes));
    assert.equal(physical.postgresVersion, '15');
    assert.deepEqual((await info()).backups.map((backup) => backup.label), [physical.label]);
    assert.deepEqual(report.physical?.[0]?.expire && 'expired' in report.physical[0].expire ? report.physical[0].expire.expired : 'no expire', []);
  });

  test('rows over a minute with WAL switches, an incr, more rows: drills to a second between two inserts recover exactly the rows before it', async () => {
    const db = await stack.connect();
    try {
      for (let i = 1; i <= 6; i++) {
        events.push({ body: `before the incr ${i}`, at: await stack.insertEvent(db, `before the incr ${i}`) });
        await sleep(10_000);
      }
      const { manifest } = await backUp({ physicalType: 'incr' });
      const incr = manifest.physical![0]!;
      assert.deepEqual([incr.requestedType, incr.type, incr.priorLabel], ['incr', 'incr', manifests[0]!.physical![0]!.label]);
      for (let i = 1; i <= 3; i++) {
        await sleep(3_000);
        events.push({ body: `after the incr ${i}`, at: await stack.insertEvent(db, `after the incr ${i}`) });
      }
      await stack.insertEvent(db, 'the archive reaches past the last target');
    } finally {
      await db.end();
    }
    const between = (k: number) => new Date((events[k - 1]!.at.getTime() + events[k]!.at.getTime()) / 2);

    // From the full backup, replaying the WAL archived after it: 3 of the 6 rows before the incr.
    const fromFull = await drill({ backupId: manifests[0]!.backupId, at: between(3).toISOString() });
    const first = (await fromFull.result()) as VerifyReport;
    assert.equal(first.passed, true, JSON.stringify(first.checks));
    const counts = first.checks.find((check) => check.name === 'row counts')!;
    assert.equal((counts.figures.tables as Record<string, number>)['public.events'], 3, JSON.stringify(counts));
    const point = first.checks.find((check) => check.name === 'recovered point')!;
    assert.equal(point.figures.recoveredPoint, events[2]!.at.toISOString(), JSON.stringify(point));
    assert.equal(point.figures.measuredRpoSeconds, Math.round((between(3).getTime() - events[2]!.at.getTime()) / 1000));
    const evidence = JSON.parse(await readFile(join(store.path, first.evidenceKey), 'utf8'));
    assert.equal(evidence.checks.find((check: { name: string }) => check.name === 'recovered point').figures.recoveredPoint, events[2]!.at.toISOString());

    // Without a backupId: the newest backup that ended before the target (the incr), then WAL: 8 rows.
    const fromIncr = (await (await drill({ at: between(8).toISOString() })).result()) as VerifyReport;
    assert.equal(fromIncr.backupId, manifests[1]!.backupId);
    assert.equal((fromIncr.checks.find((check) => check.name === 'row counts')!.figures.tables as Record<string, number>)['public.events'], 8);
    const tags = await drillTags();
    assert.equal(tags.size, 2, 'each drill has its run tag');
    assert.deepEqual(await scratchDirs(tags), [], 'the scratch directories are removed');
    assert.deepEqual((await processesMentioning('ragops-pitr-')).filter((line) => [...tags].some((tag) => line.includes(`ragops-pitr-${tag}-`))), [], 'no scratch server keeps running');
  });

  test('a target before the chosen backup ended is refused before anything runs; one past the archive\'s end is inconclusive, saying where the archive ends', async () => {
    const handle = await drill({ backupId: manifests[1]!.backupId, at: events[0]!.at.toISOString() });
    await assert.rejects(handle.result(), (error: Error) => /is before physical backup .* ended/.test(String((error as { cause?: Error }).cause?.message ?? error.message)));
    const future = await drill({ backupId: manifests[1]!.backupId, at: new Date(Date.now() + 3_600_000).toISOString() });
    await assert.rejects(future.result(), (error: Error) => {
      const cause = (error as { cause?: { type?: string; message?: string } }).cause;
      return cause?.type === 'DrillInconclusive' && /the WAL archive does not reach the target: its last transaction is at/.test(cause.message ?? '');
    });
    assert.deepEqual(await scratchDirs(await drillTags()), []);
  });

  test('restore at a time into a new directory and port: the recovered server answers with the rows before it; the running cluster is untouched', async () => {
    const dir = await tempDir('pitrinto');
    await chmod(dir.path, 0o755); // the cluster's OS user makes its data directory in it
    const dataDirectory = join(dir.path, 'data');
    const port = await findFreePort();
    const before = await stack.connect();
    const originalCount = Number((await before.query('SELECT count(*) AS n FROM events')).rows[0].n);
    await before.end();
    try {
      const at = new Date((events[3]!.at.getTime() + events[4]!.at.getTime()) / 2).toISOString();
      const report = (await (await startRestore(temporal.client, { stack: 'prod', components: ['postgres'], at, postgres: { app: { into: { dataDirectory, port } } } }, { taskQueue })).result()) as RestoreReport;
      const recovered = report.physical?.[0];
      assert.ok(recovered, JSON.stringify(report));
      assert.equal(recovered.port, port);
      assert.equal(recovered.tables['public.events'], 4);
      const { stdout } = await execa('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', stack.database, '-Atc', 'SELECT count(*) FROM events'], { env: { PGPASSWORD: stack.password.value } });
      assert.equal(stdout.trim(), '4');
      const after = await stack.connect();
      assert.equal(Number((await after.query('SELECT count(*) AS n FROM events')).rows[0].n), originalCount, 'the original keeps every row');
      await after.end();
      const refused = await startRestore(temporal.client, { stack: 'prod', at, postgres: { app: { into: { dataDirectory, port: await findFreePort() } } } }, { taskQueue });
      await assert.rejects(refused.result(), (error: Error) => /not empty/.test(JSON.stringify(error, Object.getOwnPropertyNames(error)) + String((error as { cause?: { cause?: Error } }).cause?.cause?.message)));
    } finally {
      await execa('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', dataDirectory, '-m', 'immediate', 'stop'], { reject: false });
      await dir.remove();
    }
  });

  test('a flipped byte in a backup file: the verify depth fails naming it, and expire keeps the previous good full backup', async () => {
    const good = manifests[0]!;
    const checked = (await (await startVerify(temporal.client, { stack: 'prod', backupId: good.backupId, depth: 'checksum' }, { taskQueue })).result()) as VerifyReport;
    assert.equal(checked.passed, true, JSON.stringify(checked.checks));

    const { manifest: second } = await backUp({ physicalType: 'full' });
    const bad = second.physical![0]!;
    const expire = bad.expire!;
    assert.ok('expired' in expire && expire.protecting === good.physical![0]!.label && expire.retentionFull === 2, JSON.stringify(expire));
    const { stdout: files } = await execa('find', [join(stack.pitr.repositoryPath, 'backup', STANZA, bad.label, 'pg_data', 'base'), '-type', 'f', '-size', '+8k']);
    const victim = files.split('\n')[0]!;
    const bytes = await readFile(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(victim, bytes);

    const failed = await startVerify(temporal.client, { stack: 'prod', backupId: second.backupId, depth: 'checksum' }, { taskQueue });
    const failure = await failed.result().then(() => undefined, (error: unknown) => error as Error);
    assert.ok(failure, 'the drill fails');
    const history = await exportHistoryJson(temporal.client, failed.workflowId);
    assert.ok(history.includes(`invalid checksum '${bad.label}/${victim.split(`/${bad.label}/`)[1]}'`), 'the evidence names the corrupted file');

    const { manifest: third } = await backUp({ physicalType: 'incr' });
    const kept = third.physical![0]!.expire!;
    assert.ok('expired' in kept && kept.protecting === good.physical![0]!.label, JSON.stringify(kept));
    assert.ok((await info()).backups.some((backup) => backup.label === good.physical![0]!.label), 'the good full backup is still in the repository');
  });

  test('no repository secret (the cipher pass, the database password) is in any run\'s history', async () => {
    const { executions } = await temporal.connection.workflowService.listWorkflowExecutions({ namespace: 'default', pageSize: 100 });
    assert.ok(executions.length >= 8);
    for (const execution of executions) {
      const history = await exportHistoryJson(temporal.client, execution.execution!.workflowId!);
      assert.ok(!history.includes(stack.pitr.cipherPass.value), `${execution.execution!.workflowId} holds the cipher pass`);
      assert.ok(!history.includes(stack.password.value), `${execution.execution!.workflowId} holds the password`);
    }
  });
});
