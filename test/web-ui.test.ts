// The Temporal Web UI, checked in a real browser: Debian's chromium, headless, driven by
// playwright-core, against the dev server's own UI (`temporal server start-dev` with its UI on a
// free loopback port). A backup started through the ragops client API is held running by a slow
// exec dump (a host command that waits for a file before it writes its output); its page shows
// the summary, the static details (the resolved plan) and the current-details table with the
// running step, and the workflows list filtered by `RagopsStack` finds it and only it. A canary
// on the Kubernetes API stand-in (real kubectl, kubernetes-replicas shifter, http-json error rate
// from a metrics app) runs to promotion; its page shows its measurements.
// On failure a screenshot and the page's text go to a temp dir, whose path is printed.
import type { Client } from '@temporalio/client';
import { Connection, Client as TemporalClient } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { stringify } from 'yaml';
import { canaryWorkflowId, startCanary } from '../src/client/api/canary.js';
import { startBackup } from '../src/client/api/runbooks.js';
import { startTemporalDevServer, type DevServer } from '../src/client/dev/devserver.js';
import { parseStacksFile } from '../src/config/load.js';
import type { StacksFile } from '../src/config/stacks/index.js';
import type { CanaryReport } from '../src/workflows/canary/report.js';
import { canaryStacks, CANARY_NAMESPACE, seedStableDeployment, STABLE_REPLICAS, until } from './support/canary-stack.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';
import { startMetricsApp, startTraffic, type MetricsApp, type Traffic } from './support/metrics-app.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const BACKUP_STACK = 'webui';
const CANARY_STACK = 'webui-canary';
const ATTEMPT_TIMEOUT_MS = 15_000;
const LOAD_ATTEMPTS = 4;

function chromiumPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium not found on PATH: run `bash scripts/setup.sh` (it installs Debian\'s chromium), or apt-get install chromium');
  }
}

let server: DevServer;
let connection: Connection;
let client: Client;
let kube: KubeStandin;
let app: MetricsApp;
let traffic: Traffic | undefined;
let worker: RunningWorker;
let browser: Browser;
let store: { path: string; remove(): Promise<void> };
let stacks: StacksFile;
let shots: string | undefined;
const taskQueue = uniqueName('web-ui');
const token = `tok-${randomBytes(12).toString('hex')}`;

before(async () => {
  [server, kube, app, store] = await Promise.all([startTemporalDevServer({ headless: false }), startKubeStandin({ readyDelayMs: 100 }), startMetricsApp({ version: 'web-canary' }), tempDir('web-ui')]);
  connection = await Connection.connect({ address: server.address });
  client = new TemporalClient({ connection, namespace: server.namespace });
  seedStableDeployment(kube, 'web');
  await until('stable pods ready', () => kube.get('deployment', CANARY_NAMESPACE, 'web')?.status?.readyReplicas === STABLE_REPLICAS, 20_000);
  const canary = (canaryStacks(kube, { web: { deployment: 'web', statsUrl: app.url('/stats'), steps: [{ setWeight: 10 }, { analysis: { metrics: ['error-rate'], interval: '1s', count: 2 } }] } }) as { stacks: { prod: Record<string, unknown> } }).stacks.prod;
  // The exec dump waits for the gate file: the backup stays running until the test opens it.
  // Its token reaches the command by environment only; it must show nowhere in the UI.
  process.env.WEB_UI_TEST_TOKEN = token;
  const text = stringify({
    stacks: {
      [BACKUP_STACK]: {
        execDumps: [
          {
            name: 'slow',
            extension: '.txt',
            run: { host: { argv: ['/bin/sh', '-c', `while [ ! -e ${join(store.path, 'gate')} ]; do sleep 0.2; done; echo "backed up"`] } },
            env: { DUMP_TOKEN: { env: 'WEB_UI_TEST_TOKEN' } },
          },
        ],
        store: { type: 'fs', path: join(store.path, 'backups') },
        retention: { keepLast: 3 },
      },
      [CANARY_STACK]: canary,
    },
  });
  stacks = parseStacksFile(text, 'web-ui stacks');
  worker = await startWorker({ address: server.address, taskQueue, stacksText: text });
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
});

after(async () => {
  await traffic?.stop();
  await browser?.close();
  await worker?.stop();
  await connection?.close();
  await Promise.allSettled([server?.stop(), kube?.stop(), app?.stop(), store?.remove()]);
});

type Ready = (page: Page) => Promise<unknown>;
type Open = (path: string, ready: Ready) => Promise<Page>;

