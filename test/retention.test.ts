// The retention decision alone: hand-written cases for each rule and protection.
// Property tests over random histories are in retention-properties.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { retentionSchema, type RetentionPolicy } from '../src/config/stacks/index.js';
import { planRetention, planUploadCleanup, timeOfBackupId, type RetentionCandidate } from '../src/core/retention.js';

const HOUR = 3_600_000;
const policy = (rules: Partial<RetentionPolicy> = {}): RetentionPolicy => retentionSchema.parse(rules);
const passed = (depth: 'checksum' | 'restore', passed = true) => ({ depth, passed, finishedAt: '2027-01-20T00:00:00.000Z' });

let serial = 0;
function backup(time: string, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  const iso = new Date(time).toISOString();
  const stamp = iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  serial += 1;
  return { backupId: `${stamp}-${serial.toString(16).padStart(8, '0')}`, time: iso, lastModified: iso, complete: true, locks: [], objects: 3, bytes: 300, ...extra };
}

function decide(backups: RetentionCandidate[], now: string, rules: Partial<RetentionPolicy>) {
  const plan = planRetention(backups, new Date(now), policy(rules));
  const kept = (b: RetentionCandidate) => plan.kept.some((d) => d.backupId === b.backupId);
  const reasons = (b: RetentionCandidate) => [...plan.kept, ...plan.deleted].find((d) => d.backupId === b.backupId)!.reasons.join(' | ');
  const keptTimes = plan.kept.map((d) => d.time.slice(0, 16));
  return { plan, kept, reasons, keptTimes };
}

