// `npm run bench -- encryption`: what client-side encryption costs a backup. The same ≥ 1 GiB
// database backed up by the real backup workflow (a `ragops worker` process, fs store) to a
// plain store and to one with `encryption.clientSide`, in rounds (lib/repeat.ts): wall time,
// encrypted over plain, and the bytes each left in the store. It prints figures and asserts nothing.
import type { Client } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, uniqueName, writeStacksFile } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { BENCH_DATABASES, prepareBenchDatabase, warmPageCache, type BenchDatabase } from './lib/benchDatabase.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { benchOptionsUsage, parseBenchOptions } from './lib/options.js';
import { startReadyWorker, timeRagopsBackup, type RagopsBackupRun } from './lib/ragopsBackup.js';
import { inRounds, method, type Timed } from './lib/repeat.js';
import { formatTable, median, megabytes, megabytesPerSecond, ratio, seconds } from './lib/textTable.js';

export const encryptionUsage = `encryption ${benchOptionsUsage}`;

const TARGET_RATIO = 1.1;
const KEY_ENV = 'RAGOPS_BENCH_KEY';
const KEY_ID = 'bench-key';

type Variant = 'plain' | 'encrypted';
const VARIANTS: Variant[] = ['plain', 'encrypted'];

/** One backup: the workflow's figures and the size of the file it left in the store. */
interface EncryptionRun extends RagopsBackupRun {
  ms: number;
  storedBytes: number;
}

/** A method's medians, for the table. */
interface Measured {
  label: string;
  ms: number;
  activityMs: number;
  storedBytes: number;
  reportedBytes: number;
  peakRssBytes: number;
}

interface Environment {
  client: Client;
  address: string;
  storeDir: string;
  configPath: string;
  workerEnv: Record<string, string>;
}

const stackName = (database: BenchDatabase, variant: Variant) => `${database.name}-${variant}`;

export async function benchEncryption(args: string[]): Promise<void> {
  const options = parseBenchOptions(args);
  const database = await prepareBenchDatabase(BENCH_DATABASES[options.quick ? 'quick' : 'full'][0], options);

  const cleanup = new CleanupStack();
  const removeSignalHandlers = cleanup.onSignals();
  try {
    const env = await startEnvironment(cleanup, database);
    console.log(`\n${database.name}: warming the page cache…`);
    await warmPageCache(database.name);
    const methods: Array<Timed<EncryptionRun>> = [];
    for (const variant of VARIANTS) {
      const stack = stackName(database, variant);
      const taskQueue = uniqueName('bench-encryption');
      // A worker per variant, so neither inherits the other's warmed-up process.
      console.log(`  starting a ragops worker for ${stack} (bundling the workflows)…`);
      const worker = await startReadyWorker({ address: env.address, taskQueue, configPath: env.configPath, env: env.workerEnv });
      cleanup.add(`stop the ragops worker (pid ${worker.pid})`, () => worker.stop());
      methods.push(method(`ragops → fs, ${variant}`, () => backupOnce(env, worker.pid, stack, taskQueue), describeRun));
    }
    console.log('');
    await inRounds(options.runs, methods);
    printSummary(database, methods, options.runs);
  } finally {
    await cleanup.runAll();
    removeSignalHandlers();
  }
}

/** Temporal dev server, a scratch directory holding the fs store, and a stacks file with a plain and an encrypting stack. */
async function startEnvironment(cleanup: CleanupStack, database: BenchDatabase): Promise<Environment> {
  const scratch = await tempDir('bench-encryption');
  cleanup.add('remove the scratch directory', () => scratch.remove());
  const temporal = await startTestTemporal();
  cleanup.add('stop Temporal', () => temporal.stop());

  const storeDir = join(scratch.path, 'store');
  const postgres = [{ name: 'app', host: '127.0.0.1', port: 5432, database: database.name, user: 'postgres' }];
  const clientSide = { keyId: KEY_ID, key: { env: KEY_ENV } };
  const stacks = {
    [stackName(database, 'plain')]: { postgres, store: { type: 'fs', path: storeDir } },
    [stackName(database, 'encrypted')]: { postgres, store: { type: 'fs', path: storeDir, encryption: { clientSide } } },
  };
  return {
    client: temporal.client,
    address: temporal.address,
    storeDir,
    configPath: await writeStacksFile(scratch.path, { stacks }),
    workerEnv: { [KEY_ENV]: randomBytes(32).toString('base64') },
  };
}

