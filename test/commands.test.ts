import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pgDumpCommand, pgRestoreCommand, pgToolVersionCommand } from '../src/activities/postgres/commands.js';
import { compareCounts } from '../src/activities/postgres/restore.js';
import { isOwnedCollection, isOwnedDatabase } from '../src/core/runNames.js';
import { formatBytes, mibPerSecond } from '../src/core/format.js';
import { backupKeys, backupIdPattern } from '../src/core/storeKeys.js';
import { backupIdOf, ownedCollectionName, ownedDatabaseName, RUN_TAG } from '../src/core/runNames.js';
import { newRunTag } from '../src/activities/plan/runTag.js';

// A generated password, so the assertions below look for a value nothing else could contain.
const password = randomBytes(12).toString('hex');
const connection = { name: 'app', host: 'db.internal', port: 5433, database: 'shop', user: 'backup', password, sslmode: 'require' as const };

describe('pg_dump argv', () => {
  test('custom format at the exported snapshot; the password only in the environment', () => {
    const command = pgDumpCommand(connection, '00000003-0000001B-1');
    assert.deepEqual(command.argv, [
      'pg_dump',
      '--format=custom',
      '--snapshot=00000003-0000001B-1',
      '--host=db.internal',
      '--port=5433',
      '--username=backup',
      '--no-password',
      '--dbname=shop',
    ]);
    assert.equal(command.env?.PGPASSWORD, password);
    assert.equal(command.env?.PGSSLMODE, 'require');
    assert.ok(!command.argv.join(' ').includes(password));
    assert.ok(!command.purpose.includes(password));
  });

  test('a binary directory is honoured and a bad snapshot id refused', () => {
    assert.equal(pgDumpCommand(connection, '00000003-0000001B-1', '/usr/lib/postgresql/16/bin/').argv[0], '/usr/lib/postgresql/16/bin/pg_dump');
    assert.throws(() => pgDumpCommand(connection, '1; rm -rf /'), /not a snapshot id/);
    assert.deepEqual(pgToolVersionCommand('pg_restore').argv, ['pg_restore', '--version']);
  });
});

describe('backup ids and keys', () => {
  test('made of the start time and the run tag, sortable by time', () => {
    const id = backupIdOf(new Date('2026-11-24T05:15:00.123Z'), '2e3f4a5b');
    assert.equal(id, '20261124T051500Z-2e3f4a5b');
    assert.throws(() => backupIdOf(new Date(), '0190a2b3-c4d5'), /not a run tag/);
    assert.match(id, backupIdPattern);
    assert.equal(backupKeys.postgresDump('prod', id, 'app'), 'prod/20261124T051500Z-2e3f4a5b/postgres/app.dump');
    assert.equal(backupKeys.qdrantSnapshot('prod', id, 'docs'), 'prod/20261124T051500Z-2e3f4a5b/qdrant/docs.snapshot');
    assert.equal(backupKeys.manifest('prod', id), 'prod/20261124T051500Z-2e3f4a5b/manifest.json');
  });

  test('figures for the report', () => {
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
    assert.equal(mibPerSecond(10 * 1048576, 2000), 5);
  });
});

describe('pg_restore argv', () => {
  test('streamed from stdin, or from a file with parallel jobs; never the password', () => {
    const streamed = pgRestoreCommand({ ...connection, database: 'ragops_drill_0190a2b3_app' }, 'stdin');
    assert.deepEqual(streamed.argv, [
      'pg_restore',
      '--exit-on-error',
      '--no-owner',
      '--no-privileges',
      '--host=db.internal',
      '--port=5433',
      '--username=backup',
      '--no-password',
      '--dbname=ragops_drill_0190a2b3_app',
    ]);
    const parallel = pgRestoreCommand(connection, { file: '/tmp/x/dump', jobs: 4 });
    assert.deepEqual(parallel.argv.slice(-2), ['--jobs=4', '/tmp/x/dump']);
    assert.equal(parallel.env?.PGPASSWORD, password);
    assert.ok(!parallel.argv.join(' ').includes(password));
  });
});

describe('restore checks', () => {
  test('counts must match the manifest exactly, table by table, both ways', () => {
    assert.equal(compareCounts({ 'public.a': 3, 'public.b': 0 }, { 'public.b': 0, 'public.a': 3 }).passed, true);
    const off = compareCounts({ 'public.a': 3, 'public.gone': 1 }, { 'public.a': 2, 'public.extra': 5 });
    assert.equal(off.passed, false);
    assert.deepEqual(off.mismatches, [
      'public.a: manifest 3, restored 2',
      'public.extra: manifest absent, restored 5',
      'public.gone: manifest 1, restored absent',
    ]);
  });

  test('only databases and collections named for a ragops run may be dropped', () => {
    for (const name of ['ragops_drill_0190a2b3_app', 'ragops_restore_0190a2b3_app_db', 'ragops_old_0190a2b3_app']) {
      assert.ok(isOwnedDatabase(name), name);
    }
    for (const name of ['app', 'ragops_drill_app', 'ragops_drill_0190a2b3_', 'postgres', 'ragops_t_backup_1']) {
      assert.ok(!isOwnedDatabase(name), name);
    }
    assert.ok(isOwnedCollection('ragops_drill_0190a2b3_docs_v1_u'));
    assert.ok(!isOwnedCollection('docs_v1'));
  });
});

describe('run tags', () => {
  test('fresh for every execution, and valid in every run-owned name', () => {
    const tags = new Set(Array.from({ length: 2000 }, () => newRunTag()));
    assert.equal(tags.size, 2000);
    for (const tag of tags) {
      assert.match(tag, RUN_TAG);
      assert.ok(isOwnedDatabase(ownedDatabaseName('drill', tag, 'app')));
      assert.ok(isOwnedCollection(ownedCollectionName(tag, 'docs_v1', 'u')));
    }
  });
});
