// `ragops status` and the per-stack catalog object: a moto store of 5,000 synthetic backups
// across plans with drills and DR evidence; expected figures are computed from the synthetic
// data here, not by the code under test.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { backupIdsIn, createCatalogActivities, listBackupsIn } from '../src/activities/store/catalog.js';
import { withStore } from '../src/activities/store/open.js';
import { readStackCatalogWithSource, recordInCatalog, stackCatalogKey } from '../src/activities/store/stackCatalog.js';
import { FsStore } from '../src/activities/store/fs.js';
import { loadStacksFile, parseStacksFile } from '../src/config/load.js';
import { manifestSchema, type Manifest } from '../src/config/manifest.js';
import { stackCatalogSchema, type StackCatalog } from '../src/config/stackCatalog.js';
import type { StoreConfig } from '../src/config/stacks/index.js';
import { readStatus } from '../src/client/api/status.js';
import { createRunbookSchedule } from '../src/client/api/schedules.js';
import { RagopsPhase, RagopsRunbook, RagopsStack } from '../src/core/searchAttributes.js';
import { emptyCatalog, foldIntoCatalog } from '../src/core/stackCatalog.js';
import { formatAge, renderStatus, stackStatus, type StatusReport } from '../src/core/status.js';
import { backupKeys } from '../src/core/storeKeys.js';
import { startMoto, s3StoreConfig, type TestMoto } from './support/moto.js';
import { objectsOf, putAll, syntheticBackup, type SyntheticBackup } from './support/synthetic-backups.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';
import { tempDir, writeStacksFile } from './support/ragops.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const HOUR = 3_600_000;

