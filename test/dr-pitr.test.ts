// disasterRecovery of a database with physical backups and WAL archiving: after the cluster is
// lost (server killed, data directory wiped), the recovery brings it back from pgBackRest's
// repository into its own directory and port, replaying the archive to its end, archiving as
// before — so rows committed after the backup are back, and the RPO is seconds, not the
// backup's age. pgBackRest and PostgreSQL are real (a cluster of the test's own).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startBackup, startDisasterRecovery, startVerify } from '../src/client/api/runbooks.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { startCheckServer, type CheckServer } from './support/check-server.js';
import { startPitrStack, type PitrStack } from './support/pitr-stack.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

describe('disasterRecovery of a cluster with WAL archiving', { timeout: 600_000 }, () => {
  let temporal: TestTemporal;
  let stack: PitrStack;
  let checks: CheckServer;
  let worker: RunningWorker;
  let store: { path: string; remove(): Promise<void> };
  const taskQueue = uniqueName('dr-pitr');

  before(async () => {
    temporal = await startTestTemporal();
    stack = await startPitrStack('dr-pitr');
    checks = await startCheckServer();
    store = await tempDir('drpitrstore');
    const prod = stack.stack({ type: 'fs', path: store.path }, { dr: { targets: { rtoMinutes: 30, rpoMinutes: 5 }, validation: { checks: [{ url: checks.url('/health'), timeoutSeconds: 5, intervalMs: 200 }] } } });
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify({ stacks: { prod } }) });
  });
  after(async () => {
    await worker?.stop();
    await checks?.stop();
    await stack?.stop();
    await store?.remove();
    await temporal?.stop();
  });

  test('the cluster lost after a backup: recovered to the end of the archive, rows committed after the backup included; RPO in seconds', async () => {
    const db = await stack.connect();
    await stack.insertEvent(db, 'before the backup');
    await db.end();
    const backup = await (await startBackup(temporal.client, { stack: 'prod', components: ['pgbackrest'], physicalType: 'full' }, { taskQueue })).result();
    assert.equal((await (await startVerify(temporal.client, { stack: 'prod', backupId: backup.backupId, depth: 'restore' }, { taskQueue })).result()).passed, true);
    const after = await stack.connect();
    let lastCommit = new Date(0);
    for (let i = 1; i <= 3; i++) lastCommit = await stack.insertEvent(after, `after the backup ${i}`);
    await after.end();

    // The disaster: the server killed and its data directory wiped.
    const { dataDir } = stack.pitr.cluster;
    await execa('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', dataDir, 'stop', '-m', 'immediate', '-w']);
    await rm(dataDir, { recursive: true, force: true });
    const incidentAt = new Date().toISOString();

    const report = (await (await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'recover', approve: 'auto', incidentAt }, { taskQueue })).result()) as DrReport;
    assert.equal(report.outcome, 'recovered', JSON.stringify(report.failure));
    const recovered = await stack.connect();
    try {
      const { rows } = await recovered.query<{ body: string }>('SELECT body FROM events ORDER BY id');
      assert.deepEqual(rows.map((row) => row.body), ['before the backup', 'after the backup 1', 'after the backup 2', 'after the backup 3']);
      const { rows: archiving } = await recovered.query<{ archive_mode: string }>('SHOW archive_mode');
      assert.equal(archiving[0]!.archive_mode, 'on', 'the recovered cluster archives as before');
    } finally {
      await recovered.end();
    }
    const component = Object.entries(report.components).find(([name]) => name.startsWith('postgres app'))!;
    assert.match(component[1], /^recovered to /);
    assert.ok(Date.parse(report.rpo!.dataAsOf) >= lastCommit.getTime() - 1000, `RPO data as of ${report.rpo!.dataAsOf}, last commit ${lastCommit.toISOString()}`);
    assert.ok(report.rpo!.seconds < 60 && report.rpo!.met, JSON.stringify(report.rpo));
  });
});
