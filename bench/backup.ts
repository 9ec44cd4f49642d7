// `npm run bench -- backup`: a ragops postgres backup (fs store and moto S3, through a real
// `ragops worker` process) against `pg_dump -Fc > /dev/null`, the seed guides' shell script
// and, for S3, the raw `pg_dump -Fc | aws s3 cp -` against the same moto server, on a ≥ 1 GiB
// database and one twice its size, with the worker's memory growth at both sizes. The
// methods run in rounds (lib/repeat.ts). It prints figures and asserts nothing.
import { DeleteObjectsCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startMoto, type TestMoto } from '../test/support/moto.js';
import { tempDir, uniqueName, writeStacksFile } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { BENCH_DATABASES, prepareBenchDatabase, warmPageCache, type BenchDatabase } from './lib/benchDatabase.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { benchOptionsUsage, parseBenchOptions } from './lib/options.js';
import { startReadyWorker, timeRagopsBackup, type RagopsBackupRun } from './lib/ragopsBackup.js';
import { guideScriptToFile, pgDumpToDevNull, type RawDumpResult } from './lib/rawDumps.js';
import { pgDumpToS3 } from './lib/rawS3Upload.js';
import { inRounds, method } from './lib/repeat.js';
import { formatTable, median, megabytes, megabytesPerSecond, ratio, seconds } from './lib/textTable.js';

export const backupUsage = `backup ${benchOptionsUsage}`;

const TARGET_RATIO = 1.1;
/** ragops → S3 over the raw `pg_dump | aws s3 cp` to the same server: what ragops adds, moto's own cost aside. */
const TARGET_S3_OVER_RAW = 1.05;
const TARGET_GROWTH_BYTES = 100e6;
const S3_PREFIX = 'bench/';
const RAW_S3_PREFIX = 'raw/';

type Store = 'fs' | 's3';
const STORES: Store[] = ['fs', 's3'];

/** One line of the result table: the median run of one method on one database. */
interface Measurement {
  database: BenchDatabase;
  method: 'pg_dump -Fc > /dev/null' | 'guide script (-Z9 | gzip)' | 'pg_dump -Fc | aws s3 cp (moto)' | 'ragops → fs' | 'ragops → S3 (moto)';
  ms: number;
  bytes?: number;
  activityMs?: number;
  /** The run with the largest growth. */
  rss?: RagopsBackupRun['rss'];
}

interface Environment {
  client: Client;
  address: string;
  moto: TestMoto;
  bucket: string;
  storeDir: string;
  scratchDir: string;
  configPath: string;
  workerEnv: Record<string, string>;
}

const stackName = (database: BenchDatabase, store: Store) => `${database.name}-${store}`;

export async function benchBackup(args: string[]): Promise<void> {
  const options = parseBenchOptions(args);
  const databases: BenchDatabase[] = [];
  for (const spec of BENCH_DATABASES[options.quick ? 'quick' : 'full']) databases.push(await prepareBenchDatabase(spec, options));
  const [base, double] = databases as [BenchDatabase, BenchDatabase];

  // The SDK's notice about Node 20 support ending in 2027 is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const cleanup = new CleanupStack();
  const removeSignalHandlers = cleanup.onSignals();
  try {
    const env = await startEnvironment(cleanup, databases);
    const measurements = [
      ...(await measureDatabase(env, cleanup, base, options.runs, { script: true })),
      ...(await measureDatabase(env, cleanup, double, options.runs, { script: false })),
    ];
    printSummary(measurements, options.runs);
  } finally {
    await cleanup.runAll();
    removeSignalHandlers();
  }
}