/** One timed backup; its stored size read from disk, then the backup deleted so runs do not fill the disk. */
async function backupOnce(env: Environment, workerPid: number, stack: string, taskQueue: string): Promise<EncryptionRun> {
  const run = await timeRagopsBackup(env.client, workerPid, stack, taskQueue);
  const { size: storedBytes } = await stat(join(env.storeDir, run.key));
  await rm(join(env.storeDir, stack), { recursive: true, force: true });
  return { ...run, ms: run.wallMs, storedBytes };
}

const describeRun = (run: EncryptionRun) =>
  `, stored ${run.storedBytes} bytes (report: ${run.bytes}), activity ${seconds(run.activityMs)} s, worker RSS peak ${megabytes(run.rss.peakBytes)} MB`;

function printSummary(database: BenchDatabase, methods: Array<Timed<EncryptionRun>>, runs: number): void {
  const [plain, encrypted] = methods.map((m) => ({
    label: m.label,
    ms: median(m.results.map((r) => r.ms)),
    activityMs: median(m.results.map((r) => r.activityMs)),
    storedBytes: m.results[0]!.storedBytes,
    reportedBytes: m.results[0]!.bytes,
    peakRssBytes: Math.max(...m.results.map((r) => r.rss.peakBytes)),
  })) as [Measured, Measured];
  const rows = [plain, encrypted].map((m) => [
    m.label,
    seconds(m.ms),
    ratio(m.ms, plain.ms),
    seconds(m.activityMs),
    ratio(m.activityMs, plain.activityMs),
    String(m.storedBytes),
    String(m.reportedBytes),
    megabytesPerSecond(m.storedBytes, m.ms),
    megabytes(m.peakRssBytes),
  ]);
  console.log(`\nResults on ${database.name} (${database.bytes} bytes; median of ${runs} run${runs === 1 ? '' : 's'}; MB = 10^6 bytes)\n`);
  console.log(formatTable(['method', 'wall s', '× plain', 'activity s', 'act. × plain', 'stored bytes', 'report bytes', 'stored MB/s', 'RSS peak MB'], rows, 1));
  console.log('\nstored bytes: the dump file\'s size in the store; report bytes: the backup report\'s artifact size (for an encrypted one, the plaintext\'s).');

  // A round's two runs share its load, so their ratio is steadier than the ratio of the two medians.
  const [plainRuns, encryptedRuns] = methods.map((m) => m.results) as [EncryptionRun[], EncryptionRun[]];
  const perRound = plainRuns.map((p, i) => encryptedRuns[i]!.ms / p.ms);
  const verdict = (r: number) => `(≤ ${TARGET_RATIO.toFixed(2)}): ${r <= TARGET_RATIO ? 'within target' : 'OVER TARGET'}`;
  const overhead = encrypted.storedBytes - plain.storedBytes;
  console.log('\nTargets:');
  console.log(`  encrypted / plain wall time, median over median: ${(encrypted.ms / plain.ms).toFixed(3)} ${verdict(encrypted.ms / plain.ms)}`);
  if (runs > 1) {
    const listed = perRound.map((r) => r.toFixed(3)).join(', ');
    console.log(`  encrypted / plain wall time, round by round: ${listed}; their median ${median(perRound).toFixed(3)} ${verdict(median(perRound))}`);
  }
  console.log(`  stored bytes, encrypted − plain: ${overhead} (${((overhead / plain.storedBytes) * 100).toFixed(3)} %)`);
}
