// `npm run bench -- pitr`: what ragops' physical (pgBackRest) backups and point-in-time drills
// cost, on a PostgreSQL 15 cluster of the benchmark's own that archives its WAL to an encrypted
// posix repository (test/support/pitr-stack.ts), filled to --size-mb with random text:
//   - the ragops `backup` workflow of the pgbackrest component (a real `ragops worker`
//     process, `physicalType: 'full'`, `prune: false`) against `pgbackrest backup --type=full
//     --start-fast --no-expire-auto` run by hand with the same config, in rounds (lib/repeat.ts);
//   - then, per run, 1 % of the rows rewritten (a fresh id range each time) and a ragops
//     incremental backup: its time and bytes over the full one's;
//   - a `verifyBackup` drill at restore depth of the newest backup, to its end: pgbackrest
//     restore into a scratch directory, then a scratch server recovering until consistent
//     and promoted (the drill's 'recovery' check).
// pgBackRest 2.45's incrementals copy every changed relation file whole (lib/pitrDatabase.ts):
// --partitions 1 shows that worst case. It prints figures and asserts nothing.
import type { Client } from '@temporalio/client';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackup, startVerify } from '../src/client/api/runbooks.js';
import { manifestSchema, type PhysicalBackup, type VerificationCheck } from '../src/config/manifest.js';
import type { PgbackrestBackupType } from '../src/core/pgbackrest.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { startPitrStack, type PitrStack } from '../test/support/pitr-stack.js';
import { tempDir, uniqueName, writeStacksFile } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { MiB } from './lib/benchDatabase.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { fillBulkTable, rewriteSlice, waitForArchive, type BulkTable } from './lib/pitrDatabase.js';
import { startReadyWorker } from './lib/ragopsBackup.js';
import { rawPgbackrestBackup } from './lib/rawPgbackrest.js';
import { inRounds, method, type Timed } from './lib/repeat.js';
import { formatTable, median, megabytes, megabytesPerSecond, ratio, seconds } from './lib/textTable.js';
import { UsageError } from './lib/usageError.js';

export const pitrUsage = 'pitr [--size-mb 1024] [--runs 3] [--partitions 100]';

const STACK = 'pitr-bench';
const STANZA = 'bench-pitr';
/** ragops' full backup over the same `pgbackrest backup` by hand. */
const TARGET_OVER_RAW = 1.05;
const CHANGED_FRACTION = 0.01;
const ARCHIVE_TIMEOUT_MS = 15 * 60_000;

interface PitrOptions {
  sizeMb: number;
  runs: number;
  partitions: number;
}

/** One physical backup: wall time, and pgBackRest's account of what it made. */
interface BackupRun {
  ms: number;
  /** ragops: the pgbackrestBackup activity's own duration (the manifest's durationMs). */
  activityMs?: number;
  label: string;
  type: PgbackrestBackupType;
  sizes: PhysicalBackup['sizes'];
  backupId?: string;
  /** Rows rewritten before an incremental backup. */
  changedRows?: number;
}

/** One drill, and the figures of its checks. */
interface DrillRun {
  ms: number;
  report: VerifyReport;
  restoreMs: number;
  /** The 'recovery' check: the scratch server configured, started, consistent and promoted. */
  recoveryCheckMs: number;
  /** Its figures.recoverySeconds: server start to promoted. */
  recoverySeconds: number;
  rowCountsMs: number;
}

interface Environment {
  client: Client;
  stack: PitrStack;
  storeDir: string;
  taskQueue: string;
}

function parseOptions(args: string[]): PitrOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { 'size-mb': { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' }, partitions: { type: 'string', default: '100' } },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [sizeMb, runs, partitions] = [Number(values['size-mb']), Number(values.runs), Number(values.partitions)];
  if (!Number.isInteger(sizeMb) || sizeMb < 16) throw new UsageError(`--size-mb takes a whole number of MiB, at least 16, not "${values['size-mb']}"`);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError(`--runs takes a whole number from 1 to 100, not "${values.runs}"`);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) throw new UsageError(`--partitions takes a whole number from 1 to 1000, not "${values.partitions}"`);
  return { sizeMb, runs, partitions };
}

