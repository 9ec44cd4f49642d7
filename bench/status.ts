// `npm run bench -- status`: how long `ragops status` takes for a stack of N synthetic backups
// (default 5,000) in moto — with its catalog present, and with it deleted before each run so
// the run rebuilds it — against the raw tools listing the stack's keys (`aws s3api
// list-objects-v2`, `aws s3 ls --recursive`), which read no manifest at all. The CLI runs as a
// child process against a Temporal dev server (schedules and runs asked for real); the same
// call in this process shows what is the CLI's start-up. Target: under 3 s with the catalog.
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { withStore } from '../src/activities/store/open.js';
import { readStackCatalogWithSource } from '../src/activities/store/stackCatalog.js';
import { readStatus } from '../src/client/api/status.js';
import { loadStacksFile } from '../src/config/load.js';
import { s3StoreConfig, startMoto } from '../test/support/moto.js';
import { tempDir, writeStacksFile } from '../test/support/ragops.js';
import { objectsOf, putAll, syntheticBackup, type SyntheticBackup } from '../test/support/synthetic-backups.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { inRounds, method } from './lib/repeat.js';
import { formatTable, median, ratio, seconds } from './lib/textTable.js';
import { UsageError } from './lib/usageError.js';

export const statusUsage = 'status [--backups 5000] [--runs 3]';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const AWS = fileURLToPath(new URL('../.venv/bin/aws', import.meta.url));
const STACK = 'prod';
const BUCKET = 'ragops-bench-status';
const PREFIX = 'backups/';
const PLANS = ['pg', 'pg', 'vectors', undefined] as const;