describe('status (pure)', () => {
  const now = new Date('2026-12-01T12:00:00.000Z');
  const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * HOUR).toISOString();
  const catalogWith = (edit: (catalog: StackCatalog) => void) => {
    const catalog = emptyCatalog('prod', now);
    edit(catalog);
    return catalog;
  };
  const drill = (hoursAgo: number, outcome: 'passed' | 'failed' | 'inconclusive', key = `k${hoursAgo}`) => ({
    key: `prod/20261101T000000Z-00000001/verifications/${key}.json`,
    backupId: '20261101T000000Z-00000001',
    plan: null,
    depth: 'restore' as const,
    outcome,
    startedAt: at(hoursAgo),
    finishedAt: at(hoursAgo),
  });
  const base = {
    stack: 'prod',
    now,
    plans: ['pg'],
    slo: { backupMaxAgeSeconds: 6 * 3600, drillMaxAgeSeconds: 7 * 86_400 },
    schedules: { known: true as const, items: [] },
    runs: { known: true as const, items: [] },
    pitr: [],
  };

  it('formats ages at a glance', () => {
    assert.deepEqual([0, 59, 60, 3599, 3600, 3 * 3600 + 5 * 60, 86_400 * 2 + 4 * 3600 + 59].map(formatAge), ['0s', '59s', '1m', '59m', '1h 00m', '3h 05m', '2d 4h']);
  });

  it('marks each breach and only those', () => {
    const fresh = catalogWith((catalog) => {
      catalog.plans.push({ plan: 'pg', backupId: '20261201T100000Z-00000001', startedAt: at(2.1), finishedAt: at(2), bytes: 10, artifacts: 1, completeBackups: 1 });
      catalog.lastDrill = catalog.lastPassingDrill = catalog.lastPassingRestoreDrill = drill(24, 'passed');
    });
    const ok = stackStatus({ ...base, catalog: { catalog: fresh, source: 'catalog' } });
    assert.deepEqual(ok.breaches, []);
    assert.equal(ok.backups[0]!.ageSeconds, 7200);
    assert.equal(ok.drills!.last!.ageSeconds, 86_400);

    const stale = catalogWith((catalog) => {
      catalog.plans.push({ plan: 'pg', backupId: '20261201T000000Z-00000001', startedAt: at(7.1), finishedAt: at(7), bytes: 10, artifacts: 1, completeBackups: 1 });
      catalog.lastPassingDrill = catalog.lastPassingRestoreDrill = drill(8 * 24, 'passed', 'a');
      catalog.lastDrill = drill(1, 'failed', 'b');
    });
    const bad = stackStatus({
      ...base,
      catalog: { catalog: stale, source: 'catalog' },
      schedules: { known: true, items: [{ scheduleId: 'ragops-backup-prod', paused: true, note: 'paused by hand' }, { scheduleId: 'ragops-verify-prod', paused: false }] },
    });
    assert.deepEqual(bad.breaches.map((breach) => breach.kind), ['backup-too-old', 'no-passing-drill', 'drill-failed', 'schedule-paused']);
    assert.match(bad.breaches[3]!.detail, /ragops-backup-prod is paused: paused by hand/);

    const empty = stackStatus({ ...base, catalog: { catalog: emptyCatalog('prod', now), source: 'rebuilt' }, schedules: { known: false, cause: 'Temporal unreachable: refused' } });
    assert.deepEqual(empty.breaches.map((breach) => breach.kind), ['backup-too-old', 'no-passing-drill']);
    assert.deepEqual(empty.backups, [{ plan: 'pg', backupId: null, finishedAt: null, ageSeconds: null, bytes: null, artifacts: null, completeBackups: 0 }]);
    const text = renderStatus({ formatVersion: 1, generatedAt: now.toISOString(), breaches: 2, stacks: [empty] });
    assert.match(text, /schedules: UNKNOWN \(Temporal unreachable: refused\)/);
    assert.match(text, /! backup-too-old: no complete backup/);

    // No backup max age (no slo, no dr): an old backup is no breach; an inconclusive last drill is not "failed".
    const unset = stackStatus({ ...base, slo: { drillMaxAgeSeconds: 7 * 86_400 }, catalog: { catalog: catalogWith((catalog) => {
      catalog.plans.push({ plan: 'pg', backupId: '20261101T000000Z-00000001', startedAt: at(700), finishedAt: at(700), bytes: 1, artifacts: 1, completeBackups: 1 });
      catalog.lastPassingDrill = catalog.lastPassingRestoreDrill = drill(2, 'passed', 'a');
      catalog.lastDrill = drill(1, 'inconclusive', 'b');
    }), source: 'catalog' } });
    assert.deepEqual(unset.breaches, []);
    // A fresh checksum pass does not stand in for a restore drill.
    const checksumOnly = stackStatus({ ...base, catalog: { catalog: catalogWith((catalog) => {
      catalog.plans.push({ plan: 'pg', backupId: '20261201T100000Z-00000001', startedAt: at(2.1), finishedAt: at(2), bytes: 10, artifacts: 1, completeBackups: 1 });
      catalog.lastDrill = catalog.lastPassingDrill = { ...drill(1, 'passed'), depth: 'checksum' as const };
      catalog.lastPassingRestoreDrill = drill(8 * 24, 'passed', 'a');
    }), source: 'catalog' } });
    assert.deepEqual(checksumOnly.breaches.map((breach) => breach.kind), ['no-passing-drill']);
    assert.match(checksumOnly.breaches[0]!.detail, /last passing restore drill 8d/);
    const storeDown = stackStatus({ ...base, catalog: { error: 'store unreadable: ECONNREFUSED' } });
    assert.deepEqual(storeDown.store, { known: false, cause: 'store unreadable: ECONNREFUSED' });
    assert.deepEqual(storeDown.breaches, [], 'nothing read is no verdict');
  });

  it('measures the last DR run against the stack’s current targets', () => {
    const catalog = catalogWith((c) => {
      c.lastDr = c.lastDrDrill = { mode: 'drill', outcome: 'drilled', key: 'prod/20261101T000000Z-00000001/dr/x.json', backupId: '20261101T000000Z-00000001', at: at(5), rto: { seconds: 900, targetSeconds: 600, met: false, to: at(5) }, rpo: { seconds: 4000, targetSeconds: 3600, met: false } };
    });
    const status = stackStatus({ ...base, catalog: { catalog, source: 'catalog' }, drTargets: { rtoMinutes: 30, rpoMinutes: 60 } });
    assert.deepEqual(status.dr!.last!.rto, { seconds: 900, targetSeconds: 1800, met: true });
    assert.deepEqual(status.dr!.last!.rpo, { seconds: 4000, targetSeconds: 3600, met: false });
    assert.match(renderStatus({ formatVersion: 1, generatedAt: now.toISOString(), breaches: 0, stacks: [status] }), /RTO 15m of 30m, RPO 1h 06m of 1h 00m MISSED/);
  });

  it('folds events: newest by recorded start, a key folded twice counts once, old evidence without an outcome', () => {
    const catalog = emptyCatalog('prod', now);
    const manifest = (id: string, startedAt: string, plan?: string): Manifest =>
      manifestSchema.parse({ formatVersion: 1, backupId: id, stack: 'prod', workflowId: 'w', runId: 'r', startedAt, finishedAt: startedAt, store: 's', ...(plan ? { plan } : {}), artifacts: [] });
    // Same second: the ids' tags sort one way, the recorded starts the other.
    const early = manifest('20261201T100000Z-bbbbbbbb', '2026-12-01T10:00:00.100Z', 'pg');
    const late = manifest('20261201T100000Z-aaaaaaaa', '2026-12-01T10:00:00.900Z', 'pg');
    for (const m of [late, early, late]) foldIntoCatalog(catalog, { kind: 'manifest', key: backupKeys.manifest('prod', m.backupId), manifest: m }, now);
    assert.equal(catalog.plans[0]!.backupId, late.backupId);
    assert.equal(catalog.plans[0]!.completeBackups, 2);
    const key = backupKeys.verification('prod', late.backupId, new Date(at(1)), 'tag00000', 'checksum');
    foldIntoCatalog(catalog, { kind: 'verification', key, plan: 'pg', verification: { formatVersion: 1, backupId: late.backupId, stack: 'prod', depth: 'checksum', workflowId: 'w', runId: 'r', startedAt: at(1), finishedAt: at(1), passed: false, checks: [] } }, now);
    assert.equal(catalog.lastDrill!.outcome, 'failed');
    assert.deepEqual(catalog.counts.drills, { passed: 0, failed: 1, inconclusive: 0 });
    foldIntoCatalog(catalog, { kind: 'manifest', key: backupKeys.manifest('prod', '20261201T110000Z-cccccccc') }, now);
    assert.equal(catalog.counts.unreadable, 1);
  });
});

