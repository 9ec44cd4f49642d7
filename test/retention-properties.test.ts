// Properties of planRetention over a few hundred random histories and policies, checked
// against an independent oracle of the keep rules (test/support/retention-oracle.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RetentionPolicy } from '../src/config/stacks/index.js';
import { planRetention, type DrillSummary, type RetentionCandidate } from '../src/core/retention.js';
import { selectedByKeepRules } from './support/retention-oracle.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** mulberry32: a tiny seeded PRNG, so a failing history can be replayed from its seed. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (max: number) => Math.floor(next() * (max + 1)), chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof prng>;

function randomHistory(random: Random): { backups: RetentionCandidate[]; now: Date; policy: RetentionPolicy } {
  const count = random.int(60);
  let time = Date.UTC(2026, 0, 1) + random.int(400) * DAY;
  const backups: RetentionCandidate[] = [];
  for (let i = 0; i < count; i += 1) {
    time += (1 + random.int(random.chance(0.3) ? 120 : 30)) * HOUR;
    const iso = new Date(time).toISOString();
    const drill = (depth: DrillSummary['depth'], passed: boolean): DrillSummary => ({ depth, passed, finishedAt: iso });
    const restore = random.chance(0.25) ? drill('restore', random.chance(0.7)) : undefined;
    const checksumAfter = random.chance(0.3) ? drill('checksum', random.chance(0.8)) : undefined;
    const locks = Array.from({ length: random.chance(0.15) ? 1 + random.int(1) : 0 }, (_, n) => ({
      workflowId: `wf-${i}-${n}`,
      runbook: random.chance(0.5) ? 'restore' : 'verifyBackup',
      since: new Date(time + random.int(30 * 24) * HOUR).toISOString(),
    }));
    const complete = random.chance(0.8);
    backups.push({
      backupId: `${iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${i.toString(16).padStart(8, '0')}`,
      time: iso,
      lastModified: new Date(time + random.int(40) * HOUR).toISOString(),
      complete,
      problem: !complete && random.chance(0.1) ? 'manifest.json does not parse' : undefined,
      lastVerification: checksumAfter ?? restore,
      lastRestoreVerification: restore,
      locks,
      objects: 1 + random.int(5),
      bytes: random.int(1e6),
    });
  }
  const policy: RetentionPolicy = {
    keepLast: random.int(5),
    keepDaily: random.int(10),
    keepWeekly: random.int(6),
    keepMonthly: random.int(4),
    maxAgeDays: random.chance(0.5) ? 1 + random.int(200) : undefined,
    minVerified: 1 + random.int(2),
    leftoverGraceHours: 0.5 + random.int(96) / 2,
  };
  return { backups, now: new Date(time + random.int(72) * HOUR), policy };
}

function shuffled<T>(items: T[], random: Random): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = random.int(i);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const newestFirst = (backups: RetentionCandidate[]) => [...backups].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
const isGood = (b: RetentionCandidate) => b.complete && !b.problem && b.lastVerification?.passed !== false;

const inUse = (b: RetentionCandidate, now: Date) => b.locks.some((lock) => now.getTime() - Date.parse(lock.since) < 48 * HOUR);
const youngIncomplete = (b: RetentionCandidate, now: Date, policy: RetentionPolicy) =>
  !b.complete && now.getTime() - Math.max(Date.parse(b.time), Date.parse(b.lastModified)) < policy.leftoverGraceHours * HOUR;

test('planRetention over 400 random histories: order-free, protections hold, every decision accounted for', () => {
  let deletedSeen = 0;
  let protectedSeen = 0;
  for (let seed = 1; seed <= 400; seed += 1) {
    const random = prng(seed);
    const { backups, now, policy } = randomHistory(random);
    const at = `seed ${seed}`;
    const plan = planRetention(backups, now, policy);
    for (let round = 0; round < 3; round += 1) {
      assert.deepEqual(planRetention(shuffled(backups, random), now, policy), plan, `${at}: the plan depends on input order`);
    }

    const keptIds = new Set(plan.kept.map((d) => d.backupId));
    const deletedIds = new Set(plan.deleted.map((d) => d.backupId));
    assert.equal(keptIds.size + deletedIds.size, backups.length, `${at}: a backup is missing or listed twice`);
    for (const b of backups) assert.ok(keptIds.has(b.backupId) !== deletedIds.has(b.backupId), `${at}: ${b.backupId} in both or neither`);
    for (const d of [...plan.kept, ...plan.deleted]) assert.ok(d.reasons.length > 0, `${at}: ${d.backupId} has no reason`);

    const verified = newestFirst(backups).filter((b) => b.complete && !b.problem && b.lastRestoreVerification?.passed);
    for (const b of verified.slice(0, policy.minVerified)) assert.ok(keptIds.has(b.backupId), `${at}: restore-verified ${b.backupId} deleted`);
    const selected = selectedByKeepRules(backups.filter(isGood), now, policy);
    for (const b of backups) {
      if (inUse(b, now)) assert.ok(keptIds.has(b.backupId), `${at}: in-use ${b.backupId} deleted`);
      if (youngIncomplete(b, now, policy)) assert.ok(keptIds.has(b.backupId), `${at}: young incomplete ${b.backupId} deleted`);
      if (deletedIds.has(b.backupId) && b.complete) assert.ok(!selected.has(b.backupId), `${at}: ${b.backupId} selected by a rule but deleted`);
    }
    // And nothing is kept without a cause: the kept set is exactly the union of the causes.
    const expectedKept = backups.filter(
      (b) => selected.has(b.backupId) || verified.slice(0, policy.minVerified).includes(b) || inUse(b, now) || youngIncomplete(b, now, policy) || b.problem,
    );
    assert.deepEqual([...keptIds].sort(), expectedKept.map((b) => b.backupId).sort(), `${at}: kept set`);
    deletedSeen += deletedIds.size;
    protectedSeen += backups.filter((b) => inUse(b, now) && !selected.has(b.backupId)).length;
  }
  assert.ok(deletedSeen > 1000 && protectedSeen > 20, `the histories exercise deletion (${deletedSeen}) and protection (${protectedSeen})`);
});