function parseOptions(args: string[]): { backups: number; runs: number } {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { backups: { type: 'string', default: '5000' }, runs: { type: 'string', default: '3' } } }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [backups, runs] = [Number(values.backups), Number(values.runs)];
  if (!Number.isInteger(backups) || backups < 1) throw new UsageError(`--backups takes a positive integer, not "${values.backups}"`);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs takes a positive integer, not "${values.runs}"`);
  return { backups, runs };
}

/** Backups every 30 minutes up to now, over three plans, a drill every 50 backups and one DR drill. */
function syntheticHistory(count: number): SyntheticBackup[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, index) => {
    const plan = PLANS[index % PLANS.length];
    const backup = syntheticBackup(new Date(Math.floor((now - (count - index) * 30 * 60_000) / 1000) * 1000), index, plan ? { plan } : {});
    if (index % 50 === 0) backup.drills.push({ depth: index % 100 === 0 ? 'restore' : 'checksum', passed: index % 150 !== 0, outcome: index % 150 === 0 ? 'failed' : 'passed', afterHours: 1 });
    if (index === count - 10) backup.dr = [{ mode: 'drill', afterHours: 1, rtoSeconds: 900, rtoTargetSeconds: 1800, rpoSeconds: 1200, rpoTargetSeconds: 3600 }];
    return backup;
  });
}

const timed = async <T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
};

export async function benchStatus(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const cleanup = new CleanupStack();
  const removeHandlers = cleanup.onSignals();
  try {
    const [moto, temporal, dir] = await Promise.all([startMoto(), startTestTemporal(), tempDir('bench-status')]);
    cleanup.add('moto', () => moto.stop());
    cleanup.add('temporal', () => temporal.stop());
    cleanup.add('temp dir', () => dir.remove());
    await moto.createBucket(BUCKET);
    const configPath = await writeStacksFile(dir.path, {
      stacks: {
        [STACK]: {
          postgres: [{ name: 'app', database: 'app' }],
          store: s3StoreConfig(moto, BUCKET, PREFIX),
          plans: { pg: { components: ['postgres'] }, vectors: { components: ['postgres'] } },
          slo: { backupMaxAge: '1h' },
        },
      },
    });
    const env = { TEST_S3_ACCESS_KEY: moto.accessKeyId, TEST_S3_SECRET_KEY: moto.secretAccessKey };
    Object.assign(process.env, env);
    const history = syntheticHistory(options.backups);
    const objects = history.flatMap((backup) => objectsOf(STACK, backup, { minimal: true }));
    const written = await timed(() => putAll(moto.s3, BUCKET, PREFIX, objects, 32));
    console.log(`status bench: ${options.backups} backups (${objects.length} objects) written to moto in ${seconds(written.ms)} s; ${options.runs} run(s) of each method\n`);

    const cliEnv = { ...env, RAGOPS_CONFIG: configPath, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace };
    const awsEnv = { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey, AWS_DEFAULT_REGION: moto.region, PATH: process.env.PATH ?? '' };
    const run = async (file: string, argv: string[], childEnv: Record<string, string>) => {
      const result = await timed(() => execa(file, argv, { env: childEnv, extendEnv: file !== AWS, reject: false, maxBuffer: 512 * 1024 * 1024 }));
      if (result.value.exitCode !== 0) throw new Error(`${file} ${argv.join(' ')} exited ${result.value.exitCode}: ${result.value.stderr}`);
      return { ms: result.ms, stdout: String(result.value.stdout) };
    };
    const cliStatus = async () => {
      const result = await run(process.execPath, [RAGOPS, 'status', '--json'], cliEnv);
      const report = JSON.parse(result.stdout) as { stacks: Array<{ store: { source?: string }; counts: { completeBackups: number } | null }> };
      return { ms: result.ms, source: report.stacks[0]!.store.source ?? 'unknown', backups: report.stacks[0]!.counts?.completeBackups ?? 0 };
    };
    const deleteCatalog = () => moto.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${STACK}/catalog.json` }));
    const file = await loadStacksFile(configPath);
    Object.assign(process.env, { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace }); // the in-process call asks the same server
    const s3Args = ['--endpoint-url', moto.endpoint, '--output', 'json'];

    const warm = await cliStatus(); // builds the catalog
    console.log(`  first run (no catalog yet): ${seconds(warm.ms)} s, catalog ${warm.source}, ${warm.backups} complete backups`);
    const methods = [
      method('status, catalog', cliStatus, (r) => ` (catalog ${r.source})`),
      method('status, rebuilt', async () => {
        await deleteCatalog();
        return cliStatus();
      }, (r) => ` (catalog ${r.source})`),
      method('status in-process', async () => {
        const result = await timed(() => readStatus(file, {}));
        const stack = result.value.stacks[0]!;
        return { ms: result.ms, source: stack.store.known ? stack.store.source : 'unknown', temporal: stack.schedules.known ? 'asked' : stack.schedules.cause };
      }, (r) => ` (catalog ${r.source}, Temporal ${r.temporal}, no CLI start-up)`),
      method('catalog read alone', async () => {
        const result = await timed(() => withStore(file.stacks[STACK]!.store, (store) => readStackCatalogWithSource(store, STACK)));
        return { ms: result.ms, source: result.value.source };
      }, (r) => ` (catalog ${r.source})`),
      method('ragops --version', async () => ({ ms: (await run(process.execPath, [RAGOPS, '--version'], cliEnv)).ms }), () => ' (CLI start-up alone)'),
      method('aws s3api list-objects-v2', async () => {
        const result = await run(AWS, ['s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', `${PREFIX}${STACK}/`, ...s3Args], awsEnv);
        return { ms: result.ms, keys: (JSON.parse(result.stdout) as { Contents?: unknown[] }).Contents?.length ?? 0 };
      }, (r) => ` (${r.keys} keys)`),
      method('aws s3 ls --recursive', async () => {
        const result = await run(AWS, ['s3', 'ls', '--recursive', `s3://${BUCKET}/${PREFIX}${STACK}/`, '--endpoint-url', moto.endpoint], awsEnv);
        return { ms: result.ms, keys: result.stdout.trim().split('\n').length };
      }, (r) => ` (${r.keys} keys)`),
    ];
    await inRounds(options.runs, methods);

    const raw = median(methods[5]!.results.map((r) => r.ms));
    const rows = methods.map((m) => {
      const ms = median(m.results.map((r) => r.ms));
      return [m.label, seconds(ms), ratio(ms, raw)];
    });
    console.log(`\n${formatTable(['method (median)', 'seconds', 'x list-objects-v2'], rows)}`);
    const withCatalog = median(methods[0]!.results.map((r) => r.ms));
    console.log(`\nragops status with its catalog: ${seconds(withCatalog)} s for ${options.backups} backups — target under 3 s: ${withCatalog < 3000 ? 'met' : 'NOT met'}`);
  } finally {
    removeHandlers();
    await cleanup.runAll();
  }
}
