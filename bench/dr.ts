// `npm run bench -- dr`: a disaster-recovery drill as an operator runs it — the
// `disasterRecovery` workflow in mode drill, approve auto, on a real `ragops worker` process —
// of a stack holding a --size-mb PostgreSQL database (lib/benchDatabase.ts, realistic indexes)
// and --points points in two Qdrant collections of --dims-dimensional vectors, into a second
// stack: its own database on the same server and its own Qdrant (a second stand-in), no
// services, one end-to-end HTTP check against a loopback server. It prints the drill's RTO and
// its 'restore data' phase's time over the raw tools doing the same from the same stored files,
// one after the other: `pg_restore -j 2` of the dump into a fresh database, then each
// collection's snapshot uploaded with curl (`POST …/snapshots/upload?priority=snapshot`).
// Drill and raw alternate in rounds (lib/repeat.ts). It prints figures and asserts nothing.
import type { Client } from '@temporalio/client';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackup, startDisasterRecovery, startVerify } from '../src/client/api/runbooks.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import { startCheckServer } from '../test/support/check-server.js';
import { startQdrantStandin, type QdrantStandin } from '../test/support/qdrant/index.js';
import { tempDir, uniqueName, writeStacksFile } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { BENCH_DATABASES, checkpoint, dropDatabaseIfExists, MiB, prepareBenchDatabase, type BenchDatabase } from './lib/benchDatabase.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { activityTimesOf, formatActivityTimes, type ActivityTimes } from './lib/drActivities.js';
import { deleteCollections, pointCounts, seedCollections, uploadSnapshotWithCurl, type SeededCollection } from './lib/drQdrant.js';
import { startReadyWorker } from './lib/ragopsBackup.js';
import { pgRestoreFromFile } from './lib/rawRestores.js';
import { inRounds, method } from './lib/repeat.js';
import { formatTable, median, megabytes, ratio, seconds } from './lib/textTable.js';
import { UsageError } from './lib/usageError.js';

export const drUsage = 'dr [--size-mb 1024] [--points 200000] [--dims 64] [--runs 3] [--fresh]';

const STACK = 'dr-bench';
const DRILL_STACK = 'dr-bench-drill';
const LABEL = 'app';
const JOBS = 2;
/**
 * 64 by default: the Qdrant stand-in writes a collection's snapshot as one JSON string, which V8
 * caps near 512 MB — 100,000 points of 384 dimensions exceed it (a real Qdrant has no such cap).
 */
const DEFAULT_DIMS = 64;
const COLLECTIONS = ['bench_chunks', 'bench_faq'];
/** The drill's 'restore data' phase over pg_restore -j 2 + the uploads by hand. */
const TARGET_OVER_RAW = 1.15;
const DRILL_DATABASE = 'ragops_bench_dr_drill';
const RAW_DATABASE = 'ragops_bench_dr_raw';

interface DrOptions {
  sizeMb: number;
  points: number;
  dims: number;
  runs: number;
  fresh: boolean;
}

interface Environment {
  client: Client;
  taskQueue: string;
  storeDir: string;
  drillQdrant: QdrantStandin;
}

/** The stored files the drill restores from, which the raw tools restore from too. */
interface Backup {
  backupId: string;
  dumpFile: string;
  dumpBytes: number;
  snapshots: Array<{ collection: string; file: string; bytes: number }>;
}

interface DrillRun {
  ms: number;
  report: DrReport;
  restoreDataMs: number;
  rtoSeconds: number;
  /** Each child restore run, by kind: its wall time and its activities' times, from its Temporal history. */
  children: Record<string, ActivityTimes>;
  /** Phases other than 'restore data', by name (skipped ones left out). */
  otherPhases: Record<string, number>;
}

interface RawRun {
  /** pg_restore + the uploads: the baseline. */
  ms: number;
  pgRestoreMs: number;
  uploadMs: number[];
  createdbMs: number;
  dropdbMs: number;
}

