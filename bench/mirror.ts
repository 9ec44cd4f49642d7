// `npm run bench -- mirror`: what an incremental S3 mirror backup costs against the first, full
// one. A moto bucket of objects of mixed sizes (1-64 KiB) mirrored into an fs store by the real
// backup workflow (`components: ['mirror']`, a `ragops worker` process); then 1 % of the objects
// changed and a second backup. The two run in rounds (lib/repeat.ts), each round starting from an
// empty store. It prints times and what each copied and referenced, and asserts nothing.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackup } from '../src/client/api/runbooks.js';
import { manifestSchema, type MirrorArtifact } from '../src/config/manifest.js';
import { startMoto, type TestMoto } from '../test/support/moto.js';
import { tempDir, uniqueName, writeStacksFile } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { startReadyWorker } from './lib/ragopsBackup.js';
import { inRounds, method, type Timed } from './lib/repeat.js';
import { formatTable, median, megabytes, ratio, seconds } from './lib/textTable.js';
import { UsageError } from './lib/usageError.js';

export const mirrorUsage = 'mirror [--objects 1000] [--changed 10] [--runs N]';

const STACK = 'mirror-bench';
const BUCKET = 'ragops-bench-docs';
const LABEL = 'docs';
const KiB = 1024;
/** Object sizes run from 1 to 64 KiB: about 32 KiB on average, 32 MiB for 1,000 objects. */
const MAX_OBJECT_KiB = 64;
const PUT_CONCURRENCY = 16;

interface MirrorOptions {
  objects: number;
  changed: number;
  runs: number;
}

/** One backup of the mirror: its wall time and what the manifest's mirror artifact says it did. */
interface MirrorRun {
  ms: number;
  artifact: MirrorArtifact;
}

interface Environment {
  client: Client;
  address: string;
  moto: TestMoto;
  storeDir: string;
  configPath: string;
  workerEnv: Record<string, string>;
}