export async function benchPitr(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const cleanup = new CleanupStack();
  const removeSignalHandlers = cleanup.onSignals();
  try {
    const env = await startEnvironment(cleanup);
    const table = await fill(env.stack, options);

    console.log('\nfull backups, ragops and by hand, in rounds:');
    const ragopsFull = method('ragops full', () => ragopsBackup(env, 'full'), describeBackup);
    const rawFull = method('pgbackrest full by hand', () => rawBackup(env.stack), describeBackup);
    await inRounds(options.runs, [ragopsFull, rawFull]);

    console.log(`\nincremental backups, each after ${CHANGED_FRACTION * 100} % of the rows were rewritten:`);
    let slice = 0;
    const incr = method('ragops incr', () => changeThenIncr(env, table, slice++), describeBackup);
    await inRounds(options.runs, [incr]);

    console.log('\ndrills of the newest backup, to its end:');
    const newest = incr.results.at(-1)!;
    const drill = method('ragops drill', () => drillOnce(env, newest.backupId!), describeDrill);
    await inRounds(options.runs, [drill]);

    printSummary(options, table, ragopsFull, rawFull, incr, drill);
  } finally {
    await cleanup.runAll();
    removeSignalHandlers();
  }
}

/** Temporal dev server, the archiving cluster with its stanza, an fs store in a scratch directory, and a ragops worker process. */
async function startEnvironment(cleanup: CleanupStack): Promise<Environment> {
  const temporal = await startTestTemporal();
  cleanup.add('stop Temporal', () => temporal.stop());
  console.log('starting a PostgreSQL 15 cluster that archives to pgBackRest, and creating the stanza…');
  // Many fulls go into the repository; a retention this large expires none of them should anything run expire.
  const stack = await startPitrStack(STANZA, { retentionFull: 100 });
  cleanup.add('stop the cluster and remove the pgBackRest repository', () => stack.stop());
  const scratch = await tempDir('bench-pitr');
  cleanup.add('remove the scratch directory', () => scratch.remove());

  const storeDir = join(scratch.path, 'store');
  const configPath = await writeStacksFile(scratch.path, { stacks: { [STACK]: stack.stack({ type: 'fs', path: storeDir }) } });
  const taskQueue = uniqueName('bench-pitr');
  console.log('starting a ragops worker (bundling the workflows)…');
  const worker = await startReadyWorker({ address: temporal.address, taskQueue, configPath, env: stack.secretEnv() });
  cleanup.add(`stop the ragops worker (pid ${worker.pid})`, () => worker.stop());
  return { client: temporal.client, stack, storeDir, taskQueue };
}

/** The bulk table to the size asked, the archive caught up, and one row in the freshness table for the drill's recovered point. */
async function fill(stack: PitrStack, options: PitrOptions): Promise<BulkTable> {
  const db = await stack.connect();
  try {
    const layout = options.partitions === 1 ? 'one table' : `${options.partitions} range partitions`;
    console.log(`filling database ${stack.database} to ${options.sizeMb} MiB (bulk: random md5 text, ${layout})…`);
    let reported = 0;
    const table = await fillBulkTable(db, options.sizeMb * MiB, options.partitions, (done, of) => {
      if (done === of || done - reported >= of / 10) {
        console.log(`  ${done} of ${of} rows`);
        reported = done;
      }
    });
    console.log(`  ${table.rows} rows, database ${table.databaseBytes} bytes (${megabytes(table.databaseBytes)} MB) in ${seconds(table.fillMs)} s; waiting for the WAL archive to catch up…`);
    const started = performance.now();
    await waitForArchive(db, ARCHIVE_TIMEOUT_MS);
    await stack.insertEvent(db, 'before the benchmark backups');
    console.log(`  archived in ${seconds(performance.now() - started)} s more`);
    return table;
  } finally {
    await db.end();
  }
}

/** The backup workflow, pgbackrest component only, timed from start to result; what it made read from its manifest. */
async function ragopsBackup(env: Environment, physicalType: PgbackrestBackupType): Promise<BackupRun> {
  const started = performance.now();
  const handle = await startBackup(env.client, { stack: STACK, components: ['pgbackrest'], physicalType, prune: false }, { taskQueue: env.taskQueue });
  const report = await handle.result();
  const ms = performance.now() - started;
  const manifest = manifestSchema.parse(JSON.parse(await readFile(join(env.storeDir, report.manifestKey), 'utf8')));
  const physical = manifest.physical?.[0];
  if (!physical) throw new Error(`backup ${report.backupId} of ${STACK} has no physical backup in ${report.manifestKey}`);
  if (physical.type !== physicalType) throw new Error(`asked for a ${physicalType} backup, pgBackRest made ${physical.label} ${physical.type}`);
  return { ms, activityMs: physical.durationMs, label: physical.label, type: physical.type, sizes: physical.sizes, backupId: report.backupId };
}