describe('catalog hooks', () => {
  it('a catalog that cannot be updated never fails the manifest write', async () => {
    const dir = await tempDir('status-hook');
    try {
      const store = parseStacksFile(JSON.stringify({ stacks: { prod: { postgres: [{ name: 'app', database: 'app' }], store: { type: 'fs', path: dir.path } } } }), 'test').stacks.prod!.store;
      const backup = syntheticBackup(new Date('2026-12-01T10:00:00Z'), 1);
      const manifest = manifestSchema.parse(JSON.parse(objectsOf('prod', backup, { minimal: true }).find((object) => object.key.endsWith('manifest.json'))!.body));
      // A directory where the catalog object should be: reading and writing it fail.
      await mkdir(join(dir.path, 'prod', 'catalog.json', 'x'), { recursive: true });
      const key = await createCatalogActivities().writeManifest({ store, manifest });
      assert.equal(key, backupKeys.manifest('prod', backup.backupId));
      assert.equal(manifestSchema.parse(JSON.parse(await readFile(join(dir.path, key), 'utf8'))).backupId, backup.backupId);
    } finally {
      await dir.remove();
    }
  });

  it('two writers racing: the update the other overwrote is caught up at the next read', async () => {
    const dir = await tempDir('status-race');
    const store = new FsStore(dir.path);
    try {
      const put = async (backup: SyntheticBackup) => {
        for (const object of objectsOf('prod', backup, { minimal: true })) await store.put(object.key, Readable.from([object.body]));
      };
      const backups = Array.from({ length: 30 }, (_, index) => syntheticBackup(new Date(Date.UTC(2026, 10, 1, index)), index, { plan: index % 2 ? 'pg' : 'vectors' }));
      for (const backup of backups) await put(backup);
      assert.equal((await readStackCatalogWithSource(store, 'prod')).source, 'rebuilt');
      const before = await text(await store.get(stackCatalogKey('prod')));
      // Worker A finishes a pg backup and folds it in; worker B, which read the catalog before A wrote, folds its vectors backup and writes last.
      const [a, b] = [syntheticBackup(new Date(Date.UTC(2026, 10, 3, 1)), 100, { plan: 'pg' }), syntheticBackup(new Date(Date.UTC(2026, 10, 3, 2)), 101, { plan: 'vectors' })];
      await put(a);
      await recordInCatalog(store, backupKeys.manifest('prod', a.backupId));
      await put(b);
      const stale = stackCatalogSchema.parse(JSON.parse(before));
      const manifestOfB = manifestSchema.parse(JSON.parse(await text(await store.get(backupKeys.manifest('prod', b.backupId)))));
      foldIntoCatalog(stale, { kind: 'manifest', key: backupKeys.manifest('prod', b.backupId), manifest: manifestOfB }, new Date());
      await store.put(stackCatalogKey('prod'), Readable.from([JSON.stringify(stale)]));
      const lost = stackCatalogSchema.parse(JSON.parse(await text(await store.get(stackCatalogKey('prod')))));
      assert.notEqual(lost.plans.find((plan) => plan.plan === 'pg')!.backupId, a.backupId, 'A’s update was lost');

      const read = await readStackCatalogWithSource(store, 'prod');
      assert.equal(read.source, 'caught-up');
      assert.deepEqual(read.catalog.plans.map((plan) => [plan.plan, plan.backupId, plan.completeBackups]), [['pg', a.backupId, 16], ['vectors', b.backupId, 16]]);
      assert.equal((await readStackCatalogWithSource(store, 'prod')).source, 'catalog', 'and written back');
      // The catalog object is no backup to the listings retention and prune work from.
      assert.equal(await store.exists(stackCatalogKey('prod')), true);
      assert.deepEqual((await listBackupsIn(store, 'prod')).map((listing) => listing.backupId), [...backups, a, b].map((backup) => backup.backupId).sort().reverse());
      assert.deepEqual(await backupIdsIn(store, 'prod'), [...backups, a, b].map((backup) => backup.backupId).sort().reverse());
    } finally {
      await dir.remove();
    }
  });
});