function parseOptions(args: string[]): MirrorOptions {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { objects: { type: 'string', default: '1000' }, changed: { type: 'string', default: '10' }, runs: { type: 'string', default: '1' } } }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [objects, changed, runs] = [Number(values.objects), Number(values.changed), Number(values.runs)];
  if (!Number.isInteger(objects) || objects < 1) throw new UsageError(`--objects takes a positive whole number, not "${values.objects}"`);
  if (!Number.isInteger(changed) || changed < 1 || changed > objects) throw new UsageError(`--changed takes a whole number from 1 to --objects (${objects}), not "${values.changed}"`);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs takes a positive integer, not "${values.runs}"`);
  return { objects, changed, runs };
}

const objectKey = (i: number) => `d${i % 10}/doc-${String(i).padStart(6, '0')}.bin`;
/** Sizes spread over 1-64 KiB by a fixed stride, so every run mirrors the same bytes. */
const objectBytes = (i: number) => (1 + ((i * 37) % MAX_OBJECT_KiB)) * KiB;

export async function benchMirror(args: string[]): Promise<void> {
  const options = parseOptions(args);
  // The SDK's notice about Node 20 support ending in 2027 is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const cleanup = new CleanupStack();
  const removeSignalHandlers = cleanup.onSignals();
  try {
    const env = await startEnvironment(cleanup);
    const sourceBytes = await seedBucket(env.moto, options.objects);
    console.log(`bucket ${BUCKET}: ${options.objects} objects, ${sourceBytes} bytes (${megabytes(sourceBytes)} MB)`);

    const taskQueue = uniqueName('bench-mirror');
    console.log('starting a ragops worker (bundling the workflows)…');
    const worker = await startReadyWorker({ address: env.address, taskQueue, configPath: env.configPath, env: env.workerEnv });
    cleanup.add(`stop the ragops worker (pid ${worker.pid})`, () => worker.stop());

    let round = 0;
    const full = method(
      'first (full)',
      async () => {
        // An empty store: the first backup has no previous entry list, so it copies everything.
        await rm(join(env.storeDir, STACK), { recursive: true, force: true });
        return mirrorBackupOnce(env, taskQueue);
      },
      describeRun,
    );
    const incremental = method(
      `second (${options.changed} changed)`,
      async () => {
        await changeObjects(env.moto, options, round++);
        return mirrorBackupOnce(env, taskQueue);
      },
      describeRun,
    );
    console.log('');
    await inRounds(options.runs, [full, incremental]);
    printSummary(options, sourceBytes, [full, incremental]);
  } finally {
    await cleanup.runAll();
    removeSignalHandlers();
  }
}

/** Temporal dev server, moto with the source bucket, a scratch directory holding the fs store, and the stacks file. */
async function startEnvironment(cleanup: CleanupStack): Promise<Environment> {
  const scratch = await tempDir('bench-mirror');
  cleanup.add('remove the scratch directory', () => scratch.remove());
  const [temporalStart, motoStart] = await Promise.allSettled([startTestTemporal(), startMoto()]);
  if (temporalStart.status === 'fulfilled') cleanup.add('stop Temporal', () => temporalStart.value.stop());
  if (motoStart.status === 'fulfilled') cleanup.add('stop moto', () => motoStart.value.stop());
  if (temporalStart.status === 'rejected') throw temporalStart.reason;
  if (motoStart.status === 'rejected') throw motoStart.reason;
  const [temporal, moto] = [temporalStart.value, motoStart.value];
  await moto.createBucket(BUCKET);

  const storeDir = join(scratch.path, 'store');
  const mirror = {
    name: LABEL,
    bucket: BUCKET,
    endpoint: moto.endpoint,
    region: moto.region,
    forcePathStyle: true,
    accessKeyId: { env: 'BENCH_MIRROR_ACCESS_KEY' },
    secretAccessKey: { env: 'BENCH_MIRROR_SECRET_KEY' },
  };
  return {
    client: temporal.client,
    address: temporal.address,
    moto,
    storeDir,
    configPath: await writeStacksFile(scratch.path, { stacks: { [STACK]: { mirrors: [mirror], store: { type: 'fs', path: storeDir } } } }),
    workerEnv: { BENCH_MIRROR_ACCESS_KEY: moto.accessKeyId, BENCH_MIRROR_SECRET_KEY: moto.secretAccessKey },
  };
}

/** Puts `count` objects of random bytes; returns their total size. */
async function seedBucket(moto: TestMoto, count: number): Promise<number> {
  await putObjects(moto, Array.from({ length: count }, (_, i) => i));
  return Array.from({ length: count }, (_, i) => objectBytes(i)).reduce((sum, bytes) => sum + bytes, 0);
}

/** Rewrites `changed` objects spread over the bucket, at their own size; each round picks others. */
async function changeObjects(moto: TestMoto, { objects, changed }: MirrorOptions, round: number): Promise<void> {
  const stride = Math.floor(objects / changed);
  await putObjects(moto, Array.from({ length: changed }, (_, k) => (k * stride + round) % objects));
}

async function putObjects(moto: TestMoto, indexes: number[]): Promise<void> {
  for (let start = 0; start < indexes.length; start += PUT_CONCURRENCY) {
    await Promise.all(
      indexes.slice(start, start + PUT_CONCURRENCY).map((i) => moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: objectKey(i), Body: randomBytes(objectBytes(i)) }))),
    );
  }
}

/** One backup of the mirror alone, timed from workflow start to result; its artifact read from the manifest. */
async function mirrorBackupOnce(env: Environment, taskQueue: string): Promise<MirrorRun> {
  const started = performance.now();
  const handle = await startBackup(env.client, { stack: STACK, components: ['mirror'] }, { taskQueue });
  const report = await handle.result();
  const ms = performance.now() - started;
  const manifest = manifestSchema.parse(JSON.parse(await readFile(join(env.storeDir, report.manifestKey), 'utf8')));
  const artifact = manifest.artifacts.find((a): a is MirrorArtifact => a.component === 'mirror');
  if (!artifact) throw new Error(`backup ${report.backupId} of ${STACK} has no mirror artifact in ${report.manifestKey}`);
  return { ms, artifact };
}

const describeRun = ({ artifact: a }: MirrorRun) =>
  `, ${a.objects} objects: ${a.copied} copied (${a.bytesCopied} bytes), ${a.referenced} referenced (${a.bytesReferenced} bytes), activity ${seconds(a.durationMs)} s`;

const percent = (part: number, whole: number) => ((part / whole) * 100).toFixed(2);

/** The run with the median wall time (the lower middle one for an even number of runs), so its figures belong together. */
function medianRun(runs: MirrorRun[]): MirrorRun {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function printSummary(options: MirrorOptions, sourceBytes: number, methods: Array<Timed<MirrorRun>>): void {
  const measured = methods.map((m) => ({ label: m.label, run: medianRun(m.results), activityMs: median(m.results.map((r) => r.artifact.durationMs)) }));
  const first = measured[0]!;
  const rows = measured.map(({ label, run: { ms, artifact: a }, activityMs }) => [
    label,
    seconds(ms),
    ratio(ms, first.run.ms),
    seconds(activityMs),
    ratio(activityMs, first.activityMs),
    String(a.objects),
    String(a.copied),
    String(a.referenced),
    String(a.bytesCopied),
    String(a.bytesReferenced),
    String(a.size),
  ]);
  const runs = options.runs;
  console.log(
    `\nResults: ${options.objects} objects, ${sourceBytes} bytes (${megabytes(sourceBytes)} MB), ${options.changed} changed between the backups; ` +
      `the median run of ${runs} by wall time${runs === 1 ? '' : ', activity s the median of its own'}\n`,
  );
  console.log(
    formatTable(['backup', 'wall s', '× first', 'activity s', 'act. × first', 'objects', 'copied', 'referenced', 'bytes copied', 'bytes referenced', 'entry list bytes'], rows, 1),
  );
  console.log('\nwall s: workflow start to result; activity s: the mirror activity alone (the manifest\'s durationMs); copied/referenced: the manifest\'s mirror artifact.');
  const second = measured[1]!;
  console.log(
    `\nsecond / first: wall ${ratio(second.run.ms, first.run.ms)}, activity ${ratio(second.activityMs, first.activityMs)}, ` +
      `bytes copied ${percent(second.run.artifact.bytesCopied, first.run.artifact.bytesCopied)} % of the first's`,
  );
}