function parseOptions(args: string[]): DrOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'size-mb': { type: 'string', default: '1024' },
        points: { type: 'string', default: '200000' },
        dims: { type: 'string', default: String(DEFAULT_DIMS) },
        runs: { type: 'string', default: '3' },
        fresh: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [sizeMb, points, runs] = [Number(values['size-mb']), Number(values.points), Number(values.runs)];
  if (!Number.isInteger(sizeMb) || sizeMb < 16) throw new UsageError(`--size-mb takes a whole number of MiB, at least 16, not "${values['size-mb']}"`);
  if (!Number.isInteger(points) || points < COLLECTIONS.length || points > 10_000_000) throw new UsageError(`--points takes a whole number from ${COLLECTIONS.length} to 10000000, not "${values.points}"`);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError(`--runs takes a whole number from 1 to 100, not "${values.runs}"`);
  const dims = Number(values.dims);
  if (!Number.isInteger(dims) || dims < 2 || dims > 4096) throw new UsageError(`--dims takes a whole number from 2 to 4096, not "${values.dims}"`);
  return { sizeMb, points, dims, runs, fresh: values.fresh };
}

export async function benchDr(args: string[]): Promise<void> {
  const options = parseOptions(args);
  // The 1 GiB database the other benchmarks share; any other size has its own, kept likewise.
  const spec = options.sizeMb === 1024 ? BENCH_DATABASES.full[0] : { name: `ragops_bench_dr_${options.sizeMb}m`, targetBytes: options.sizeMb * MiB };
  const database = await prepareBenchDatabase(spec, options);

  const cleanup = new CleanupStack();
  const removeSignalHandlers = cleanup.onSignals();
  try {
    const { env, seeded } = await startEnvironment(cleanup, database, options);

    const backup = await backUpAndDrill(env);
    console.log('\ndrills (ragops) and the raw tools, in rounds:');
    const drill = method('ragops dr drill', () => drillOnce(env), describeDrill);
    const raw = method(`pg_restore -j ${JOBS} + curl`, () => rawOnce(env, backup, seeded), describeRaw);
    await inRounds(options.runs, [drill, raw]);
    printSummary(options, database, seeded, backup, drill.results, raw.results);
  } finally {
    await cleanup.runAll();
    removeSignalHandlers();
  }
}

/**
 * Temporal, the two Qdrant stand-ins (production seeded with the collections), the check
 * server, the stacks file of both stacks and a ragops worker; everything registered for cleanup.
 */
async function startEnvironment(cleanup: CleanupStack, database: BenchDatabase, options: DrOptions): Promise<{ env: Environment; seeded: SeededCollection[] }> {
  const scratch = await tempDir('bench-dr');
  cleanup.add('remove the scratch directory', () => scratch.remove());
  const temporal = await startTestTemporal();
  cleanup.add('stop Temporal', () => temporal.stop());
  const prodQdrant = await startQdrantStandin();
  cleanup.add('stop the production Qdrant stand-in', () => prodQdrant.stop());
  const drillQdrant = await startQdrantStandin();
  cleanup.add('stop the drill Qdrant stand-in', () => drillQdrant.stop());
  const checks = await startCheckServer();
  cleanup.add('stop the check server', () => checks.stop());
  // Run after the worker stops (registered before it): whatever a failed round left behind.
  cleanup.add(`drop ${DRILL_DATABASE} and ${RAW_DATABASE} if left`, async () => {
    for (const name of [DRILL_DATABASE, RAW_DATABASE]) if (await dropDatabaseIfExists(name)) console.error(`cleanup: dropped leftover ${name}`);
  });

  console.log(`\nseeding ${options.points} points of ${options.dims} dimensions into ${COLLECTIONS.join(', ')} on the production Qdrant stand-in…`);
  const seedStarted = performance.now();
  const seeded = await seedCollections(prodQdrant.url, COLLECTIONS, options.points, options.dims);
  console.log(`  ${seeded.map((c) => `${c.name} ${c.points}`).join(', ')} in ${seconds(performance.now() - seedStarted)} s`);

  const storeDir = join(scratch.path, 'store');
  const drillTempDir = join(scratch.path, 'drill-tmp');
  await mkdir(drillTempDir);
  const store = { type: 'fs', path: storeDir };
  const postgres = (name: string) => [{ name: LABEL, host: '127.0.0.1', port: 5432, database: name, user: 'postgres' }];
  const configPath = await writeStacksFile(scratch.path, {
    stacks: {
      [STACK]: {
        postgres: postgres(database.name),
        qdrant: { url: prodQdrant.url, collections: ['*'] },
        store,
        drill: { localDisk: true, jobs: JOBS, tempDir: drillTempDir },
        dr: {
          targets: { rtoMinutes: 60, rpoMinutes: 1440 },
          writers: [],
          services: [],
          validation: { checks: [{ url: checks.url('/health'), expectStatus: 200, timeoutSeconds: 10, intervalMs: 200 }] },
          drillStack: DRILL_STACK,
        },
      },
      [DRILL_STACK]: {
        postgres: postgres(DRILL_DATABASE),
        qdrant: { url: drillQdrant.url, collections: ['*'] },
        store,
        drill: { localDisk: true, jobs: JOBS, tempDir: drillTempDir },
      },
    },
  });
  const taskQueue = uniqueName('bench-dr');
  console.log('starting a ragops worker (bundling the workflows)…');
  const worker = await startReadyWorker({ address: temporal.address, taskQueue, configPath });
  cleanup.add(`stop the ragops worker (pid ${worker.pid})`, () => worker.stop());
  return { env: { client: temporal.client, taskQueue, storeDir, drillQdrant }, seeded };
}