// ---------------------------------------------------------------------------------------------

const BACKUPS = 5_000;
const PLAN_OF = ['pg', 'pg', 'pg', 'vectors', undefined] as const;

interface Fixture {
  backups: SyntheticBackup[];
  edge: SyntheticBackup[];
}

/** 5,000 backups every 30 minutes up to 40 minutes ago, plans pg/vectors/none; drills and a DR drill near the end. */
function makeFixture(now: number): Fixture {
  const newest = now - 40 * 60_000;
  const backups = Array.from({ length: BACKUPS }, (_, index) => {
    const time = new Date(Math.floor((newest - (BACKUPS - 1 - index) * 30 * 60_000) / 1000) * 1000);
    const plan = PLAN_OF[index % PLAN_OF.length];
    return syntheticBackup(time, index, plan ? { plan } : {});
  });
  const at = (index: number) => backups[index]!;
  // The newest backup is still running (no manifest); one older backup's manifest is unreadable.
  at(BACKUPS - 1).manifest = 'none';
  at(BACKUPS - 7).manifest = 'unreadable';
  at(100).drills.push({ depth: 'restore', passed: true, outcome: 'passed', afterHours: 1 });
  at(BACKUPS - 40).drills.push({ depth: 'restore', passed: true, outcome: 'passed', afterHours: 2 }, { depth: 'checksum', passed: false, afterHours: 3 }); // evidence before outcomes: failed
  at(BACKUPS - 30).drills.push({ depth: 'checksum', passed: true, outcome: 'passed', afterHours: 1 }); // the newest passing (any depth)
  at(BACKUPS - 20).drills.push({ depth: 'restore', passed: false, outcome: 'inconclusive', afterHours: 0.5 }); // the newest drill
  at(BACKUPS - 60).dr = [{ mode: 'drill', afterHours: 1, rtoSeconds: 900, rtoTargetSeconds: 3600, rpoSeconds: 7200, rpoTargetSeconds: 3600 }];
  // A second stack: three old backups, its last drill failed.
  const edge = [72, 48, 30].map((hoursAgo, index) => syntheticBackup(new Date(Math.floor((now - hoursAgo * HOUR) / 1000) * 1000), 900 + index));
  edge[1]!.drills.push({ depth: 'restore', passed: false, outcome: 'failed', afterHours: 1 });
  return { backups, edge };
}