/**
 * Runs a test's browser work; when it fails, every page it opened leaves a screenshot and its
 * text (with the rendered Markdown frames') in a temp dir, whose path is printed. `open` loads a
 * page until `ready` passes: Chromium drops the requests in flight when the host's network
 * changes (ERR_NETWORK_CHANGED — other tests add and remove Docker networks), and the UI then
 * shows its error page, so a page is loaded again (a few times, each time said) before failing.
 */
async function inBrowser(name: string, work: (open: Open) => Promise<void>): Promise<void> {
  const pages: Page[] = [];
  const open: Open = async (path, ready) => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    pages.push(page);
    const failed: string[] = [];
    page.on('requestfailed', (request) => failed.push(`${request.failure()?.errorText ?? 'failed'} ${request.url().slice(0, 100)}`));
    page.setDefaultTimeout(ATTEMPT_TIMEOUT_MS);
    for (let attempt = 1; ; attempt++) {
      try {
        await (attempt === 1 ? page.goto(`${server.uiUrl}${path}`) : page.reload());
        await ready(page);
        return page;
      } catch (error) {
        const why = failed.splice(0);
        if (attempt >= LOAD_ATTEMPTS) throw new Error(`${path} not ready after ${attempt} loads (failed requests: ${why.join('; ') || 'none'})`, { cause: error });
        console.log(`web-ui: loading ${path} again (${(error as Error).message.split('\n')[0]}; failed requests: ${why.slice(0, 3).join('; ') || 'none'})`);
      }
    }
  };
  try {
    await work(open);
  } catch (error) {
    shots ??= await mkdtemp(join(tmpdir(), 'ragops-web-ui-shots-'));
    for (const [index, page] of pages.entries()) {
      const file = join(shots, `${name}-${index + 1}`);
      await page.screenshot({ path: `${file}.png`, fullPage: true }).catch(() => undefined);
      const frames = await Promise.all(page.frames().map(async (frame) => `--- ${frame.url().slice(0, 120)}\n${await frame.locator('body').innerText({ timeout: 2_000 }).catch(() => '')}`));
      await writeFile(`${file}.txt`, `${page.url()}\n\n${frames.join('\n\n')}`);
    }
    console.log(`web-ui: ${name} failed; screenshots and page text in ${shots}`);
    throw error;
  } finally {
    await Promise.allSettled(pages.map((page) => page.close()));
  }
}

const runPath = (workflowId: string, runId: string, tab = 'user-metadata') => `/namespaces/${server.namespace}/workflows/${encodeURIComponent(workflowId)}/${runId}/${tab}`;
const listPath = (query?: string) => `/namespaces/${server.namespace}/workflows${query ? `?query=${encodeURIComponent(query)}` : ''}`;

async function currentDetails(workflowId: string): Promise<string> {
  const metadata = (await client.workflow.getHandle(workflowId).query('__temporal_workflow_metadata')) as { currentDetails?: string };
  return metadata.currentDetails ?? '';
}

/** A run's page is ready once it shows the run's status and its three Markdown frames have rendered. */
const runPageReady = (status: RegExp, summary: string): Ready => async (page) => {
  await page.getByText(status).first().waitFor();
  await page.frameLocator('#user-metadata-summary').getByText(summary).waitFor();
  await page.frameLocator('#user-metadata-details').locator('table').first().waitFor();
  await page.frameLocator('#user-metadata-current-details').locator('table').first().waitFor();
};

/** The cells of each body row of the table with this column header, rendered in a Markdown frame of the page. */
async function tableRows(page: Page, frameId: string, header: string): Promise<string[][]> {
  const table = page.frameLocator(`#${frameId}`).locator(`table:has(th:text-is(${JSON.stringify(header)}))`).first();
  await table.waitFor();
  const rows = await table.locator('tbody tr').all();
  return Promise.all(rows.map(async (row) => (await row.locator('td').allInnerTexts()).map((text) => text.trim())));
}