/** One backup of the whole stack and a restore-depth drill of it (the DR assess phase picks only drilled backups); untimed. */
async function backUpAndDrill(env: Environment): Promise<Backup> {
  console.log(`\nbacking up ${STACK} (postgres + qdrant) to the fs store, untimed…`);
  let started = performance.now();
  const report = await (await startBackup(env.client, { stack: STACK }, { taskQueue: env.taskQueue })).result();
  const dump = report.artifacts.find((a) => a.component === 'postgres');
  if (!dump) throw new Error(`backup ${report.backupId} has no postgres artifact`);
  const snapshots = report.artifacts
    .filter((a) => a.component === 'qdrant')
    .map((a) => ({ collection: a.name, file: join(env.storeDir, a.key), bytes: a.size }));
  if (snapshots.length !== COLLECTIONS.length) throw new Error(`backup ${report.backupId} has ${snapshots.length} collection snapshots, not ${COLLECTIONS.length}`);
  console.log(
    `  backup ${report.backupId} in ${seconds(performance.now() - started)} s: dump ${megabytes(dump.size)} MB, ` +
      snapshots.map((s) => `${s.collection} ${megabytes(s.bytes)} MB`).join(', '),
  );
  console.log('  restore-depth drill of it (verifyBackup), untimed…');
  started = performance.now();
  const verified = await (await startVerify(env.client, { stack: STACK, backupId: report.backupId, depth: 'restore' }, { taskQueue: env.taskQueue })).result();
  if (!verified.passed) throw new Error(`the restore drill of ${report.backupId} did not pass: ${JSON.stringify(verified.checks.filter((c) => !c.passed))}`);
  console.log(`  passed in ${seconds(performance.now() - started)} s`);
  return { backupId: report.backupId, dumpFile: join(env.storeDir, dump.key), dumpBytes: dump.size, snapshots };
}