const finishedAtOf = (backup: SyntheticBackup) => new Date(backup.time.getTime() + 0.1 * HOUR).toISOString();
const ageAt = (generatedAt: string, time: string) => Math.max(0, Math.round((Date.parse(generatedAt) - Date.parse(time)) / 1000));

/** What status must say of `prod`, computed from the synthetic backups alone. */
function expectedProd(fixture: Fixture, generatedAt: string, extra: SyntheticBackup[] = []) {
  const all = [...fixture.backups, ...extra];
  const complete = all.filter((backup) => backup.manifest === 'valid');
  const plans = [null, 'pg', 'vectors'].map((plan) => {
    const mine = complete.filter((backup) => (backup.plan ?? null) === plan).sort((a, b) => a.time.getTime() - b.time.getTime() || a.backupId.localeCompare(b.backupId));
    const newest = mine.at(-1)!;
    return { plan, backupId: newest.backupId, ageSeconds: ageAt(generatedAt, finishedAtOf(newest)), artifacts: 1, bytes: `fake pg_dump of ${newest.backupId}\n`.length, completeBackups: mine.length };
  });
  const drills = all.flatMap((backup) => backup.drills.map((drill) => ({ backup, drill, finishedAt: new Date(backup.time.getTime() + drill.afterHours * HOUR).toISOString(), outcome: drill.outcome ?? (drill.passed ? 'passed' : 'failed') })));
  const newest = (list: typeof drills) => list.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt)).at(-1)!;
  const last = newest([...drills]);
  const lastPassing = newest(drills.filter((d) => d.outcome === 'passed'));
  const drBackup = all.find((backup) => backup.dr?.length)!;
  const dr = drBackup.dr![0]!;
  const drAt = new Date(drBackup.time.getTime() + dr.afterHours * HOUR + dr.rtoSeconds * 1000).toISOString();
  return {
    plans,
    last: { backupId: last.backup.backupId, depth: last.drill.depth, outcome: last.outcome, ageSeconds: ageAt(generatedAt, last.finishedAt) },
    lastPassing: { backupId: lastPassing.backup.backupId, depth: lastPassing.drill.depth, outcome: 'passed', ageSeconds: ageAt(generatedAt, lastPassing.finishedAt) },
    drillCounts: { passed: drills.filter((d) => d.outcome === 'passed').length, failed: drills.filter((d) => d.outcome === 'failed').length, inconclusive: drills.filter((d) => d.outcome === 'inconclusive').length },
    dr: { backupId: drBackup.backupId, ageSeconds: ageAt(generatedAt, drAt), rto: { seconds: 900, targetSeconds: 30 * 60, met: true }, rpo: { seconds: 7200, targetSeconds: 60 * 60, met: false } },
    completeBackups: complete.length,
    unreadable: all.filter((backup) => backup.manifest === 'unreadable').length,
  };
}