/** Temporal dev server, moto S3 with a bucket, a scratch directory and the stacks file. */
async function startEnvironment(cleanup: CleanupStack, databases: BenchDatabase[]): Promise<Environment> {
  const scratch = await tempDir('bench-backup');
  cleanup.add('remove the scratch directory', () => scratch.remove());
  const [temporalStart, motoStart] = await Promise.allSettled([startTestTemporal(), startMoto()]);
  if (temporalStart.status === 'fulfilled') cleanup.add('stop Temporal', () => temporalStart.value.stop());
  if (motoStart.status === 'fulfilled') cleanup.add('stop moto', () => motoStart.value.stop());
  if (temporalStart.status === 'rejected') throw temporalStart.reason;
  if (motoStart.status === 'rejected') throw motoStart.reason;
  const [temporal, moto] = [temporalStart.value, motoStart.value];
  const bucket = 'ragops-bench';
  await moto.createBucket(bucket);

  const storeDir = join(scratch.path, 'store');
  const stacks: Record<string, unknown> = {};
  for (const database of databases) {
    const postgres = [{ name: 'app', host: '127.0.0.1', port: 5432, database: database.name, user: 'postgres' }];
    stacks[stackName(database, 'fs')] = { postgres, store: { type: 'fs', path: storeDir } };
    stacks[stackName(database, 's3')] = {
      postgres,
      store: {
        type: 's3',
        bucket,
        prefix: S3_PREFIX,
        endpoint: moto.endpoint,
        region: moto.region,
        forcePathStyle: true,
        accessKeyId: { env: 'BENCH_S3_ACCESS_KEY' },
        secretAccessKey: { env: 'BENCH_S3_SECRET_KEY' },
      },
    };
  }
  return {
    client: temporal.client,
    address: temporal.address,
    moto,
    bucket,
    storeDir,
    scratchDir: scratch.path,
    configPath: await writeStacksFile(scratch.path, { stacks }),
    workerEnv: { BENCH_S3_ACCESS_KEY: moto.accessKeyId, BENCH_S3_SECRET_KEY: moto.secretAccessKey },
  };
}

/** Every method on `database`, in rounds (lib/repeat.ts): both ragops workers are up before the first round. */
async function measureDatabase(
  env: Environment,
  cleanup: CleanupStack,
  database: BenchDatabase,
  runs: number,
  include: { script: boolean },
): Promise<Measurement[]> {
  console.log(`\n${database.name}: warming the page cache…`);
  await warmPageCache(database.name);
  const workers: Partial<Record<Store, RagopsWorker>> = {};
  try {
    for (const store of STORES) workers[store] = await startRagopsWorker(env, cleanup, database, store);
    const baseline = method('pg_dump -Fc > /dev/null', () => pgDumpToDevNull(database.name), describeRawDump);
    const script = method('guide script', () => guideScriptToFile(database.name, env.scratchDir), describeRawDump);
    const rawS3 = method('pg_dump | aws s3 cp', () => rawDumpToS3(env, database), describeRawDump);
    const ragops = STORES.map((store) => method(`ragops → ${store}`, () => ragopsBackupOnce(env, workers[store]!, store), describeRagopsRun));
    console.log('');
    await inRounds(runs, [baseline, ...(include.script ? [script] : []), rawS3, ...ragops]);
    return [
      { database, method: 'pg_dump -Fc > /dev/null', ms: median(baseline.results.map((r) => r.ms)) },
      ...(include.script ? [{ database, method: 'guide script (-Z9 | gzip)' as const, ms: median(script.results.map((r) => r.ms)), bytes: script.results[0]?.bytes }] : []),
      { database, method: 'pg_dump -Fc | aws s3 cp (moto)', ms: median(rawS3.results.map((r) => r.ms)), bytes: rawS3.results[0]?.bytes },
      ...STORES.map((store, i) => ragopsMeasurement(database, store, ragops[i]!.results)),
    ];
  } finally {
    for (const worker of Object.values(workers)) await worker.stop();
  }
}