/** One `disasterRecovery` drill, timed from start to result; its phases from the report, its child restores from Temporal. */
async function drillOnce(env: Environment): Promise<DrillRun> {
  await checkpoint();
  const started = performance.now();
  const handle = await startDisasterRecovery(env.client, { stack: STACK, mode: 'drill', approve: 'auto' }, { taskQueue: env.taskQueue });
  const report = (await handle.result()) as DrReport;
  const ms = performance.now() - started;
  if (report.outcome !== 'drilled') throw new Error(`the drill ended ${report.outcome}: ${JSON.stringify(report.failure)}`);
  const restoreData = report.phases.find((p) => p.phase === 'restore data');
  if (!restoreData || restoreData.outcome !== 'done') throw new Error(`the drill report has no finished 'restore data' phase: ${JSON.stringify(report.phases)}`);
  if (!report.rto) throw new Error('the drill report has no RTO');
  const children: Record<string, ActivityTimes> = {};
  for (const restore of report.restores) children[restore.kind] = await activityTimesOf(env.client, restore.workflowId);
  const otherPhases = Object.fromEntries(report.phases.filter((p) => p.phase !== 'restore data' && p.outcome !== 'skipped').map((p) => [p.phase, p.durationMs]));
  // The teardown must leave the drill stack empty, or the next round restores over leftovers.
  const left = [
    ...Object.keys(await pointCounts(env.drillQdrant.url)).map((c) => `collection ${c}`),
    ...((await dropDatabaseIfExists(DRILL_DATABASE)) ? [`database ${DRILL_DATABASE} (dropped now)`] : []),
  ];
  if (left.length > 0) throw new Error(`the drill's teardown left ${left.join(', ')} (teardown: ${JSON.stringify(report.teardown)})`);
  return { ms, report, restoreDataMs: restoreData.durationMs, rtoSeconds: report.rto.seconds, children, otherPhases };
}

/**
 * The raw tools from the same stored files: createdb, `pg_restore -j 2` (timed), then each
 * snapshot uploaded with curl to the drill Qdrant (timed), one after the other; the point
 * counts checked against the seed, then the database and the collections removed (untimed).
 */
async function rawOnce(env: Environment, backup: Backup, seeded: SeededCollection[]): Promise<RawRun> {
  await checkpoint();
  const names = backup.snapshots.map((s) => s.collection);
  try {
    // pgRestoreFromFile drops the database after timing pg_restore: the uploads need no database.
    const pg = await pgRestoreFromFile(backup.dumpFile, RAW_DATABASE, JOBS);
    const uploadMs: number[] = [];
    for (const snapshot of backup.snapshots) uploadMs.push(await uploadSnapshotWithCurl(env.drillQdrant.url, snapshot.collection, snapshot.file));
    const counts = await pointCounts(env.drillQdrant.url);
    const wrong = seeded.filter((c) => counts[c.name] !== c.points).map((c) => `${c.name}: ${counts[c.name] ?? 'absent'} of ${c.points}`);
    if (wrong.length > 0) throw new Error(`the uploads by hand recovered the wrong point counts: ${wrong.join(', ')}`);
    const uploads = uploadMs.reduce((sum, value) => sum + value, 0);
    return { ms: pg.ms + uploads, pgRestoreMs: pg.ms, uploadMs, createdbMs: pg.createdbMs, dropdbMs: pg.dropdbMs };
  } finally {
    await deleteCollections(env.drillQdrant.url, names);
  }
}

const describeDrill = (run: DrillRun) =>
  `: restore data ${seconds(run.restoreDataMs)} s (${Object.entries(run.children).map(([kind, child]) => `${kind} ${seconds(child.wallMs)}`).join(' + ')}), RTO ${run.rtoSeconds} s`;

const describeRaw = (run: RawRun) =>
  `: pg_restore ${seconds(run.pgRestoreMs)} s + uploads ${run.uploadMs.map(seconds).join(' + ')} s (createdb ${seconds(run.createdbMs)} s, dropdb ${seconds(run.dropdbMs)} s not in the time)`;

const medianOf = <T>(items: T[], value: (item: T) => number) => median(items.map(value));