async function rawBackup(stack: PitrStack): Promise<BackupRun> {
  const { ms, backup } = await rawPgbackrestBackup(stack.pitr.invocation, 'full', (spec) => stack.pitr.run(spec));
  return { ms, label: backup.label, type: backup.type, sizes: backup.sizes };
}

/** Rewrites the next 1 % slice, lets the archive catch up (untimed), then one timed ragops incr. */
async function changeThenIncr(env: Environment, table: BulkTable, slice: number): Promise<BackupRun> {
  const db = await env.stack.connect();
  let changedRows: number;
  try {
    changedRows = await rewriteSlice(db, table, CHANGED_FRACTION, slice);
    await waitForArchive(db, ARCHIVE_TIMEOUT_MS);
  } finally {
    await db.end();
  }
  return { ...(await ragopsBackup(env, 'incr')), changedRows };
}

function checkNamed(report: VerifyReport, name: string): VerificationCheck {
  const found = report.checks.find((check) => check.name === name);
  if (!found) throw new Error(`drill of ${report.backupId} reported no "${name}" check: ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
}

async function drillOnce(env: Environment, backupId: string): Promise<DrillRun> {
  const started = performance.now();
  const handle = await startVerify(env.client, { stack: STACK, backupId, depth: 'restore' }, { taskQueue: env.taskQueue });
  const report = await handle.result();
  const ms = performance.now() - started;
  if (!report.passed) throw new Error(`drill of ${backupId} did not pass: ${JSON.stringify(report.checks)}`);
  const recovery = checkNamed(report, 'recovery');
  return {
    ms,
    report,
    restoreMs: checkNamed(report, 'pgbackrest restore').durationMs,
    recoveryCheckMs: recovery.durationMs,
    recoverySeconds: Number(recovery.figures.recoverySeconds),
    rowCountsMs: checkNamed(report, 'row counts').durationMs,
  };
}

const describeBackup = (run: BackupRun) =>
  `, ${run.label}${run.changedRows !== undefined ? ` after ${run.changedRows} rows rewritten` : ''}: ${run.sizes.deltaBytes} of ${run.sizes.databaseBytes} bytes copied, ` +
  `${run.sizes.repositoryDeltaBytes} stored${run.activityMs !== undefined ? `, activity ${seconds(run.activityMs)} s` : ''}`;

const describeDrill = (run: DrillRun) =>
  `, restore ${seconds(run.restoreMs)} s, recovery check ${seconds(run.recoveryCheckMs)} s (server start → promoted ${run.recoverySeconds.toFixed(2)} s), row counts ${seconds(run.rowCountsMs)} s`;

/** The run with the median wall time (the lower middle one for an even number), so its byte figures belong together. */
function medianRun<T extends { ms: number }>(runs: T[]): T {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const percent = (part: number, whole: number) => `${((part / whole) * 100).toFixed(2)} %`;

function printSummary(
  options: PitrOptions,
  table: BulkTable,
  ragopsFull: Timed<BackupRun>,
  rawFull: Timed<BackupRun>,
  incr: Timed<BackupRun>,
  drill: Timed<DrillRun>,
): void {
  const runs = options.runs;
  const msOf = (m: Timed<BackupRun>) => median(m.results.map((r) => r.ms));
  const activityOf = (m: Timed<BackupRun>) => (m.results[0]?.activityMs === undefined ? undefined : median(m.results.map((r) => r.activityMs!)));
  const [raw, full] = [msOf(rawFull), msOf(ragopsFull)];
  const fullSizes = medianRun(ragopsFull.results).sizes;
  const rows = [rawFull, ragopsFull, incr].map((m) => {
    const ms = msOf(m);
    const activityMs = activityOf(m);
    const { sizes } = medianRun(m.results);
    return [
      m === rawFull ? 'pgbackrest backup --type=full (by hand)' : m === ragopsFull ? 'ragops backup, full' : `ragops backup, incr (${CHANGED_FRACTION * 100} % rewritten)`,
      seconds(ms),
      ratio(ms, raw),
      ratio(ms, full),
      activityMs === undefined ? '—' : seconds(activityMs),
      activityMs === undefined ? '—' : ratio(activityMs, raw),
      String(sizes.databaseBytes),
      String(sizes.deltaBytes),
      String(sizes.repositoryDeltaBytes),
      percent(sizes.deltaBytes, fullSizes.deltaBytes),
      megabytesPerSecond(sizes.deltaBytes, ms),
    ];
  });
  const layout = options.partitions === 1 ? 'one table' : `${options.partitions} partitions of ${table.rowsPerPartition} rows`;
  console.log(
    `\nResults: database ${table.databaseBytes} bytes (${megabytes(table.databaseBytes)} MB; bulk: ${table.rows} rows, ${layout}); ` +
      `median of ${runs} run${runs === 1 ? '' : 's'}, byte figures of the median run; MB = 10^6 bytes\n`,
  );
  console.log(
    formatTable(
      ['backup', 'wall s', '× by hand', '× ragops full', 'activity s', 'act. × by hand', 'cluster bytes', 'copied bytes', 'stored bytes', 'copied / full', 'copied MB/s'],
      rows,
      1,
    ),
  );
  console.log(
    '\nwall s: workflow start to result, or pgbackrest spawn to exit; activity s: the pgbackrestBackup activity alone (info, backup, info). ' +
      'cluster/copied bytes: pgBackRest\'s size and delta (the whole cluster, every database); stored bytes: its repository delta (gzip, then AES-256-CBC).',
  );

  const drills = drill.results;
  const drillMs = median(drills.map((d) => d.ms));
  const restoreMs = median(drills.map((d) => d.restoreMs));
  const recoveryCheckMs = median(drills.map((d) => d.recoveryCheckMs));
  const recoveryMs = median(drills.map((d) => d.recoverySeconds * 1000));
  const toConsistentMs = median(drills.map((d) => d.restoreMs + d.recoveryCheckMs));
  const countsMs = median(drills.map((d) => d.rowCountsMs));
  const newest = incr.results.at(-1)!;
  console.log(`\nDrill of ${newest.label} (backup ${newest.backupId}: restore depth, to the end of the backup; median of ${runs})\n`);
  console.log(
    formatTable(
      ['drill', 'wall s', 'pgbackrest restore s', 'recovery check s', 'server start → promoted s', 'restore + recovery s', 'row counts s', 'rest s'],
      [[
        'ragops verifyBackup',
        seconds(drillMs),
        seconds(restoreMs),
        seconds(recoveryCheckMs),
        seconds(recoveryMs),
        seconds(toConsistentMs),
        seconds(countsMs),
        seconds(drillMs - restoreMs - recoveryCheckMs - countsMs),
      ]],
      1,
    ),
  );
  console.log('\nrecovery check: configure, start the scratch server, wait until consistent and promoted; rest: plan, workflow and activity scheduling, recovered point, sanity SQL, stopping and removing the scratch server, evidence.');

  // A round's two backups share its load, so their ratio is steadier than the ratio of the two medians.
  const perRound = ragopsFull.results.map((r, i) => r.ms / rawFull.results[i]!.ms);
  const verdict = (r: number) => `(≤ ${TARGET_OVER_RAW.toFixed(2)}): ${r <= TARGET_OVER_RAW ? 'within target' : 'OVER TARGET'}`;
  const incrMs = msOf(incr);
  const incrSizes = medianRun(incr.results).sizes;
  console.log('\nTargets:');
  console.log(`  ragops full / pgbackrest backup by hand, wall time, median over median: ${(full / raw).toFixed(3)} ${verdict(full / raw)}`);
  if (runs > 1) {
    console.log(`  … round by round: ${perRound.map((r) => r.toFixed(3)).join(', ')}; their median ${median(perRound).toFixed(3)} ${verdict(median(perRound))}`);
  }
  console.log(
    `  incr after ${CHANGED_FRACTION * 100} % rewritten / full: time ${ratio(incrMs, full)}, copied bytes ${percent(incrSizes.deltaBytes, fullSizes.deltaBytes)}, ` +
      `stored bytes ${percent(incrSizes.repositoryDeltaBytes, fullSizes.repositoryDeltaBytes)}`,
  );
  console.log(
    `  drill, time to a consistent, promoted scratch server: ${seconds(toConsistentMs)} s (pgbackrest restore ${seconds(restoreMs)} s + recovery ${seconds(recoveryCheckMs)} s); ` +
      `the whole drill ${seconds(drillMs)} s`,
  );
}
