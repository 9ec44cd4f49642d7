// `npm run bench -- restore`: ragops' restore drill (`verifyBackup` at restore depth, through a
// real `ragops worker` process) of one backup of the ≥ 1 GiB database — realistic indexes,
// among them a GIN trigram index of about a minute to build (lib/benchIndexes.ts) — against
// restoring the same stored dump file into a fresh database by hand with `pg_restore -j 2`;
// and where the drill's extra time goes. The three run in rounds (lib/repeat.ts). It prints
// figures and asserts nothing.
import type { Client } from '@temporalio/client';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, uniqueName, writeStacksFile } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { BENCH_DATABASES, checkpoint, dropDatabaseIfExists, prepareBenchDatabase, type BenchDatabase } from './lib/benchDatabase.js';
import { TRIGRAM_INDEX } from './lib/benchIndexes.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { benchOptionsUsage, parseBenchOptions } from './lib/options.js';
import { startReadyWorker, timeRagopsBackup } from './lib/ragopsBackup.js';
import { retryIfDroppedFromOutside } from './lib/outsideDrop.js';
import { timeRagopsDrill, type RagopsDrillRun } from './lib/ragopsDrill.js';
import { pgRestoreFromFile, type RawRestoreResult } from './lib/rawRestores.js';
import { inRounds, method } from './lib/repeat.js';
import { formatTable, median, megabytes, ratio, seconds } from './lib/textTable.js';

export const restoreUsage = `restore ${benchOptionsUsage}`;

const JOBS = 2;
const TARGET_RATIO = 1.1;
const LABEL = 'app';
const BASELINE_SCRATCH = 'ragops_bench_restore_scratch';

interface Variant {
  localDisk: boolean;
  method: string;
}

const VARIANTS: Variant[] = [
  { localDisk: true, method: `ragops drill, localDisk, jobs ${JOBS}` },
  { localDisk: false, method: 'ragops drill, streamed, 1 job' },
];

interface DrillMeasurement {
  variant: Variant;
  /** The run with the median wall time (the lower middle one for an even number of runs). */
  run: RagopsDrillRun;
}

interface Environment {
  client: Client;
  address: string;
  stack: string;
  taskQueue: string;
  /** Rewrites the stacks file the worker's activities read; the drill's plan picks it up on its next run. */
  writeConfig(localDisk: boolean): Promise<string>;
  storeDir: string;
}