/** One raw upload to the bucket ragops uses, its object deleted afterwards. */
async function rawDumpToS3(env: Environment, database: BenchDatabase): Promise<RawDumpResult> {
  const { endpoint, region, accessKeyId, secretAccessKey } = env.moto;
  const key = `${RAW_S3_PREFIX}${database.name}.dump`;
  try {
    return await pgDumpToS3(database.name, { endpoint, region, accessKeyId, secretAccessKey, bucket: env.bucket }, key, async (stored) => {
      const head = await env.moto.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: stored }));
      return Number(head.ContentLength);
    });
  } finally {
    await deleteKeys(env, `${RAW_S3_PREFIX}${database.name}`);
  }
}

interface RagopsWorker {
  pid: number;
  stack: string;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A fresh worker per database and store, so its RSS before a backup is a steady idle worker's, its own. */
async function startRagopsWorker(env: Environment, cleanup: CleanupStack, database: BenchDatabase, store: Store): Promise<RagopsWorker> {
  const stack = stackName(database, store);
  const taskQueue = uniqueName('bench-backup');
  console.log(`  starting a ragops worker for ${stack} (bundling the workflows)…`);
  const worker = await startReadyWorker({ address: env.address, taskQueue, configPath: env.configPath, env: env.workerEnv });
  cleanup.add(`stop the ragops worker (pid ${worker.pid})`, () => worker.stop());
  return { pid: worker.pid, stack, taskQueue, stop: () => worker.stop() };
}

async function ragopsBackupOnce(env: Environment, worker: RagopsWorker, store: Store): Promise<RagopsBackupRun & { ms: number }> {
  const run = await timeRagopsBackup(env.client, worker.pid, worker.stack, worker.taskQueue);
  await clearStore(env, store, worker.stack);
  return { ...run, ms: run.wallMs };
}

/** Median times; the memory figures of the run whose RSS grew most. */
function ragopsMeasurement(database: BenchDatabase, store: Store, results: RagopsBackupRun[]): Measurement {
  const worst = results.reduce((a, b) => (b.rss.growthBytes > a.rss.growthBytes ? b : a));
  return {
    database,
    method: store === 'fs' ? 'ragops → fs' : 'ragops → S3 (moto)',
    ms: median(results.map((r) => r.wallMs)),
    activityMs: median(results.map((r) => r.activityMs)),
    bytes: results[0]?.bytes,
    rss: worst.rss,
  };
}

const describeRawDump = (result: RawDumpResult) => (result.bytes === undefined ? '' : `, ${result.bytes} bytes`);
const describeRagopsRun = (run: RagopsBackupRun) =>
  `, ${run.bytes} bytes, activity ${seconds(run.activityMs)} s, worker RSS ${megabytes(run.rss.beforeBytes)} → peak ${megabytes(run.rss.peakBytes)} MB`;

/** Deletes what a run stored, so runs do not fill the disk or moto's memory. */
async function clearStore(env: Environment, store: Store, stack: string): Promise<void> {
  if (store === 'fs') {
    await rm(join(env.storeDir, stack), { recursive: true, force: true });
    return;
  }
  await deleteKeys(env, `${S3_PREFIX}${stack}/`);
}

async function deleteKeys(env: Environment, prefix: string): Promise<void> {
  const keys = await env.moto.listKeys(env.bucket, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    const Objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
    await env.moto.s3.send(new DeleteObjectsCommand({ Bucket: env.bucket, Delete: { Objects } }));
  }
}

function printSummary(measurements: Measurement[], runs: number): void {
  const reference = (database: BenchDatabase, method: Measurement['method']) =>
    measurements.find((m) => m.database === database && m.method === method)?.ms;
  const rows = measurements.map((m) => {
    const baseline = reference(m.database, 'pg_dump -Fc > /dev/null');
    const script = reference(m.database, 'guide script (-Z9 | gzip)');
    const toS3 = m.method === 'ragops → S3 (moto)' || m.method === 'pg_dump -Fc | aws s3 cp (moto)';
    const rawS3 = toS3 ? reference(m.database, 'pg_dump -Fc | aws s3 cp (moto)') : undefined;
    return [
      m.database.name,
      m.method,
      seconds(m.ms),
      baseline ? ratio(m.ms, baseline) : '—',
      script ? ratio(m.ms, script) : '—',
      rawS3 ? ratio(m.ms, rawS3) : '—',
      m.activityMs === undefined ? '—' : seconds(m.activityMs),
      m.activityMs !== undefined && baseline ? ratio(m.activityMs, baseline) : '—',
      m.bytes === undefined ? '—' : String(m.bytes),
      m.bytes === undefined ? '—' : megabytesPerSecond(m.bytes, m.ms),
      megabytesPerSecond(m.database.bytes, m.ms),
      m.rss ? megabytes(m.rss.beforeBytes) : '—',
      m.rss ? megabytes(m.rss.peakBytes) : '—',
      m.rss ? megabytes(m.rss.growthBytes) : '—',
    ];
  });
  console.log(`\nResults (median of ${runs} run${runs === 1 ? '' : 's'}; MB = 10^6 bytes; RSS is the worker process's VmRSS, sampled every 100 ms)\n`);
  console.log(
    formatTable(
      ['database', 'method', 'wall s', '× pg_dump', '× script', '× aws s3 cp', 'activity s', 'act. × pg_dump', 'dump bytes', 'dump MB/s', 'db MB/s', 'RSS before MB', 'RSS peak MB', 'growth MB'],
      rows,
      2,
    ),
  );
  console.log(`\n${measurements.map((m) => m.database).filter((d, i, all) => all.indexOf(d) === i).map((d) => `${d.name} = ${d.bytes} bytes`).join(', ')}`);
  printTargets(measurements, reference);
}

function printTargets(measurements: Measurement[], reference: (database: BenchDatabase, method: Measurement['method']) => number | undefined): void {
  const verdict = (ok: boolean) => (ok ? 'within target' : 'OVER TARGET');
  console.log('\nTargets:');
  for (const m of measurements.filter((m) => m.method.startsWith('ragops'))) {
    const baseline = reference(m.database, 'pg_dump -Fc > /dev/null');
    if (baseline) {
      const r = m.ms / baseline;
      console.log(`  ${m.method} on ${m.database.name}: ${r.toFixed(2)} × pg_dump (≤ ${TARGET_RATIO.toFixed(2)}): ${verdict(r <= TARGET_RATIO)}`);
    }
  }
  for (const m of measurements.filter((m) => m.method === 'ragops → S3 (moto)')) {
    const raw = reference(m.database, 'pg_dump -Fc | aws s3 cp (moto)');
    const baseline = reference(m.database, 'pg_dump -Fc > /dev/null');
    if (!raw) continue;
    const r = m.ms / raw;
    console.log(`  ${m.method} on ${m.database.name}: ${r.toFixed(2)} × pg_dump | aws s3 cp to the same server (≤ ${TARGET_S3_OVER_RAW.toFixed(2)}): ${verdict(r <= TARGET_S3_OVER_RAW)}`);
    if (baseline) console.log(`    (the raw pipeline itself: ${ratio(raw, baseline)} × pg_dump > /dev/null — awscli's and moto's own cost)`);
  }
  for (const method of ['ragops → fs', 'ragops → S3 (moto)'] as const) {
    const growth = measurements.filter((m) => m.method === method && m.rss);
    for (const m of growth) {
      console.log(`  worker memory growth, ${m.database.name} ${method.slice('ragops '.length)}: ${megabytes(m.rss!.growthBytes)} MB (≤ 100 MB): ${verdict(m.rss!.growthBytes <= TARGET_GROWTH_BYTES)}`);
    }
    const [small, large] = growth;
    if (small?.rss && large?.rss) {
      const delta = large.rss.growthBytes - small.rss.growthBytes;
      console.log(`    ${method.slice('ragops '.length)}: growth at ${large.database.name} minus growth at ${small.database.name}: ${megabytes(delta)} MB (flat — not scaling with size — if near 0)`);
    }
  }
}