describe('the Temporal Web UI in a real browser (playwright-core + Debian chromium, headless)', () => {
  const canaryId = canaryWorkflowId({ stack: CANARY_STACK, service: 'web' });

  test('a finished canary shows its steps done and its measurements', async () => {
    traffic = startTraffic(app.url('/'), 20);
    await until('traffic on the metrics app', () => (app.counts()['200'] ?? 0) >= 10);
    const handle = await startCanary(client, { stack: CANARY_STACK, service: 'web', image: 'ragops-test/api:v2' }, { taskQueue, stacks });
    assert.equal(handle.workflowId, canaryId);
    const report = (await handle.result()) as CanaryReport;
    assert.equal(report.outcome, 'promoted', JSON.stringify(report));
    assert.equal(report.measurements.length, 2);

    await inBrowser('canary', async (open) => {
      const page = await open(runPath(handle.workflowId, handle.firstExecutionRunId), runPageReady(/^completed$/i, `canary of ragops-test/api:v2 for web of stack ${CANARY_STACK}`));
      const plan = await tableRows(page, 'user-metadata-details', 'resolved plan');
      assert.deepEqual(plan.find(([name]) => name === 'steps'), ['steps', '1. set weight 10 %; 2. analysis error-rate every 1s × 2'], JSON.stringify(plan));
      assert.deepEqual(plan.find(([name]) => name === 'traffic'), ['traffic', 'kubernetes-replicas shifter, weight at most 50 % before promotion']);

      const runbookSteps = await tableRows(page, 'user-metadata-current-details', 'step');
      assert.ok(runbookSteps.length >= 5 && runbookSteps.every(([status]) => status === '✅ done'), JSON.stringify(runbookSteps));
      assert.ok(runbookSteps.some(([, title, , detail]) => title === 'measure error-rate at 10 %' && detail === 'error-rate 0 passed'), JSON.stringify(runbookSteps));
      const canarySteps = await tableRows(page, 'user-metadata-current-details', 'canary step');
      assert.deepEqual(canarySteps.map(([mark]) => mark), ['✅ done', '✅ done'], JSON.stringify(canarySteps));
      const measurements = await tableRows(page, 'user-metadata-current-details', 'outcome');
      assert.equal(measurements.length, report.measurements.length, JSON.stringify(measurements));
      for (const [index, [at, metric, value, outcome]] of measurements.entries()) {
        const measured = report.measurements[report.measurements.length - 1 - index]!; // newest first
        assert.deepEqual([at, metric, value, outcome], [measured.at, 'error-rate', String(measured.value), 'passed']);
      }
      const currentText = await page.frameLocator('#user-metadata-current-details').locator('body').innerText();
      assert.match(currentText, /weight 0 %/);
      assert.match(currentText, /promoted/);
    });
  });

  test('a running backup: summary, resolved plan, the running step in the current details, and found by a RagopsStack filter', async () => {
    const handle = await startBackup(client, { stack: BACKUP_STACK, components: ['exec'], prune: false }, { taskQueue, stacks });
    const gate = join(store.path, 'gate');
    try {
      await until('the exec dump step running', async () => (await currentDetails(handle.workflowId)).includes('| ⏳ running | exec dump slow |'));
      await inBrowser('backup', async (open) => {
        const page = await open(runPath(handle.workflowId, handle.firstExecutionRunId), runPageReady(/^running$/i, `backup of stack ${BACKUP_STACK} (exec)`));

        const plan = await tableRows(page, 'user-metadata-details', 'resolved plan');
        assert.deepEqual(
          plan.map(([name]) => name),
          ['plan', 'components', 'store', 'verify after writing', 'prune after'],
        );
        assert.deepEqual(plan.find(([name]) => name === 'components'), ['components', 'exec dump slow (host command, .txt)']);
        assert.deepEqual(plan.find(([name]) => name === 'store'), ['store', `filesystem ${join(store.path, 'backups')}`]);

        const steps = await tableRows(page, 'user-metadata-current-details', 'step');
        const running = steps.filter(([status]) => status === '⏳ running');
        assert.deepEqual(running.map(([, title]) => title), ['exec dump slow'], JSON.stringify(steps));
        assert.ok(steps.slice(0, -1).every(([status]) => status === '✅ done'), JSON.stringify(steps));

        // Nothing of the dump's secret anywhere on the page or in its frames.
        for (const frame of page.frames()) assert.ok(!(await frame.content()).includes(token), `the token is in ${frame.url()}`);

        // The workflows list, filtered by the stack's search attribute: this run, not the canary's.
        await open(listPath(), async (all) => {
          await all.getByRole('link', { name: canaryId }).first().waitFor();
          await all.getByRole('link', { name: handle.workflowId }).first().waitFor();
        });
        const filtered = await open(listPath(`RagopsStack="${BACKUP_STACK}"`), (page) => page.getByRole('link', { name: handle.workflowId }).first().waitFor());
        assert.equal(await filtered.getByRole('link', { name: canaryId }).count(), 0, 'the canary of another stack is listed under the filter');
        const row = filtered.getByRole('row', { name: new RegExp(handle.workflowId) }).first();
        assert.match(await row.innerText(), /Running/i);
      });
    } finally {
      await writeFile(gate, '');
    }
    const result = await handle.result();
    assert.equal(result.artifacts.length, 1, JSON.stringify(result));
  });
});