export async function benchRestore(args: string[]): Promise<void> {
  const options = parseBenchOptions(args);
  const database = await prepareBenchDatabase(BENCH_DATABASES[options.quick ? 'quick' : 'full'][0], options);

  const cleanup = new CleanupStack();
  const removeSignalHandlers = cleanup.onSignals();
  try {
    const env = await startEnvironment(cleanup, database);

    // Registered before the worker starts, so they run after it has stopped.
    const drillDatabases = new Set<string>();
    cleanup.add('drop leftover drill databases', async () => {
      for (const name of drillDatabases) if (await dropDatabaseIfExists(name)) console.error(`cleanup: dropped leftover ${name}`);
    });
    cleanup.add(`drop ${BASELINE_SCRATCH}`, () => dropDatabaseIfExists(BASELINE_SCRATCH));
    const deleteBackup = () => rm(join(env.storeDir, env.stack), { recursive: true, force: true });
    cleanup.add('delete the backup files', deleteBackup);

    console.log(`\n${database.name}: starting a ragops worker (bundling the workflows)…`);
    const worker = await startReadyWorker({ address: env.address, taskQueue: env.taskQueue, configPath: await env.writeConfig(true) });
    cleanup.add(`stop the ragops worker (pid ${worker.pid})`, () => worker.stop());

    console.log(`  backing up ${database.name} (postgres only) to the fs store, untimed…`);
    const backup = await timeRagopsBackup(env.client, worker.pid, env.stack, env.taskQueue);
    const dumpFile = join(env.storeDir, backup.key);
    console.log(`  backup ${backup.backupId}: ${backup.bytes} bytes (${megabytes(backup.bytes)} MB) in ${seconds(backup.wallMs)} s → ${dumpFile}`);

    console.log('');
    const baseline = method(
      `pg_restore -j ${JOBS} <file>`,
      async () => {
        await checkpoint();
        return pgRestoreFromFile(dumpFile, BASELINE_SCRATCH, JOBS);
      },
      (r: RawRestoreResult) => `, createdb ${seconds(r.createdbMs)} s, dropdb ${seconds(r.dropdbMs)} s (not in the time)`,
    );
    const drillMethods = VARIANTS.map((variant) => {
      const label = variant.localDisk ? `drill localDisk jobs ${JOBS}` : 'drill streamed';
      return method(
        label,
        async () => {
          await env.writeConfig(variant.localDisk);
          return retryIfDroppedFromOutside(label, async () => {
            await checkpoint();
            const run = await timeRagopsDrill(env.client, {
              stack: env.stack,
              backupId: backup.backupId,
              taskQueue: env.taskQueue,
              label: LABEL,
              localDisk: variant.localDisk,
              onScratch: (name) => drillDatabases.add(name),
            });
            return { ...run, ms: run.wallMs };
          });
        },
        describeDrill,
      );
    });
    await inRounds(options.runs, [baseline, ...drillMethods]);
    const drills: DrillMeasurement[] = VARIANTS.map((variant, i) => ({ variant, run: medianRun(drillMethods[i]!.results) }));

    await worker.stop();
    const stored = await stat(dumpFile);
    await deleteBackup();
    console.log(`\ndeleted backup ${backup.backupId} (${stored.size}-byte dump, manifest and drill evidence) from the store`);
    printSummary(database, backup.bytes, baseline.results, drills, options.runs);
  } finally {
    await cleanup.runAll();
    removeSignalHandlers();
  }
}

/** Temporal dev server, a scratch directory holding the fs store, the drill's temp directory and the stacks file. */
async function startEnvironment(cleanup: CleanupStack, database: BenchDatabase): Promise<Environment> {
  const scratch = await tempDir('bench-restore');
  cleanup.add('remove the scratch directory', () => scratch.remove());
  const temporal = await startTestTemporal();
  cleanup.add('stop Temporal', () => temporal.stop());

  const storeDir = join(scratch.path, 'store');
  const drillTempDir = join(scratch.path, 'drill-tmp');
  await mkdir(drillTempDir);
  const stack = `${database.name}-fs`;
  const postgres = [{ name: LABEL, host: '127.0.0.1', port: 5432, database: database.name, user: 'postgres' }];
  return {
    client: temporal.client,
    address: temporal.address,
    stack,
    taskQueue: uniqueName('bench-restore'),
    storeDir,
    writeConfig: (localDisk) =>
      writeStacksFile(scratch.path, {
        stacks: { [stack]: { postgres, store: { type: 'fs', path: storeDir }, drill: { localDisk, jobs: JOBS, tempDir: drillTempDir } } },
      }),
  };
}