function checkProd(report: StatusReport, fixture: Fixture, extra: SyntheticBackup[] = []) {
  const expected = expectedProd(fixture, report.generatedAt, extra);
  const prod = report.stacks.find((stack) => stack.stack === 'prod')!;
  assert.deepEqual(
    prod.backups.map(({ plan, backupId, ageSeconds, artifacts, bytes, completeBackups }) => ({ plan, backupId, ageSeconds, artifacts, bytes, completeBackups })),
    expected.plans,
  );
  const { last, lastPassing, counts } = prod.drills!;
  assert.deepEqual(last && { backupId: last.backupId, depth: last.depth, outcome: last.outcome, ageSeconds: last.ageSeconds }, expected.last);
  assert.deepEqual(lastPassing && { backupId: lastPassing.backupId, depth: lastPassing.depth, outcome: lastPassing.outcome, ageSeconds: lastPassing.ageSeconds }, expected.lastPassing);
  assert.deepEqual(counts, expected.drillCounts);
  const dr = prod.dr!.last!;
  assert.deepEqual({ backupId: dr.backupId, ageSeconds: dr.ageSeconds, rto: dr.rto, rpo: dr.rpo }, expected.dr);
  assert.deepEqual(prod.counts, { completeBackups: expected.completeBackups, drRuns: 1, unreadable: expected.unreadable });
  return prod;
}

const sourceOf = (report: StatusReport, stack = 'prod') => {
  const found = report.stacks.find((entry) => entry.stack === stack)!.store;
  return found.known ? found.source : `unknown: ${found.cause}`;
};

/** The report without what moves with the clock or says how it was read. */
const settled = (report: StatusReport) =>
  JSON.parse(JSON.stringify(report, (key, value) => (['generatedAt', 'ageSeconds', 'store', 'schedules', 'runs', 'detail'].includes(key) ? undefined : value)));

