// The real pgBackRest (Debian's) against a PostgreSQL cluster of the test's own that archives
// its WAL through the archive_command ragops prints, with the config ragops renders.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  backupCommand,
  checkCommand,
  expireCommand,
  infoCommand,
  stanzaCreateCommand,
  verifyCommand,
} from '../src/activities/pgbackrest/commands.js';
import { parsePgbackrestInfo } from '../src/activities/pgbackrest/info.js';
import { parsePgbackrestVerify } from '../src/activities/pgbackrest/verify.js';
import { achievableRpo } from '../src/core/pgbackrest.js';
import { startArchivingCluster, type ArchivingCluster } from './support/pgbackrest.js';

const STANZA = 'ragops-test';

describe('pgBackRest against a cluster of the test\'s own', { timeout: 120_000 }, () => {
  let pitr: ArchivingCluster;
  before(async () => {
    pitr = await startArchivingCluster(STANZA);
  });
  after(async () => {
    await pitr?.stop();
  });

  test('stanza-create, check, a full then an incr backup: info lists both, chained, with their WAL range', async () => {
    const started = new Date();
    const stanzaCreate = stanzaCreateCommand(pitr.invocation);
    const check = checkCommand(pitr.invocation);
    const full = backupCommand(pitr.invocation, { type: 'full', startFast: true });
    const incr = backupCommand(pitr.invocation, { type: 'incr', startFast: true });
    const info = infoCommand(pitr.invocation);
    for (const spec of [stanzaCreate, check, full, incr, info]) {
      assert.ok(!spec.argv.some((arg) => arg.includes(pitr.cipherPass.value)), `${spec.purpose}: the cipher pass is in argv`);
      assert.equal(spec.env, undefined);
    }
    await pitr.run(stanzaCreate);
    const before = parsePgbackrestInfo((await pitr.run(info)).stdout, STANZA);
    assert.deepEqual([before.status, before.backups], [{ code: 2, message: 'no valid backups' }, []]);
    await pitr.run(check);
    const db = await pitr.cluster.connect();
    try {
      await db.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp())');
      await db.query("INSERT INTO notes (body) SELECT 'before the full backup ' || g FROM generate_series(1, 100) g");
      await pitr.run(full);
      await db.query("INSERT INTO notes (body) SELECT 'before the incr backup ' || g FROM generate_series(1, 100) g");
      await pitr.run(incr);

      const { stdout } = await pitr.run(info);
      assert.equal(JSON.parse(stdout)[0].cipher, 'aes-256-cbc', 'the repository is encrypted with the rendered cipher pass');
      const parsed = parsePgbackrestInfo(stdout, STANZA);
      assert.deepEqual(parsed.status, { code: 0, message: 'ok' });
      assert.equal(parsed.backups.length, 2);
      const [fullBackup, incrBackup] = [parsed.backups[0]!, parsed.backups[1]!];
      assert.equal(fullBackup.type, 'full');
      assert.match(fullBackup.label, /^[0-9]{8}-[0-9]{6}F$/);
      assert.equal(fullBackup.priorLabel, undefined);
      assert.equal(incrBackup.type, 'incr');
      assert.equal(incrBackup.priorLabel, fullBackup.label);
      assert.match(incrBackup.label, new RegExp(`^${fullBackup.label}_[0-9]{8}-[0-9]{6}I$`));
      for (const backup of parsed.backups) {
        assert.ok(new Date(backup.startedAt) >= new Date(Math.floor(started.getTime() / 1000) * 1000), `${backup.label} started ${backup.startedAt}`);
        assert.ok(backup.stoppedAt >= backup.startedAt);
        assert.ok(backup.wal.start <= backup.wal.stop, JSON.stringify(backup.wal));
        assert.ok(backup.sizes.databaseBytes > 1_000_000 && backup.sizes.repositoryBytes > 0, JSON.stringify(backup.sizes));
        assert.equal(backup.pageChecksumErrors, false);
      }
      assert.ok(incrBackup.sizes.deltaBytes < fullBackup.sizes.deltaBytes, 'the incr copies only what changed');
      assert.ok(incrBackup.wal.start > fullBackup.wal.stop);
      assert.ok(parsed.archive && parsed.archive.maxWal >= incrBackup.wal.stop, JSON.stringify(parsed.archive));

      const archiver = await db.query<{ last_archived_time: Date | null; last_archived_wal: string | null }>('SELECT last_archived_time, last_archived_wal FROM pg_stat_archiver');
      const lastArchivedAt = archiver.rows[0]?.last_archived_time ?? undefined;
      assert.ok(lastArchivedAt, 'the server archived WAL through archive-push');
      const rpo = achievableRpo(new Date(), { lastArchivedAt, info: parsed });
      assert.ok(rpo && rpo.seconds < 120, JSON.stringify(rpo));
    } finally {
      await db.end();
    }
  });

  test('verify reads the repository back cleanly; expire with nothing to expire succeeds', async () => {
    const verified = await pitr.run(verifyCommand(pitr.invocation));
    const clean = parsePgbackrestVerify(verified.stdout, verified.stderr);
    assert.equal(clean.status, 'ok', verified.stdout);
    assert.deepEqual(clean.backups.map((backup) => [backup.status, backup.filesChecked === backup.filesValid]), [['valid', true], ['valid', true]]);
    assert.deepEqual(clean.problems, []);
    await pitr.run(expireCommand(pitr.invocation));
    const info = parsePgbackrestInfo((await pitr.run(infoCommand(pitr.invocation))).stdout, STANZA);
    assert.equal(info.backups.length, 2, 'retention-full=2 keeps the one full backup and its incr');
  });

  test('verify: a flipped byte in a backup file makes the status "error" — but pgBackRest still exits 0', async () => {
    const fullLabel = parsePgbackrestInfo((await pitr.run(infoCommand(pitr.invocation))).stdout, STANZA).backups[0]!.label;
    const { stdout: files } = await execa('find', [join(pitr.repositoryPath, 'backup', STANZA, fullLabel, 'pg_data', 'base'), '-type', 'f', '-size', '+8k']);
    const victim = files.split('\n')[0]!;
    const bytes = await readFile(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(victim, bytes);
    const verified = await pitr.run(verifyCommand(pitr.invocation)); // exit code 0
    const result = parsePgbackrestVerify(verified.stdout, verified.stderr);
    assert.equal(result.status, 'error');
    assert.deepEqual(result.backups.map((backup) => [backup.label.startsWith(fullLabel), backup.status, backup.checksumInvalid]), [[true, 'invalid', 1], [true, 'invalid', 1]]);
    assert.deepEqual(result.problems, [`invalid checksum '${fullLabel}/${victim.split(`/${fullLabel}/`)[1]}'`]);
  });
});