function medianRun(runs: RagopsDrillRun[]): RagopsDrillRun {
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const optionalSeconds = (ms: number | undefined) => (ms === undefined ? '—' : seconds(ms));

function describeDrill(run: RagopsDrillRun): string {
  const drop = run.dropMs === undefined ? '?' : `${seconds(run.dropMs)} s (${run.timeline.exactDrop.start && run.timeline.exactDrop.end ? 'exact' : `polled every ${run.timeline.pollMs} ms`})`;
  return (
    `, checksum ${seconds(run.checksumMs)} s, pg_restore check ${seconds(run.pgRestoreCheckMs)} s` +
    (run.downloadMs === undefined ? '' : ` (download ${seconds(run.downloadMs)} s + restore ${seconds(run.restoreMs)} s)`) +
    `, row counts ${seconds(run.rowCountsMs)} s, drop ${drop}, other ${seconds(run.otherMs)} s`
  );
}

function printSummary(database: BenchDatabase, dumpBytes: number, baseline: RawRestoreResult[], drills: DrillMeasurement[], runs: number): void {
  const baselineMs = median(baseline.map((r) => r.ms));
  const rows = [
    [`pg_restore -j ${JOBS} <file>`, seconds(baselineMs), '1.00', '—', '—', '—', seconds(baselineMs), '—', '—', '—'],
    ...drills.map(({ variant, run }) => [
      variant.method,
      seconds(run.wallMs),
      ratio(run.wallMs, baselineMs),
      seconds(run.checksumMs),
      seconds(run.pgRestoreCheckMs),
      variant.localDisk ? optionalSeconds(run.downloadMs) : '(streamed)',
      seconds(run.restoreMs),
      seconds(run.rowCountsMs),
      optionalSeconds(run.dropMs),
      seconds(run.otherMs),
    ]),
  ];
  console.log(
    `\nResults on ${database.name} (${database.bytes} bytes; dump ${dumpBytes} bytes; its GIN index ${TRIGRAM_INDEX}, ` +
      `${megabytes(database.trigramIndex.bytes)} MB, took ${seconds(database.trigramIndex.buildMs)} s to build when seeded). ` +
      `Baseline: median of ${runs} run${runs === 1 ? '' : 's'}; drills: the median run by wall time, so its parts add up to its wall time.\n`,
  );
  console.log(
    formatTable(
      ['method', 'wall s', `× pg_restore`, 'checksum s', 'pg_restore check s', 'download s', 'restore s', 'row counts s', 'drop s', 'other s'],
      rows,
      1,
    ),
  );
  console.log(
    `\nColumns: checksum, pg_restore check and row counts are the drill report's check durations; the pg_restore check is download + restore, ` +
      `split where the first pg_restore connection starts (pg_stat_activity backend_start); drop is the scratch database's DROP DATABASE ` +
      `inside the drill activity; other is the rest of the wall time (workflow and activity scheduling, plan, hold, CREATE DATABASE, ` +
      `sanity SQL, release, evidence).`,
  );
  const createdb = median(baseline.map((r) => r.createdbMs));
  const dropdb = median(baseline.map((r) => r.dropdbMs));
  console.log(
    `Around the baseline, not in its time: createdb ${seconds(createdb)} s, dropdb ${seconds(dropdb)} s ` +
      `(the whole manual sequence: ${seconds(createdb + baselineMs + dropdb)} s).`,
  );

  console.log('\nWhere the extra time goes (drill wall time − pg_restore baseline):');
  for (const { variant, run } of drills) {
    const parts = [
      `checksum ${seconds(run.checksumMs)}`,
      ...(run.downloadMs === undefined ? [] : [`download ${seconds(run.downloadMs)}`]),
      `(restore − baseline) ${signedSeconds(run.restoreMs - baselineMs)}`,
      `row counts ${seconds(run.rowCountsMs)}`,
      `drop ${optionalSeconds(run.dropMs)}`,
      `other ${seconds(run.otherMs)}`,
    ];
    console.log(`  ${variant.method}: ${signedSeconds(run.wallMs - baselineMs)} s = ${parts.join(' + ')} s`);
    console.log(`    its restore alone: ${ratio(run.restoreMs, baselineMs)} × the baseline pg_restore`);
  }

  console.log('\nTargets:');
  for (const { variant, run } of drills.filter((d) => d.variant.localDisk)) {
    const r = run.wallMs / baselineMs;
    console.log(`  ${variant.method}: ${r.toFixed(2)} × pg_restore -j ${JOBS} (≤ ${TARGET_RATIO.toFixed(2)}): ${r <= TARGET_RATIO ? 'within target' : 'OVER TARGET'}`);
  }
  for (const { variant, run } of drills.filter((d) => !d.variant.localDisk)) {
    console.log(`  ${variant.method}: ${ratio(run.wallMs, baselineMs)} × pg_restore -j ${JOBS} (no target; for information)`);
  }
}

const signedSeconds = (ms: number) => `${ms < 0 ? '−' : '+'}${seconds(Math.abs(ms))}`;
