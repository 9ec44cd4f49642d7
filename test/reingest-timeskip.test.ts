// The reingest runbook's default 24 h rollback window on the time-skipping test server: a
// rollback at hour 23 switches back; at hour 25 the window has closed, the old collection is
// deleted and a rollback is refused. Activities are fakes that keep the alias and the
// collections in memory: this is the workflow's logic; the real side is in reingest-workflow.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Activities } from '../src/activities/index.js';
import type { ReingestInput, ReingestOptions } from '../src/config/inputs.js';
import type { ReingestPlan } from '../src/config/plan.js';
import { reingestInputSchema } from '../src/config/inputs.js';
import { rollbackReingest } from '../src/client/api/reingest.js';
import { workflowsPath } from '../src/worker.js';
import type { ReingestReport } from '../src/workflows/reingest/report.js';
import { quietRuntime, uniqueName } from './support/ragops.js';

const WITHOUT_SEARCH_ATTRIBUTES = fileURLToPath(new URL('./support/without-search-attributes.ts', import.meta.url));
const TEST_SERVER = fileURLToPath(new URL('../.venv/bin/temporal-test-server', import.meta.url));
const NEW = 'ragops_reingest_a1b2c3d4_docs';

/** Qdrant as the fakes see it: where the alias points and which collections exist. */
interface World {
  alias: string;
  collections: Set<string>;
  /** The rows already done when each ingest call began. */
  ingestCalls: number[];
}

function fakes(world: World): Partial<Activities> {
  return {
    async resolveReingestPlan({ options }: { options: ReingestOptions }): Promise<ReingestPlan> {
      return {
        stack: options.stack,
        runTag: 'a1b2c3d4',
        options,
        qdrant: { url: 'http://qdrant.test:6333' },
        source: { kind: 'postgres', postgres: 'app', query: 'SELECT id, text FROM chunks', key: 'id', text: 'text', payload: [] },
        connections: {},
        embedder: { type: 'openai', url: 'http://embedder.test/v1', model: 'all-MiniLM-L6-v2' } as ReingestPlan['embedder'],
        golden: [{ query: 'restore a snapshot', expect: [7] }],
        gate: { k: 10, minRecall: 0.9 },
      };
    },
    async probeEmbedder() {
      return { dimensions: 384, model: 'all-MiniLM-L6-v2', configuredModel: 'all-MiniLM-L6-v2', modelMatches: true, modelReported: true };
    },
    async planReingestTarget() {
      return { alias: 'docs', live: 'docs_v1', livePoints: 10, collection: NEW, clone: { create: { vectors: { size: 384, distance: 'Cosine' } }, payloadIndexes: [], vectorName: undefined, vectorSize: 384, distance: 'Cosine', changes: [] } } as never;
    },
    async reingestSourceClock() {
      return null;
    },
    async countReingestSource() {
      return { rows: 10, nullKeys: 0, duplicateKeys: 0 };
    },
    async createReingestCollection({ collection }: { collection: string }) {
      world.collections.add(collection);
      return { collection, created: true } as never;
    },
    // Three calls of 4 rows, 4 rows and 2 rows: keys 1..10.
    async ingestReingestPages({ from }: { from: { rows: number; pages: number } }) {
      const rows = Math.min(from.rows + 4, 10);
      world.ingestCalls.push(from.rows);
      return { ...from, checkpoint: { kind: 'postgres', lastKey: String(rows) }, rows, pages: from.pages + 1, embedRequests: from.pages + 1, embedRetries: 0, embedMs: 5, done: rows === 10 } as never;
    },
    async countCollectionPoints() {
      return 10;
    },
    async evaluateGoldenSet() {
      return { results: [{ query: 'restore a snapshot', expected: [7], results: [7, 3, 1], live: [7, 1] }] };
    },
    async switchReingestAlias({ to }: { to: string }) {
      const from = world.alias;
      world.alias = to;
      return { alias: 'docs', from, to, switched: from !== to };
    },
    async deleteReingestCollection({ collection }: { collection: string }) {
      return world.collections.delete(collection);
    },
  };
}

describe('reingest rollback window (time-skipping test server, fake activities)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    quietRuntime();
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER } } });
  });
  after(async () => env?.teardown());

  async function withWorker<T>(world: World, body: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = uniqueName('reingest-ts');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath,
      interceptors: { workflowModules: [WITHOUT_SEARCH_ATTRIBUTES] },
      activities: fakes(world),
    });
    return worker.runUntil(body(taskQueue));
  }

  const input: ReingestInput = { stack: 'prod', alias: 'docs', source: 'chunks', embedder: 'minilm' };
  assert.equal(reingestInputSchema.parse(input).window, '24h', 'the window is 24 h unless the input says otherwise');

  async function startAndReachWindow(taskQueue: string) {
    const handle = await env.client.workflow.start('reingest', { taskQueue, workflowId: uniqueName('reingest'), args: [input] });
    for (let i = 0; i < 200; i++) {
      const report = await handle.query<ReingestReport>('status');
      if (report.phase === 'window') return handle;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the run never reached its window');
  }

  test('a rollback at hour 23 switches the alias back; the new collection is deleted, the old one kept', async () => {
    const world: World = { alias: 'docs_v1', collections: new Set(['docs_v1']), ingestCalls: [] };
    await withWorker(world, async (taskQueue) => {
      const handle = await startAndReachWindow(taskQueue);
      assert.equal(world.alias, NEW);
      await env.sleep('23h');
      const answer = await rollbackReingest(env.client, handle.workflowId, 'ops@test');
      assert.ok(answer.accepted, JSON.stringify(answer));
      const report = (await handle.result()) as ReingestReport;
      assert.equal(report.outcome, 'rolled back');
      assert.equal(world.alias, 'docs_v1');
      assert.deepEqual([...world.collections], ['docs_v1']);
    });
  });

  test('at hour 25 the window has closed: the old collection is deleted and a rollback is refused', async () => {
    const world: World = { alias: 'docs_v1', collections: new Set(['docs_v1']), ingestCalls: [] };
    await withWorker(world, async (taskQueue) => {
      const handle = await startAndReachWindow(taskQueue);
      await env.sleep('25h');
      const answer = await rollbackReingest(env.client, handle.workflowId, 'ops@test');
      assert.equal(answer.accepted, false);
      const report = (await handle.result()) as ReingestReport;
      assert.equal(report.outcome, 'switched');
      assert.equal(report.oldCollectionDeleted, true);
      assert.equal(world.alias, NEW);
      assert.deepEqual([...world.collections], [NEW]);
    });
  });

  test('continue-as-new after each ingest call (threshold set low): every run resumes from the checkpoint it carries, nothing is planned or created twice', async () => {
    const world: World = { alias: 'docs_v1', collections: new Set(['docs_v1']), ingestCalls: [] };
    await withWorker(world, async (taskQueue) => {
      const handle = await env.client.workflow.start('reingest', { taskQueue, workflowId: uniqueName('reingest'), args: [{ ...input, window: '1m', ingestCallsPerRun: 1 }] });
      const report = (await handle.result()) as ReingestReport;
      assert.equal(report.generation, 3, 'two continue-as-new');
      assert.deepEqual(world.ingestCalls, [0, 4, 8], 'each run started after the rows the last one did');
      assert.equal(report.ingest.rows, 10);
      assert.equal(report.outcome, 'switched');
      assert.deepEqual([...world.collections], [NEW]);
    });
  });
});
