// A disasterRecovery drill of a database that has only a physical (pgBackRest) backup: the
// drill stack's `app` has a cluster of its own (physical.pgData, a port), so the drill recovers
// production's backup from production's repository into that empty directory, replaying the
// archive to its end with archiving off — rows committed after the backup included — and tears
// it down afterwards (server stopped, directory removed). Production's cluster keeps running
// untouched (same postmaster, same rows), and its repository gets no WAL from the drill.
// pgBackRest and PostgreSQL are real (a cluster of the test's own).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { chmod, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { checkCommand } from '../src/activities/pgbackrest/commands.js';
import { probeTcp } from '../src/activities/runtime/tcp.js';
import { startBackup, startDisasterRecovery } from '../src/client/api/runbooks.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { startCheckServer, type CheckServer } from './support/check-server.js';
import { processesMentioning, startPitrStack, type PitrStack } from './support/pitr-stack.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

/** Every file name in the repository's WAL archive (segments, history files), recursively. */
async function archivedFiles(repositoryPath: string): Promise<string[]> {
  const entries = await readdir(join(repositoryPath, 'archive'), { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
}

/** The archive holds production's timeline 1 only: no segment and no history file of a drill's promoted timeline. */
function assertOnlyTimelineOne(files: string[]): void {
  const segments = files.filter((name) => /^[0-9A-F]{24}/.test(name));
  assert.ok(segments.length > 0, `the archive holds WAL segments: ${files.join(', ')}`);
  const foreign = files.filter((name) => name.endsWith('.history') || (/^[0-9A-F]{24}/.test(name) && !name.startsWith('00000001')));
  assert.deepEqual(foreign, [], 'the drill pushed no WAL (no new timeline) into production\'s repository');
}

const postmasterPid = async (dataDir: string) => Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);

describe('disasterRecovery drill of a database with only a physical backup', { timeout: 600_000 }, () => {
  let temporal: TestTemporal;
  let stack: PitrStack;
  let checks: CheckServer;
  let worker: RunningWorker;
  let store: { path: string; remove(): Promise<void> };
  let drillStore: { path: string; remove(): Promise<void> };
  let drillRoot: { path: string; remove(): Promise<void> };
  let drillData: string;
  let drillPort: number;
  let lastCommit = new Date(0);
  let productionPid = 0;
  const taskQueue = uniqueName('dr-pitr-drill');
  const bodies = ['before the backup', 'after the backup 1', 'after the backup 2', 'after the backup 3'];

  before(async () => {
    temporal = await startTestTemporal();
    stack = await startPitrStack('dr-pitr-drill');
    checks = await startCheckServer();
    store = await tempDir('drpitrdrillstore');
    drillStore = await tempDir('drpitrdrillstore2');
    // The drill cluster's directory: absent, under a ragops-owned temp dir the postgres OS user can traverse.
    drillRoot = await tempDir('drpitrdrillpg');
    await chmod(drillRoot.path, 0o755);
    drillData = join(drillRoot.path, 'pgdata');
    drillPort = await findFreePort();
    const prod = stack.stack({ type: 'fs', path: store.path }, { dr: { targets: { rtoMinutes: 30, rpoMinutes: 5 }, drillStack: 'drill', validation: { checks: [{ url: checks.url('/health'), timeoutSeconds: 5, intervalMs: 200 }] } } });
    const [app] = (prod.postgres as Array<Record<string, unknown>>);
    const drill = {
      postgres: [{ ...app, port: drillPort, physical: { stanza: 'drill-own', pgData: drillData, osUser: 'postgres' } }],
      store: { type: 'fs', path: drillStore.path },
    };
    // Drill stacks that would touch production's cluster, or give the database no cluster at all.
    const { dataDir, port: productionPort } = stack.pitr.cluster;
    const otherPort = await findFreePort();
    const sameDir = { postgres: [{ ...app, port: otherPort, physical: { stanza: 'drill-own', pgData: dataDir, osUser: 'postgres' } }], store: { type: 'fs', path: drillStore.path } };
    const samePort = { postgres: [{ ...app, host: 'localhost', physical: { stanza: 'drill-own', pgData: join(drillRoot.path, 'other'), osUser: 'postgres' } }], store: { type: 'fs', path: drillStore.path } };
    const { physical: _none, ...logicalOnly } = app as { physical: unknown };
    const noCluster = { postgres: [{ ...logicalOnly, port: otherPort }], store: { type: 'fs', path: drillStore.path } };
    assert.equal(app!.port, productionPort, "same-port keeps production's port");
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify({ stacks: { prod, drill, 'same-dir': sameDir, 'same-port': samePort, 'no-cluster': noCluster } }) });

    // A physical backup only, then rows committed after it (each one's WAL archived).
    const db = await stack.connect();
    await stack.insertEvent(db, bodies[0]!);
    await db.end();
    await (await startBackup(temporal.client, { stack: 'prod', components: ['pgbackrest'], physicalType: 'full' }, { taskQueue })).result();
    const later = await stack.connect();
    for (const body of bodies.slice(1)) lastCommit = await stack.insertEvent(later, body);
    await later.end();
    productionPid = await postmasterPid(stack.pitr.cluster.dataDir);
  });
  after(async () => {
    await worker?.stop();
    // Only if a test failed half-way: the drill cluster this file started.
    await execa('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', drillData, 'stop', '-m', 'immediate', '-w']).catch(() => undefined);
    await drillRoot?.remove();
    await drillStore?.remove();
    await checks?.stop();
    await stack?.stop();
    await store?.remove();
    await temporal?.stop();
  });

  /** Production as it was: the same postmaster, the same rows; its repository passes check with no drill WAL in it. */
  const assertProductionUntouched = async () => {
    assert.equal(await postmasterPid(stack.pitr.cluster.dataDir), productionPid, 'production\'s postmaster is the one that ran before the drill');
    const db = await stack.connect();
    try {
      const { rows } = await db.query<{ body: string }>('SELECT body FROM events ORDER BY id');
      assert.deepEqual(rows.map((row) => row.body), bodies);
    } finally {
      await db.end();
    }
    assertOnlyTimelineOne(await archivedFiles(stack.pitr.repositoryPath));
  };

  test('drill stacks refused before anything is touched: one sharing production\'s data directory or host:port, one with no cluster for a physical-only backup', async () => {
    const refusal = async (into: string) => {
      const handle = await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'drill', into, approve: 'auto', allowUnverified: true }, { taskQueue });
      const error = await handle.result().then(() => undefined, (failed: Error) => failed);
      assert.ok(error, `a drill into ${into} was refused`);
      let message = '';
      for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) message += `${cause.message}\n`;
      return message;
    };
    assert.match(await refusal('same-dir'), new RegExp(`shares the data directory ${stack.pitr.cluster.dataDir} \\(production's cluster app`));
    assert.match(await refusal('same-port'), new RegExp(`shares the cluster on localhost:${stack.pitr.cluster.port} \\(production's app is 127\\.0\\.0\\.1:${stack.pitr.cluster.port}\\)`));
    assert.match(await refusal('no-cluster'), /the backup holds only a physical backup, and stack "no-cluster" gives app no cluster of its own to recover it into/);
    await assertProductionUntouched();
  });

  test('drill: production\'s physical backup recovered into the drill stack\'s own cluster to the end of the archive, then stopped and removed', async () => {
    const incidentAt = new Date().toISOString();
    const report = (await (await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'drill', approve: 'auto', allowUnverified: true, incidentAt }, { taskQueue })).result()) as DrReport;
    assert.equal(report.outcome, 'drilled', JSON.stringify(report.failure ?? report.phases));
    assert.equal(report.targetStack, 'drill');
    const planned = report.phasePlan!.find((entry) => entry.phase === 'restore data')!.what;
    assert.match(planned, new RegExp(`drill cluster in ${drillData} on port ${drillPort}, recovered from production's pgBackRest repository to the end of the archive, archiving off`));

    // While it ran, the drill cluster held every production row, those committed after the backup too.
    const clusters = report.restores.flatMap((restore) => restore.clusters ?? []);
    assert.equal(clusters.length, 1, JSON.stringify(report.restores));
    assert.equal(clusters[0]!.dataDirectory, drillData);
    assert.equal(clusters[0]!.port, drillPort);
    assert.equal(clusters[0]!.tables['public.events'], bodies.length);
    assert.ok(Date.parse(clusters[0]!.recoveredPoint!) >= lastCommit.getTime() - 1000, `recovered to ${clusters[0]!.recoveredPoint}, last commit ${lastCommit.toISOString()}`);
    assert.match(Object.entries(report.components).find(([name]) => name.startsWith('postgres app'))![1], /^recovered to /);
    // RPO from the recovered point, not the backup's age.
    assert.ok(Date.parse(report.rpo!.dataAsOf) >= lastCommit.getTime() - 1000, `RPO data as of ${report.rpo!.dataAsOf}, last commit ${lastCommit.toISOString()}`);
    assert.ok(report.rpo!.seconds < 60 && report.rpo!.met, JSON.stringify(report.rpo));

    // Torn down: the server stopped, the directory this drill created removed, and said so.
    const line = (report.teardown ?? []).find((entry) => entry.startsWith('cluster app'));
    assert.ok(line, JSON.stringify(report.teardown));
    assert.match(line, /server stopped \(pg_ctl -m fast.*\); data directory removed \(this drill's restore created it/);
    assert.equal((await probeTcp('127.0.0.1', drillPort, 2000)).state === 'answers', false, 'the drill cluster\'s port answers no more');
    await assert.rejects(stat(drillData), { code: 'ENOENT' });
    assert.deepEqual(await processesMentioning(drillData), []);

    await assertProductionUntouched();
    await stack.pitr.run(checkCommand(stack.pitr.invocation));
  });

  test('drill with keep: the drill cluster answers on its own port with production\'s rows and archives nothing; production untouched', async () => {
    const report = (await (await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'drill', approve: 'auto', allowUnverified: true, keep: true }, { taskQueue })).result()) as DrReport;
    assert.equal(report.outcome, 'drilled', JSON.stringify(report.failure ?? report.phases));
    assert.equal(report.teardown, undefined, 'keep: nothing torn down');
    const client = new pg.Client({ host: '127.0.0.1', port: drillPort, user: 'postgres', password: stack.password.value, database: stack.database });
    await client.connect();
    try {
      const { rows } = await client.query<{ body: string }>('SELECT body FROM events ORDER BY id');
      assert.deepEqual(rows.map((row) => row.body), bodies);
      const { rows: archiving } = await client.query<{ archive_mode: string }>('SHOW archive_mode');
      assert.equal(archiving[0]!.archive_mode, 'off', 'a drill cluster never archives into production\'s repository');
      // A write on the drill's own timeline, and a WAL switch that would be archived if archiving were on.
      await client.query("INSERT INTO events (body) VALUES ('written in the drill')");
      await client.query('SELECT pg_switch_wal()');
    } finally {
      await client.end();
    }
    await execa('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', drillData, 'stop', '-m', 'fast', '-w']);
    await rm(drillData, { recursive: true, force: true });

    await assertProductionUntouched();
    await stack.pitr.run(checkCommand(stack.pitr.invocation));
    assertOnlyTimelineOne(await archivedFiles(stack.pitr.repositoryPath));
  });
});
