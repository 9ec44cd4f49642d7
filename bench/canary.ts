// `npm run bench -- canary`: how fast a canary acts on what it is told and what it sees, on
// the same real pieces as test/canary-haproxy.test.ts (Compose containers behind HAProxy, a
// real Prometheus, a ragops worker on the Temporal dev server):
// - abort signal → HAProxy's canary weight at 0, setWeight update → HAProxy's weight, and
//   pause signal → the run reporting itself paused (median of --runs, default 20);
// - a breach becoming visible in Prometheus → HAProxy's canary weight at 0 (--breaches runs),
//   against the target of one analysis interval plus 1 s;
// - the probe metric's own request rate against a raw fetch loop at the same concurrency,
//   both against one small HTTP server in a child process.
// It prints figures and asserts nothing.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { observeProbe } from '../src/activities/metrics/probe.js';
import type { CanaryStep } from '../src/config/stacks/canary.js';
import { metricProviderSchema, type ProbeProvider } from '../src/config/stacks/metrics.js';
import type { CanaryReport } from '../src/workflows/canary/report.js';
import { composeBehindHaproxy, startProbe, type ComposeBehindHaproxy } from '../test/support/canary-compose.js';
import { CANARY_APP_IMAGES, ensureCanaryAppImages } from '../test/support/canary-images.js';
import { startPrometheus, type TestPrometheus } from '../test/support/prometheus.js';
import { startWorker, tempDir, uniqueName } from '../test/support/ragops.js';
import { startTestTemporal } from '../test/support/temporal.js';
import { CleanupStack } from './lib/cleanupStack.js';
import { formatTable, median, ratio } from './lib/textTable.js';
import { UsageError } from './lib/usageError.js';

export const canaryUsage = 'canary [--runs N] [--breaches N] [--probe-requests N]';

const INTERVAL_S = 3;
const ERROR_RATE = `sum(increase(http_requests_total{role="canary",code="500"}[{{interval}}])) / sum(increase(http_requests_total{role="canary"}[{{interval}}]))`;
const REQUESTS = `sum(increase(http_requests_total{role="canary"}[{{interval}}]))`;
const POLL_MS = 5;