describe('planRetention rules', () => {
  test('keepLast keeps the newest N good backups; a failed drill does not count, an unverified backup does', () => {
    const failed = backup('2027-01-10T12:00Z', { lastVerification: passed('checksum', false) });
    const backups = [backup('2027-01-07T12:00Z'), backup('2027-01-08T12:00Z', { lastVerification: passed('checksum') }), backup('2027-01-09T12:00Z'), failed];
    const { kept, reasons, keptTimes } = decide(backups, '2027-01-11T00:00Z', { keepLast: 2 });
    assert.deepEqual(keptTimes, ['2027-01-09T12:00', '2027-01-08T12:00']);
    assert.ok(!kept(failed));
    assert.match(reasons(failed), /last checksum drill failed .*not counted as good/);
    assert.match(reasons(failed), /not selected by keepLast\/daily\/weekly\/monthly/);
    assert.match(reasons(backups[2]!), /keepLast 2: newest good backup #1/);
  });

  test('keepDaily keeps the newest good backup of each of the newest N UTC days that have one', () => {
    const backups = [
      backup('2027-01-10T23:30Z'),
      backup('2027-01-10T05:00Z'),
      backup('2027-01-09T18:00Z', { lastVerification: passed('restore', false) }), // the 9th has no good backup
      backup('2027-01-08T01:00Z'),
      backup('2027-01-08T00:30Z'),
      backup('2027-01-07T12:00Z'),
    ];
    const { keptTimes, reasons } = decide(backups, '2027-01-11T00:00Z', { keepDaily: 3 });
    assert.deepEqual(keptTimes, ['2027-01-10T23:30', '2027-01-08T01:00', '2027-01-07T12:00']);
    assert.match(reasons(backups[3]!), /keepDaily 3: newest good backup of 2027-01-08/);
  });

  test('keepWeekly groups by ISO week, across the year boundary (2026 has a week 53)', () => {
    const backups = [backup('2026-12-28T06:00Z'), backup('2027-01-03T06:00Z'), backup('2027-01-04T06:00Z')];
    const { keptTimes, reasons } = decide(backups, '2027-01-05T00:00Z', { keepWeekly: 2 });
    assert.deepEqual(keptTimes, ['2027-01-04T06:00', '2027-01-03T06:00']);
    assert.match(reasons(backups[1]!), /keepWeekly 2: newest good backup of 2026-W53/);
    assert.match(reasons(backups[2]!), /of 2027-W01/);
  });

  test('keepMonthly keeps the newest good backup of each of the newest N months', () => {
    const backups = [backup('2026-11-30T06:00Z'), backup('2026-12-01T06:00Z'), backup('2026-12-31T06:00Z'), backup('2027-01-02T06:00Z')];
    const { keptTimes } = decide(backups, '2027-01-05T00:00Z', { keepMonthly: 2 });
    assert.deepEqual(keptTimes, ['2027-01-02T06:00', '2026-12-31T06:00']);
  });

  test('maxAgeDays caps every keep rule', () => {
    const backups = [backup('2027-01-10T00:00Z'), backup('2027-01-06T00:00Z'), backup('2027-01-03T00:00Z'), backup('2026-12-01T00:00Z')];
    const { keptTimes, reasons } = decide(backups, '2027-01-11T00:00Z', { keepLast: 10, keepMonthly: 5, maxAgeDays: 5 });
    assert.deepEqual(keptTimes, ['2027-01-10T00:00', '2027-01-06T00:00']);
    assert.match(reasons(backups[2]!), /older than maxAgeDays 5 \(8\.0 d\)/);
  });

  test('the newest minVerified restore-verified backups are protected, beyond maxAgeDays and with keepLast: 0', () => {
    const older = backup('2026-06-01T00:00Z', { lastVerification: passed('restore'), lastRestoreVerification: passed('restore') });
    const newest = backup('2026-07-01T00:00Z', { lastVerification: passed('checksum'), lastRestoreVerification: passed('restore') });
    const laterFailed = backup('2026-08-01T00:00Z', { lastVerification: passed('restore', false), lastRestoreVerification: passed('restore', false) });
    const halfDeleted = backup('2026-09-01T00:00Z', { complete: false, lastRestoreVerification: passed('restore') });
    const backups = [older, newest, laterFailed, halfDeleted, backup('2027-01-10T00:00Z')];
    const one = decide(backups, '2027-01-11T00:00Z', { keepLast: 0, maxAgeDays: 30 });
    assert.deepEqual(one.plan.kept.map((d) => d.backupId), [newest.backupId]);
    assert.match(one.reasons(newest), /protected: restore-verified .*newest #1 of minVerified 1/);
    assert.match(one.reasons(newest), /older than maxAgeDays 30/);
    const two = decide(backups, '2027-01-11T00:00Z', { keepLast: 0, minVerified: 2 });
    assert.deepEqual(two.plan.kept.map((d) => d.backupId), [newest.backupId, older.backupId]);
  });

  test('a lock younger than 48 h protects its backup; an older one is stale and says so', () => {
    const now = '2027-01-11T00:00Z';
    const since = (hoursAgo: number) => new Date(Date.parse(now) - hoursAgo * HOUR).toISOString();
    const fresh = backup('2026-01-01T00:00Z', { locks: [{ workflowId: 'drill-1', runbook: 'verifyBackup', since: since(47.9) }] });
    const stale = backup('2026-02-01T00:00Z', { locks: [{ workflowId: 'restore-9', runbook: 'restore', since: since(48.1) }] });
    const leftoverInUse = backup('2026-03-01T00:00Z', { complete: false, locks: [{ workflowId: 'r', runbook: 'restore', since: since(1) }] });
    const { kept, reasons } = decide([fresh, stale, leftoverInUse], now, { keepLast: 0 });
    assert.ok(kept(fresh) && kept(leftoverInUse) && !kept(stale));
    assert.match(reasons(fresh), /protected: in use by verifyBackup drill-1 since/);
    assert.match(reasons(stale), /stale lock by restore restore-9 since .* \(48\.1 h > 48 h\): ignored/);
  });

  test('incomplete backups: kept within the grace period (aged by the later of id time and last write), leftovers after', () => {
    const now = '2027-01-11T00:00Z';
    const young = backup('2027-01-10T12:00Z', { complete: false });
    const oldButWritten = backup('2027-01-01T00:00Z', { complete: false, lastModified: '2027-01-10T06:00:00.000Z' });
    const leftover = backup('2027-01-09T00:00Z', { complete: false, lastModified: '2027-01-09T02:00:00.000Z' });
    const { kept, reasons, plan } = decide([young, oldButWritten, leftover], now, { keepLast: 5, leftoverGraceHours: 24 });
    assert.ok(kept(young) && kept(oldButWritten) && !kept(leftover));
    assert.match(reasons(young), /incomplete \(no manifest\), last written 12\.0 h ago < grace 24 h: may still be running/);
    assert.match(reasons(oldButWritten), /last written 18\.0 h ago/);
    assert.match(reasons(leftover), /leftover: no manifest, last written 46\.0 h ago \(grace 24 h\)/);
    assert.equal(plan.deleted[0]?.state, 'incomplete');
  });

  test('keepLast: 0 and nothing else: only the newest restore-verified, in-use and young incomplete backups survive', () => {
    const now = '2027-01-11T00:00Z';
    const verified = backup('2026-12-01T00:00Z', { lastRestoreVerification: passed('restore'), lastVerification: passed('restore') });
    const olderVerified = backup('2026-11-01T00:00Z', { lastRestoreVerification: passed('restore'), lastVerification: passed('restore') });
    const inUse = backup('2026-10-01T00:00Z', { locks: [{ workflowId: 'w', runbook: 'restore', since: '2027-01-10T00:00:00.000Z' }] });
    const running = backup('2027-01-10T23:00Z', { complete: false });
    const unreadable = backup('2026-09-01T00:00Z', { complete: false, problem: 'manifest.json does not parse: formatVersion' });
    const others = [backup('2027-01-10T00:00Z'), backup('2027-01-09T00:00Z'), backup('2027-01-01T00:00Z', { complete: false })];
    const { plan, reasons } = decide([verified, olderVerified, inUse, running, unreadable, ...others], now, { keepLast: 0 });
    assert.deepEqual(plan.kept.map((d) => d.backupId).sort(), [verified, inUse, running, unreadable].map((b) => b.backupId).sort());
    assert.equal(plan.deleted.length, 4);
    assert.match(reasons(unreadable), /manifest\.json unreadable .*left for an operator/);
    for (const decision of [...plan.kept, ...plan.deleted]) assert.ok(decision.reasons.length > 0, decision.backupId);
  });

  test('an inconclusive drill says nothing of the backup: it stays good, keeps its restore-verified protection, and the plan says why', () => {
    const inconclusive = (depth: 'checksum' | 'restore') => ({ depth, passed: false, outcome: 'inconclusive' as const, finishedAt: '2027-01-10T06:00:00.000Z' });
    const failed = { ...passed('restore', false), outcome: 'failed' as const };
    const newest = backup('2027-01-10T00:00Z', { lastInconclusive: inconclusive('restore') });
    const protectedOld = backup('2026-06-01T00:00Z', { lastVerification: passed('restore'), lastRestoreVerification: passed('restore'), lastInconclusive: inconclusive('restore') });
    const bad = backup('2027-01-09T00:00Z', { lastVerification: failed, lastRestoreVerification: failed });
    const { kept, reasons, plan } = decide([newest, protectedOld, bad], '2027-01-11T00:00Z', { keepLast: 1, maxAgeDays: 30 });
    assert.ok(kept(newest) && kept(protectedOld) && !kept(bad));
    assert.match(reasons(newest), /keepLast 1: newest good backup #1/);
    assert.match(reasons(newest), /last restore drill inconclusive \(2027-01-10T06:00:00\.000Z\): says nothing of the backup, not counted against it/);
    assert.match(reasons(protectedOld), /protected: restore-verified/);
    assert.match(reasons(bad), /last restore drill failed/);
    assert.equal(plan.deleted[0]?.state, 'failed-verification');
    // An inconclusive summary handed in as the last verification is not a failure either.
    const alone = backup('2027-01-10T00:00Z', { lastVerification: inconclusive('checksum') });
    assert.equal(decide([alone], '2027-01-11T00:00Z', { keepLast: 1 }).plan.kept[0]?.state, 'good');
  });

  test('fail closed: a backup with an evidence file or lock that could not be read is kept whatever the rules, says why, and does not count as good', () => {
    const unreadableEvidence = backup('2026-01-01T00:00Z', { unreadable: ['drill evidence x/verifications/a-restore.json (does not parse: Invalid input)'] });
    const unreadableLock = backup('2026-02-01T00:00Z', { complete: false, unreadable: ['lock x/locks/r.json (could not be read: InvalidObjectState)'] });
    const newestButUnreadable = backup('2027-01-10T00:00Z', { unreadable: ['drill evidence y (could not be read: timeout)'] });
    const good = backup('2027-01-09T00:00Z');
    const { kept, reasons, plan } = decide([unreadableEvidence, unreadableLock, newestButUnreadable, good], '2027-01-11T00:00Z', { keepLast: 1, maxAgeDays: 5 });
    assert.ok(kept(unreadableEvidence) && kept(unreadableLock) && kept(newestButUnreadable) && kept(good));
    assert.equal(plan.deleted.length, 0);
    assert.match(reasons(unreadableEvidence), /could not read drill evidence x\/verifications\/a-restore\.json \(does not parse: Invalid input\): kept, left for an operator/);
    assert.match(reasons(unreadableLock), /could not read lock x\/locks\/r\.json/);
    assert.match(reasons(good), /keepLast 1: newest good backup #1/, 'the unreadable newer backup does not take the keepLast place');
    assert.equal(plan.kept.find((d) => d.backupId === newestButUnreadable.backupId)?.state, 'unreadable');
  });

  test('evidence written before outcomes (only `passed`) is read as before', () => {
    const oldFailed = backup('2027-01-10T00:00Z', { lastVerification: passed('checksum', false) });
    const oldPassed = backup('2026-01-10T00:00Z', { lastVerification: passed('restore'), lastRestoreVerification: passed('restore') });
    const { kept, plan } = decide([oldFailed, oldPassed], '2027-01-11T00:00Z', { keepLast: 0 });
    assert.ok(!kept(oldFailed) && kept(oldPassed));
    assert.equal(plan.deleted[0]?.state, 'failed-verification');
  });

  test('the plan is the same whatever the order of its input', () => {
    const backups = Array.from({ length: 40 }, (_, i) => backup(new Date(Date.UTC(2027, 0, 1) - i * 17 * HOUR).toISOString(), i % 7 === 0 ? { complete: false } : {}));
    const rules = { keepLast: 2, keepDaily: 4, keepWeekly: 3, keepMonthly: 2, leftoverGraceHours: 30 };
    assert.deepEqual(decide([...backups].reverse(), '2027-01-01T12:00Z', rules).plan, decide(backups, '2027-01-01T12:00Z', rules).plan);
  });
});

describe('retention helpers', () => {
  test('timeOfBackupId reads the UTC time stamp of a backup id', () => {
    assert.equal(timeOfBackupId('20261124T051500Z-1a2b3c4d'), '2026-11-24T05:15:00.000Z');
    assert.throws(() => timeOfBackupId('latest'), /not a backup id/);
  });

  test('planUploadCleanup aborts the unfinished uploads written to by nothing for the grace period', () => {
    const upload = (uploadId: string, initiated: string, lastWrite = initiated) => ({ key: `prod/x/${uploadId}`, uploadId, initiated, lastWrite });
    const uploads = [
      upload('young', '2027-01-10T23:00:00.000Z'),
      upload('stale', '2027-01-09T00:00:00.000Z', '2027-01-09T20:00:00.000Z'),
      upload('long-running', '2027-01-08T00:00:00.000Z', '2027-01-10T12:00:00.000Z'),
    ];
    const { abort, keep } = planUploadCleanup(uploads, new Date('2027-01-11T00:00Z'), policy({ leftoverGraceHours: 24 }));
    assert.deepEqual(abort.map((u) => u.uploadId), ['stale']);
    assert.deepEqual(keep.map((u) => u.uploadId), ['long-running', 'young']);
  });
});
