import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePgbackrestInfo } from '../src/activities/pgbackrest/info.js';
import { parsePgbackrestVerify } from '../src/activities/pgbackrest/verify.js';
import { achievableRpo, type PgbackrestBackup, type PgbackrestStanzaInfo } from '../src/core/pgbackrest.js';
import {
  PGBACKREST_2_45_INFO_JSON,
  PGBACKREST_2_45_INFO_MISSING_STANZA_JSON,
  PGBACKREST_2_45_INFO_NO_BACKUP_JSON,
  PGBACKREST_2_45_VERIFY_CORRUPTED,
  PGBACKREST_2_45_VERIFY_NO_STANZA,
} from './support/pgbackrest-fixtures.js';

function backupStoppingAt(stoppedAt: string): PgbackrestBackup {
  return {
    label: '20261206-130000F',
    type: 'full',
    startedAt: '2026-12-06T13:00:00.000Z',
    stoppedAt,
    lsn: { start: '0/2000028', stop: '0/2000100' },
    wal: { start: '000000010000000000000002', stop: '000000010000000000000002' },
    sizes: { databaseBytes: 1, deltaBytes: 1, repositoryBytes: 1, repositoryDeltaBytes: 1 },
    pageChecksumErrors: false,
  };
}

const infoWith = (backups: PgbackrestBackup[]): PgbackrestStanzaInfo => ({ stanza: 'app', status: { code: 0, message: 'ok' }, backups });

describe('achievableRpo', () => {
  const now = new Date('2026-12-06T14:00:00Z');

  test('now − the time the newest WAL was archived', () => {
    assert.deepEqual(achievableRpo(now, { lastArchivedAt: new Date('2026-12-06T13:59:30Z'), info: infoWith([backupStoppingAt('2026-12-06T13:00:05.000Z')]) }), {
      seconds: 30,
      basis: 'archived-wal',
      recoverableTo: '2026-12-06T13:59:30.000Z',
    });
  });

  test('without the archiver\'s time, the newest backup\'s stop bounds it', () => {
    const info = infoWith([backupStoppingAt('2026-12-06T12:00:00.000Z'), backupStoppingAt('2026-12-06T13:00:05.000Z')]);
    assert.deepEqual(achievableRpo(now, { info }), { seconds: 3595, basis: 'backup-stop', recoverableTo: '2026-12-06T13:00:05.000Z' });
  });

  test('a backup that stopped after the last archived WAL is the later point', () => {
    const result = achievableRpo(now, { lastArchivedAt: new Date('2026-12-06T12:00:00Z'), info: infoWith([backupStoppingAt('2026-12-06T13:00:05.000Z')]) });
    assert.equal(result?.basis, 'backup-stop');
  });

  test('unknown when nothing tells it; never negative when clocks disagree', () => {
    assert.equal(achievableRpo(now, {}), undefined);
    assert.equal(achievableRpo(now, { info: infoWith([]) }), undefined);
    assert.equal(achievableRpo(now, { lastArchivedAt: new Date('nonsense') }), undefined);
    assert.equal(achievableRpo(now, { lastArchivedAt: new Date('2026-12-06T14:00:10Z') })?.seconds, 0);
  });
});