function printSummary(options: DrOptions, database: BenchDatabase, seeded: SeededCollection[], backup: Backup, drills: DrillRun[], raws: RawRun[]): void {
  const rawMs = medianOf(raws, (r) => r.ms);
  const restoreDataMs = medianOf(drills, (d) => d.restoreDataMs);
  const pgChild = medianOf(drills, (d) => d.children.postgres?.wallMs ?? NaN);
  const qdrantChild = medianOf(drills, (d) => d.children.qdrant?.wallMs ?? NaN);
  const rawPg = medianOf(raws, (r) => r.pgRestoreMs);
  const rawUploads = medianOf(raws, (r) => r.uploadMs.reduce((sum, value) => sum + value, 0));
  const rtoSeconds = medianOf(drills, (d) => d.rtoSeconds);
  const wallMs = medianOf(drills, (d) => d.ms);

  console.log(
    `\nResults: ${database.name} (${database.bytes} bytes, dump ${backup.dumpBytes} bytes) and ${seeded.map((c) => `${c.name} (${c.points} points)`).join(', ')} ` +
      `of ${options.dims} dimensions (snapshots ${backup.snapshots.map((s) => `${s.bytes}`).join(' + ')} bytes), drilled from stack ${STACK} into ${DRILL_STACK}. ` +
      `Medians of ${options.runs} run${options.runs === 1 ? '' : 's'}.\n`,
  );
  console.log(
    formatTable(
      ['data restore', 'total s', '× raw', 'postgres s', 'qdrant s'],
      [
        [`pg_restore -j ${JOBS} + curl uploads, by hand`, seconds(rawMs), '1.00', seconds(rawPg), seconds(rawUploads)],
        ['ragops drill: restore data phase', seconds(restoreDataMs), ratio(restoreDataMs, rawMs), seconds(pgChild), seconds(qdrantChild)],
      ],
      1,
    ),
  );
  console.log(
    `\nColumns: ragops' postgres and qdrant are its child restore runs' wall times (Temporal start to close); the phase also holds the scheduling ` +
      `between them. The raw time leaves out createdb (median ${seconds(medianOf(raws, (r) => r.createdbMs))} s) and dropdb, as an operator's ` +
      `pg_restore -d needs the database made first; ragops' restore makes its own database inside the phase.`,
  );

  // The run with the median restore-data time (the lower middle one for an even count), so its parts add up.
  const middle = [...drills].sort((a, b) => a.restoreDataMs - b.restoreDataMs)[Math.floor((drills.length - 1) / 2)]!;
  const rawMiddle = [...raws].sort((a, b) => a.ms - b.ms)[Math.floor((raws.length - 1) / 2)]!;
  console.log(`\nWhere the drill's restore-data time goes (its median run, ${seconds(middle.restoreDataMs)} s; by hand ${seconds(rawMiddle.ms)} s):`);
  for (const [kind, child] of Object.entries(middle.children)) {
    const inActivities = Object.values(child.activities).reduce((sum, ms) => sum + ms, 0);
    const byHand = kind === 'postgres' ? `pg_restore ${seconds(rawMiddle.pgRestoreMs)} s` : kind === 'qdrant' ? `uploads ${seconds(rawMiddle.uploadMs.reduce((a, b) => a + b, 0))} s` : '—';
    console.log(`  ${kind} restore run ${seconds(child.wallMs)} s (by hand: ${byHand}): activities ${formatActivityTimes(child.activities)}; outside activities ${seconds(child.wallMs - inActivities)} s`);
  }
  const inChildren = Object.values(middle.children).reduce((sum, child) => sum + child.wallMs, 0);
  console.log(`  in the phase outside the child runs (starting them, waiting for their results): ${seconds(middle.restoreDataMs - inChildren)} s`);

  const phaseNames = [...new Set(drills.flatMap((d) => Object.keys(d.otherPhases)))];
  console.log(
    `\nThe drill end to end: median wall time ${seconds(wallMs)} s; RTO (run start → validation passed) ${rtoSeconds.toFixed(1)} s; ` +
      `other phases: ${phaseNames.map((name) => `${name} ${seconds(medianOf(drills, (d) => d.otherPhases[name] ?? 0))} s`).join(', ')}; ` +
      `then the teardown of what it created in ${DRILL_STACK}.`,
  );

  const r = restoreDataMs / rawMs;
  console.log('\nTarget:');
  console.log(`  restore data phase: ${r.toFixed(2)} × pg_restore -j ${JOBS} + uploads by hand (≤ ${TARGET_OVER_RAW.toFixed(2)}): ${r <= TARGET_OVER_RAW ? 'within target' : 'OVER TARGET'}`);
  console.log(`  RTO of the drill: ${rtoSeconds.toFixed(1)} s (the stack's rtoMinutes, 60, is a placeholder: no target for the figure)`);
}