function parseOptions(args: string[]) {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { runs: { type: 'string', default: '20' }, breaches: { type: 'string', default: '5' }, 'probe-requests': { type: 'string', default: '5000' } } }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const count = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} takes a positive integer, not "${text}"`);
    return n;
  };
  return { runs: count('runs', values.runs), breaches: count('breaches', values.breaches), probeRequests: count('probe-requests', values['probe-requests']) };
}

/** Polls until `ok` holds; returns when it was first seen to hold. */
async function seenAt(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return Date.now();
    await sleep(POLL_MS);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Bench {
  env: ComposeBehindHaproxy;
  prometheus: TestPrometheus;
  client: Client;
  taskQueue: string;
}

function startCanary(bench: Bench, image: string, steps: CanaryStep[]): Promise<WorkflowHandle> {
  return bench.client.workflow.start('canary', { taskQueue: bench.taskQueue, workflowId: uniqueName('canary-bench'), args: [{ stack: 'prod', service: 'api', image, steps }] });
}

const canaryWeightIs = (bench: Bench, weight: number) => async () => (await bench.env.serverWeights()).canary === weight;

/** Abort → HAProxy canary weight 0, one canary per run (each launches and removes api-canary). */
async function abortToZero(bench: Bench, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const handle = await startCanary(bench, CANARY_APP_IMAGES.c2, [{ setWeight: 20 }, { pause: {} }]);
    await seenAt('the canary at 20 %', canaryWeightIs(bench, 20));
    const signalled = Date.now();
    await handle.signal('abort');
    times.push((await seenAt('weight 0 after abort', canaryWeightIs(bench, 0))) - signalled);
    await handle.result();
  }
  return times;
}

/** setWeight → HAProxy weight, and pause → status paused, `runs` times each within one canary. */
async function steeringInOneRun(bench: Bench, runs: number): Promise<{ setWeight: number[]; pause: number[] }> {
  const handle = await startCanary(bench, CANARY_APP_IMAGES.c2, [{ setWeight: 20 }, { pause: { duration: '1h' } }]);
  await seenAt('the canary at 20 %', canaryWeightIs(bench, 20));
  const setWeight: number[] = [];
  const pause: number[] = [];
  for (let run = 0; run < runs; run++) {
    const weight = run % 2 === 0 ? 30 : 20;
    const asked = Date.now();
    const update = handle.executeUpdate('setWeight', { args: [{ weight }] });
    setWeight.push((await seenAt(`weight ${weight}`, canaryWeightIs(bench, weight))) - asked);
    await update;
    const signalled = Date.now();
    await handle.signal('pause');
    pause.push((await seenAt('paused', async () => (await handle.query<CanaryReport>('status')).paused !== null)) - signalled);
    await handle.signal('resume');
    await seenAt('resumed', async () => (await handle.query<CanaryReport>('status')).paused === null);
  }
  await handle.signal('abort');
  await handle.result();
  return { setWeight, pause };
}

/** Breach visible in Prometheus → HAProxy canary weight 0, with probe traffic through HAProxy. */
async function breachToZero(bench: Bench, runs: number): Promise<number[]> {
  const query = ERROR_RATE.replaceAll('{{interval}}', `${INTERVAL_S}s`);
  // NaN when nothing answered in the window (0 / 0) or Prometheus has no series yet.
  const errorRateNow = async () => (await bench.prometheus.queryValue(query).catch(() => null)) ?? Number.NaN;
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    // Let the previous run's errors leave the query's window first.
    await seenAt('a clean window', async () => !((await errorRateNow()) > 0.05), 30_000);
    const probe = startProbe(bench.env.haproxy.url, () => bench.env.serverWeights().then((w) => w.canary), { pollMs: POLL_MS });
    try {
      const handle = await startCanary(bench, CANARY_APP_IMAGES.c2bad, [{ setWeight: 20 }, { analysis: { metrics: ['error-rate'], interval: `${INTERVAL_S}s`, count: 5 } }]);
      const breachAt = await seenAt('the breach in Prometheus', async () => (await errorRateNow()) > 0.05);
      await handle.result().catch(() => undefined);
      const zeroAt = probe.zeroAfter(20);
      if (zeroAt === undefined) throw new Error('HAProxy never went back to 0 after 20 %');
      times.push(zeroAt - breachAt);
      console.log(`  run ${run + 1}: ${zeroAt - breachAt} ms`);
    } finally {
      await probe.stop();
    }
  }
  return times;
}

/** Requests per second: ragops' probe metric, and a raw fetch loop doing the same requests. */
async function probeRate(requests: number): Promise<{ probe: number; raw: number; concurrency: number }> {
  const server = execa(process.execPath, ['-e', `const s = require('http').createServer((q, r) => r.end('ok')).listen(0, '127.0.0.1', () => console.log(s.address().port))`]);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout?.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim())));
      server.catch(reject);
    });
    const url = `http://127.0.0.1:${port}/`;
    const provider = metricProviderSchema.parse({ type: 'probe', url, requests, concurrency: 5, measure: 'errorRate' }) as ProbeProvider;
    const rawLoop = async () => {
      let next = 0;
      const worker = async () => {
        while (next < requests) {
          next += 1;
          const response = await fetch(url, { signal: AbortSignal.timeout(provider.timeoutMs) });
          await response.text();
        }
      };
      await Promise.all(Array.from({ length: provider.concurrency }, worker));
    };
    await rawLoop(); // warm both paths' connections and JIT
    const rawStarted = performance.now();
    await rawLoop();
    const raw = requests / ((performance.now() - rawStarted) / 1000);
    const probeStarted = performance.now();
    await observeProbe(provider, new AbortController().signal, 'bench probe', () => undefined);
    const probe = requests / ((performance.now() - probeStarted) / 1000);
    return { probe, raw, concurrency: provider.concurrency };
  } finally {
    server.kill();
    await server.catch(() => undefined);
  }
}