describe('parsePgbackrestInfo (pgBackRest 2.45\'s own output)', () => {
  test('labels, types, prior labels, times, LSN and WAL ranges, sizes, the archive', () => {
    const info = parsePgbackrestInfo(PGBACKREST_2_45_INFO_JSON, 'explore');
    assert.deepEqual(info.status, { code: 0, message: 'ok' });
    assert.deepEqual(info.archive, { minWal: '000000010000000000000001', maxWal: '000000010000000000000008' });
    assert.deepEqual(info.backups[0], {
      label: '20261206-140143F',
      type: 'full', // asked for as a diff: there was no full backup yet
      startedAt: '2026-12-06T14:01:43.000Z',
      stoppedAt: '2026-12-06T14:01:45.000Z',
      lsn: { start: '0/3000028', stop: '0/3000100' },
      wal: { start: '000000010000000000000003', stop: '000000010000000000000003' },
      sizes: { databaseBytes: 23291391, deltaBytes: 23291391, repositoryBytes: 3091488, repositoryDeltaBytes: 3091488 },
      pageChecksumErrors: false,
    });
    assert.deepEqual(
      info.backups.map((backup) => [backup.label, backup.type, backup.priorLabel]),
      [
        ['20261206-140143F', 'full', undefined],
        ['20261206-140143F_20261206-140145I', 'incr', '20261206-140143F'],
        ['20261206-140143F_20261206-140148D', 'diff', '20261206-140143F'],
      ],
    );
    assert.deepEqual(info.backups[2]?.wal, { start: '000000010000000000000007', stop: '000000010000000000000008' });
    assert.equal(info.backups[1]?.sizes.repositoryDeltaBytes, 4208);
  });

  test('a stanza with archived WAL but no backup yet, and a stanza nobody created (exit 0 both)', () => {
    assert.deepEqual(parsePgbackrestInfo(PGBACKREST_2_45_INFO_NO_BACKUP_JSON, 'app'), {
      stanza: 'app',
      status: { code: 2, message: 'no valid backups' },
      backups: [],
      postgresVersion: '15',
      archive: { minWal: '000000010000000000000001', maxWal: '000000010000000000000001' },
    });
    assert.deepEqual(parsePgbackrestInfo(PGBACKREST_2_45_INFO_MISSING_STANZA_JSON, 'other'), { stanza: 'other', status: { code: 1, message: 'missing stanza path' }, backups: [] });
  });

  test('what does not fit is named: not JSON, another stanza, a field of another shape', () => {
    assert.throws(() => parsePgbackrestInfo('ERROR: [055]: unable to load info file', 'explore'), /pgbackrest info of stanza explore did not print JSON: ERROR: \[055\]/);
    assert.throws(() => parsePgbackrestInfo(PGBACKREST_2_45_INFO_JSON, 'app'), /lists no stanza app \(it lists explore\)/);
    const changed = PGBACKREST_2_45_INFO_JSON.replace('"type":"incr"', '"type":"block-incr"');
    assert.throws(() => parsePgbackrestInfo(changed, 'explore'), /unexpected shape at 0\.backup\.1\.type/);
  });
});

describe('parsePgbackrestVerify (pgBackRest 2.45\'s own output)', () => {
  test('a flipped byte: status error, the backup invalid with its counts, the file named', () => {
    const result = parsePgbackrestVerify(PGBACKREST_2_45_VERIFY_CORRUPTED.stdout, PGBACKREST_2_45_VERIFY_CORRUPTED.stderr);
    assert.equal(result.stanza, 'explore');
    assert.equal(result.status, 'error');
    assert.deepEqual(result.archives, [{ archiveId: '15-1', walChecked: 1, walValid: 1, missing: 0, checksumInvalid: 0, sizeInvalid: 0, other: 0 }]);
    assert.deepEqual(result.backups, [
      { label: '20261206-140507F', status: 'invalid', filesChecked: 964, filesValid: 963, missing: 0, checksumInvalid: 1, sizeInvalid: 0, other: 0 },
    ]);
    assert.deepEqual(result.problems, ["invalid checksum '20261206-140507F/pg_data/base/5/2602.gz'"]);
    assert.deepEqual(result.notes, []);
  });

  test('no stanza files: status error with pgBackRest\'s own words', () => {
    const result = parsePgbackrestVerify(PGBACKREST_2_45_VERIFY_NO_STANZA, '');
    assert.equal(result.status, 'error');
    assert.deepEqual(result.notes, ['No usable backup.info file', 'No usable archive.info file']);
  });

  test('no summary is an error, never a pass', () => {
    assert.throws(() => parsePgbackrestVerify('', 'ERROR: [103]: unable to find a valid repository'), /printed no summary/);
  });
});
