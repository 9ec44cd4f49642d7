import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { achievableRpo, type PgbackrestBackup, type PgbackrestStanzaInfo } from '../src/core/pgbackrest.js';

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