export async function benchCanary(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const cleanup = new CleanupStack();
  const removeHandlers = cleanup.onSignals();
  try {
    console.log('canary benchmark: building the test images, starting Compose + HAProxy, Prometheus, Temporal and a worker…');
    await ensureCanaryAppImages();
    const [env, temporal, store] = await Promise.all([composeBehindHaproxy(CANARY_APP_IMAGES.c1), startTestTemporal(), tempDir('canary-bench-store')]);
    cleanup.add('temporal', () => temporal.stop());
    cleanup.add('store', () => store.remove());
    cleanup.add('compose + haproxy', () => env.stop());
    const prometheus = await startPrometheus([
      { address: env.stableAddress, labels: { role: 'stable' } },
      { address: env.canaryAddress, labels: { role: 'canary' } },
    ]);
    cleanup.add('prometheus', () => prometheus.stop());
    const taskQueue = uniqueName('canary-bench');
    const stacks = {
      stacks: {
        prod: {
          store: { type: 'fs', path: store.path },
          deploy: { target: env.target, services: { api: { health: [{ url: `${env.project.url}/health`, timeoutSeconds: 15, intervalMs: 300 }], canary: { ports: [`${env.canaryAddress}:8080`] }, rolloutTimeoutSeconds: 30 } } },
          canary: {
            api: {
              traffic: env.shifter,
              steps: [{ setWeight: 10 }],
              metrics: [{ name: 'error-rate', provider: { type: 'prometheus', url: prometheus.url, query: ERROR_RATE, minRequestsQuery: REQUESTS, minRequests: 2 }, thresholdRange: { max: 0.05 } }],
            },
          },
        },
      },
    };
    const worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
    cleanup.add('worker', () => worker.stop());
    const bench: Bench = { env, prometheus, client: temporal.client, taskQueue };

    console.log(`abort → HAProxy weight 0: ${options.runs} canaries…`);
    const abort = await abortToZero(bench, options.runs);
    console.log(`setWeight → HAProxy, pause → paused: ${options.runs} times in one canary…`);
    const steering = await steeringInOneRun(bench, options.runs);
    console.log(`breach visible in Prometheus → HAProxy weight 0: ${options.breaches} canaries of c2bad (20 % errors)…`);
    const breach = await breachToZero(bench, options.breaches);
    console.log(`probe request rate: ${options.probeRequests} requests…`);
    const rate = await probeRate(options.probeRequests);

    const ms = (values: number[]) => [median(values).toFixed(0), Math.min(...values).toFixed(0), Math.max(...values).toFixed(0)];
    console.log('');
    console.log(
      formatTable(
        ['from → to', 'runs', 'median ms', 'min ms', 'max ms', 'target ms'],
        [
          ['abort signal → HAProxy canary weight 0', String(abort.length), ...ms(abort), '≤ 1000'],
          ['setWeight update → HAProxy weight', String(steering.setWeight.length), ...ms(steering.setWeight), '≤ 1000'],
          ['pause signal → status paused (weight held)', String(steering.pause.length), ...ms(steering.pause), '≤ 1000'],
          [`breach in Prometheus → HAProxy weight 0 (interval ${INTERVAL_S} s)`, String(breach.length), ...ms(breach), `≤ ${INTERVAL_S * 1000 + 1000}`],
        ],
      ),
    );
    console.log('');
    console.log(
      formatTable(
        ['request rate (loopback, concurrency ' + rate.concurrency + ')', 'requests/s', 'ratio to raw'],
        [
          ['raw fetch loop', rate.raw.toFixed(0), '1.00'],
          ['ragops probe metric', rate.probe.toFixed(0), ratio(rate.probe, rate.raw)],
        ],
      ),
    );
  } finally {
    removeHandlers();
    await cleanup.runAll();
  }
}
