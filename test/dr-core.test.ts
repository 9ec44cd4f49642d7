// Disaster recovery's pure parts: which backup a recovery uses, RTO/RPO against targets, inputs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { againstTarget, chooseDrBackup, secondsBetween, type DrBackupCandidate } from '../src/core/dr.js';
import { disasterRecoveryInputSchema } from '../src/config/inputs.js';

const candidate = (id: string, finishedAt: string, drills: Partial<Pick<DrBackupCandidate, 'lastConclusiveDrill' | 'lastRestoreDrill'>> = {}): DrBackupCandidate => ({
  backupId: id,
  startedAt: finishedAt,
  finishedAt,
  ...drills,
});

describe('the backup a recovery uses', () => {
  const newestFirst = [
    candidate('c-never-drilled', '2026-12-06T12:00:00Z'),
    candidate('b-failed', '2026-12-06T06:00:00Z', { lastConclusiveDrill: 'failed', lastRestoreDrill: 'failed' }),
    candidate('a-passed', '2026-12-06T00:00:00Z', { lastConclusiveDrill: 'passed', lastRestoreDrill: 'passed' }),
    candidate('z-passed-older', '2026-12-05T00:00:00Z', { lastConclusiveDrill: 'passed', lastRestoreDrill: 'passed' }),
  ];
  test('the newest whose last restore drill passed, never one whose drill failed', () => {
    assert.deepEqual(chooseDrBackup(newestFirst, { allowUnverified: false }), { backupId: 'a-passed', verified: true, why: 'the newest backup whose last restore drill passed' });
  });
  test('with at: the newest finished by then', () => {
    const choice = chooseDrBackup(newestFirst, { allowUnverified: false, at: '2026-12-05T12:00:00Z' });
    assert.equal('backupId' in choice && choice.backupId, 'z-passed-older');
  });
  test('a never-drilled backup only with allowUnverified, and only when nothing verified is there', () => {
    assert.equal((chooseDrBackup(newestFirst.slice(0, 2), { allowUnverified: true }) as { backupId: string }).backupId, 'c-never-drilled');
    assert.match((chooseDrBackup(newestFirst.slice(0, 2), { allowUnverified: false }) as { refused: string }).refused, /no backup has passed a restore drill .*allowUnverified/);
  });
  test('a named backup whose drill failed is refused; an unknown one too', () => {
    assert.match((chooseDrBackup(newestFirst, { allowUnverified: true, backupId: 'b-failed' }) as { refused: string }).refused, /failed; it is never used/);
    assert.match((chooseDrBackup(newestFirst, { allowUnverified: true, backupId: 'nope' }) as { refused: string }).refused, /no complete backup nope/);
  });
  test('no backup at all', () => {
    assert.match((chooseDrBackup([], { allowUnverified: true }) as { refused: string }).refused, /no complete backup/);
  });
});

describe('RTO and RPO against the targets', () => {
  test('seconds to the millisecond, met or missed', () => {
    assert.equal(secondsBetween('2026-12-06T12:00:00Z', '2026-12-06T12:00:01.250Z'), 1.25);
    assert.deepEqual(againstTarget(3600, 60), { seconds: 3600, targetSeconds: 3600, met: true });
    assert.deepEqual(againstTarget(3601, 60), { seconds: 3601, targetSeconds: 3600, met: false });
  });
});

describe('disasterRecovery input', () => {
  test('into only for drills, never the stack itself; times with zones', () => {
    assert.equal(disasterRecoveryInputSchema.safeParse({ stack: 'prod', mode: 'drill', into: 'drill' }).success, true);
    assert.equal(disasterRecoveryInputSchema.safeParse({ stack: 'prod', mode: 'recover', into: 'drill' }).success, false);
    assert.equal(disasterRecoveryInputSchema.safeParse({ stack: 'prod', mode: 'drill', into: 'prod' }).success, false);
    assert.equal(disasterRecoveryInputSchema.safeParse({ stack: 'prod', mode: 'recover', incidentAt: '2026-12-06 12:00' }).success, false);
    assert.equal(disasterRecoveryInputSchema.safeParse({ stack: 'prod', mode: 'later' }).success, false);
  });
});