describe('ragops status against 5,000 synthetic backups in moto', { timeout: 600_000 }, () => {
  let moto: TestMoto;
  let temporal: TestTemporal;
  let dir: { path: string; remove(): Promise<void> };
  let configPath: string;
  let fixture: Fixture;
  let store: StoreConfig;
  const bucket = 'status-store';
  const prefix = 'backups/';
  const env = { TEST_S3_ACCESS_KEY: 'testing', TEST_S3_SECRET_KEY: 'testing' };

  before(async () => {
    Object.assign(process.env, env);
    [moto, temporal, dir] = await Promise.all([startMoto(), startTestTemporal(), tempDir('status')]);
    await moto.createBucket(bucket);
    const storeConfig = s3StoreConfig(moto, bucket, prefix);
    const stacks = {
      stacks: {
        prod: {
          postgres: [{ name: 'app', database: 'app' }],
          store: storeConfig,
          plans: { pg: { components: ['postgres'] }, vectors: { components: ['postgres'] } },
          dr: { targets: { rtoMinutes: 30, rpoMinutes: 60 }, validation: { checks: [{ url: 'http://127.0.0.1:9/health' }] } },
        },
        edge: { postgres: [{ name: 'app', database: 'app' }], store: storeConfig, slo: { backupMaxAge: '1d', drillMaxAge: '7d' } },
      },
    };
    configPath = await writeStacksFile(dir.path, stacks);
    store = parseStacksFile(JSON.stringify(stacks), 'test').stacks.prod!.store;
    fixture = makeFixture(Date.now());
    const started = Date.now();
    await putAll(moto.s3, bucket, prefix, [...fixture.backups.flatMap((backup) => objectsOf('prod', backup, { minimal: true, withoutArtifacts: true })), ...fixture.edge.flatMap((backup) => objectsOf('edge', backup, { minimal: true, withoutArtifacts: true }))], 32);
    console.log(`wrote ${BACKUPS} synthetic backups in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    await Promise.allSettled([moto?.stop(), temporal?.stop(), dir?.remove()]);
  });

  const catalogKey = `${prefix}prod/catalog.json`;
  const statusOf = async () => readStatus(await loadStacksFile(configPath), { connect: undefined, pitr: false });

  it('rebuilds a missing catalog and reports correct ages and results', async () => {
    const first = await statusOf();
    const prod = checkProd(first, fixture);
    assert.equal(sourceOf(first), 'rebuilt');
    assert.deepEqual(prod.schedules, { known: false, cause: 'Temporal not asked' });
    await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: catalogKey })); // written back
    // prod: the newest complete backup is 70 minutes old, under no backup max age but the DR RPO of 60 minutes.
    assert.deepEqual(prod.breaches.map((breach) => breach.kind), ['backup-too-old']);

    const edge = first.stacks.find((stack) => stack.stack === 'edge')!;
    const newestEdge = fixture.edge.at(-1)!;
    assert.deepEqual(edge.backups.map((entry) => [entry.plan, entry.backupId, entry.ageSeconds]), [[null, newestEdge.backupId, ageAt(first.generatedAt, finishedAtOf(newestEdge))]]);
    assert.deepEqual(edge.breaches.map((breach) => breach.kind), ['backup-too-old', 'no-passing-drill', 'drill-failed']);
    assert.equal(edge.drills!.last!.outcome, 'failed');

    const again = await statusOf();
    assert.equal(sourceOf(again), 'catalog');
    checkProd(again, fixture);
    assert.deepEqual(settled(again), settled(first));

    await moto.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: catalogKey }));
    const rebuilt = await statusOf();
    assert.equal(sourceOf(rebuilt), 'rebuilt');
    assert.deepEqual(settled(rebuilt), settled(first), 'the catalog deleted → rebuilt, same output');

    const edgeKey = `${prefix}edge/catalog.json`;
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: edgeKey, Body: '{"formatVersion": 1, "stack": "edge", "plans": "garbage"}' }));
    const fromGarbage = await statusOf();
    assert.equal(sourceOf(fromGarbage, 'edge'), 'rebuilt');
    assert.deepEqual(settled(fromGarbage), settled(first), 'an unparsable catalog → rebuilt, same output');
  });

  it('shows a backup written straight into the store (a stale catalog catches up)', async () => {
    const newer = syntheticBackup(new Date(Math.floor((Date.now() - 5 * 60_000) / 1000) * 1000), 7777, { plan: 'vectors' });
    await putAll(moto.s3, bucket, prefix, objectsOf('prod', newer, { minimal: true }));
    const report = await statusOf();
    const prod = checkProd(report, fixture, [newer]);
    assert.equal(sourceOf(report), 'caught-up');
    assert.equal(prod.backups.find((entry) => entry.plan === 'vectors')!.backupId, newer.backupId);
    assert.deepEqual(prod.breaches, [], 'a 5-minute-old backup is within the RPO');
    fixture.backups.push(newer);
  });

  it('folds a manifest the backup activity writes into the catalog at once, and rebuilds a catalog past its age', async () => {
    const time = new Date(Math.floor((Date.now() - 60_000) / 1000) * 1000);
    const written = syntheticBackup(time, 8888, { plan: 'pg' });
    const manifestObject = objectsOf('prod', written, { minimal: true });
    await putAll(moto.s3, bucket, prefix, manifestObject.filter((object) => !object.key.endsWith('manifest.json')));
    const manifest = manifestSchema.parse(JSON.parse(manifestObject.find((object) => object.key.endsWith('manifest.json'))!.body));
    await createCatalogActivities().writeManifest({ store, manifest });
    const raw = JSON.parse(await (await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: catalogKey }))).Body!.transformToString()) as StackCatalog;
    assert.equal(raw.plans.find((plan) => plan.plan === 'pg')!.backupId, written.backupId, 'the catalog object itself holds the new backup');
    fixture.backups.push(written);
    const report = await statusOf();
    assert.equal(sourceOf(report), 'catalog');
    checkProd(report, fixture);

    const old = await withStore(store, (opened) => readStackCatalogWithSource(opened, 'edge', { now: () => new Date(Date.now() + 25 * HOUR) }));
    assert.equal(old.source, 'rebuilt');
    assert.match(old.why ?? '', /last rebuilt/);
  });

  it('the CLI prints it as JSON and as tables, with schedules and running runs from Temporal, and the store part when Temporal is unreachable', async () => {
    await (await createRunbookSchedule(temporal.client, 'backup', { input: { stack: 'prod', verify: 'none' }, cron: '0 0 1 1 *', scheduleId: 'ragops-backup-prod' })).pause('held for the test');
    const run = await temporal.client.workflow.start('backup', {
      taskQueue: 'status-test-no-worker',
      workflowId: 'backup-prod-status-test',
      args: [{ stack: 'prod' }],
      typedSearchAttributes: [{ key: RagopsStack, value: 'prod' }, { key: RagopsRunbook, value: 'backup' }, { key: RagopsPhase, value: 'dump app' }],
    });
    for (let tries = 0; ; tries += 1) {
      const listed = [];
      for await (const execution of temporal.client.workflow.list({ query: `WorkflowId = "${run.workflowId}"` })) listed.push(execution);
      if (listed.length > 0) break;
      assert.ok(tries < 50, 'the run never showed in visibility');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const cliEnv = { ...env, RAGOPS_CONFIG: configPath, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace, RAGOPS_UI_URL: 'http://ui.example:8233' };
    const started = Date.now();
    const cli = await execa(process.execPath, [RAGOPS, 'status', '--json'], { env: cliEnv, reject: false, all: false });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(cli.exitCode, 0, cli.stderr);
    const report = JSON.parse(cli.stdout) as StatusReport;
    const prod = checkProd(report, fixture);
    console.log(`ragops status --json (child process, catalog present): ${seconds.toFixed(2)} s`);
    assert.deepEqual(prod.schedules, { known: true, items: [{ scheduleId: 'ragops-backup-prod', workflowType: 'backup', paused: true, note: 'held for the test', nextRun: prod.schedules.known ? prod.schedules.items[0]!.nextRun : '' }] });
    assert.ok(prod.schedules.known && prod.schedules.items[0]!.nextRun?.endsWith('-01-01T00:00:00.000Z'));
    assert.deepEqual(prod.runs.known && prod.runs.items.map((item) => [item.runbook, item.phase, item.workflowId, item.uiUrl.startsWith('http://ui.example:8233/') && item.uiUrl.includes(run.workflowId)]), [['backup', 'dump app', run.workflowId, true]]);
    assert.ok(prod.breaches.some((breach) => breach.kind === 'schedule-paused'));
    const edge = report.stacks.find((stack) => stack.stack === 'edge')!;
    assert.deepEqual(edge.schedules, { known: true, items: [] });

    const human = await execa(process.execPath, [RAGOPS, 'status', '--stack', 'prod'], { env: cliEnv, reject: false });
    assert.equal(human.exitCode, 0, human.stderr);
    assert.match(human.stdout, /^stack prod {2}— 1 SLO BREACH\(ES\)$/m);
    assert.match(human.stdout, new RegExp(`! +ragops-backup-prod +PAUSED`));
    assert.match(human.stdout, new RegExp(`backup +dump app +\\S+ +${run.workflowId} +http://ui\\.example:8233/`));
    assert.match(human.stdout, /last +INCONCLUSIVE restore/);
    assert.match(human.stdout, /RTO 15m of 30m, RPO 2h 00m of 1h 00m MISSED/);
    assert.doesNotMatch(human.stdout, /stack edge/);

    const unreachable = await execa(process.execPath, [RAGOPS, 'status', '--json'], { env: { ...cliEnv, TEMPORAL_ADDRESS: '127.0.0.1:1' }, reject: false });
    assert.equal(unreachable.exitCode, 0, unreachable.stderr);
    const offline = JSON.parse(unreachable.stdout) as StatusReport;
    checkProd(offline, fixture);
    const offlineProd = offline.stacks.find((stack) => stack.stack === 'prod')!;
    assert.equal(offlineProd.schedules.known, false);
    assert.match(!offlineProd.schedules.known ? offlineProd.schedules.cause : '', /Temporal unreachable/);
    assert.equal(offlineProd.runs.known, false);
    const unknownStack = await execa(process.execPath, [RAGOPS, 'status', '--stack', 'nope'], { env: cliEnv, reject: false });
    assert.equal(unknownStack.exitCode, 2, 'invalid input');
    assert.match(unknownStack.stderr, /no stack "nope"/);
    await run.terminate('test over');
  });
});
