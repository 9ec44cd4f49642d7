import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { startPrune } from '../src/client/api/runbooks.js';
import { compareSearchAttributes, searchAttributeCreateCommands } from '../src/client/api/searchAttributes.js';
import { startTemporalDevServer, type DevServer } from '../src/client/dev/devserver.js';
import { RAGOPS_SEARCH_ATTRIBUTES, RagopsPhase, RagopsStack } from '../src/core/searchAttributes.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { exportHistoryJson } from './support/temporal.js';

const RAGOPS_NAMES = RAGOPS_SEARCH_ATTRIBUTES.map((key) => key.name);
// The dev server's SQLite visibility store has 10 Keyword columns for custom attributes
// (Temporal CLI 1.9.1 / server 1.32: "cannot have more than 10 search attribute of type Keyword").
const KEYWORD_LIMIT = 10;

let dir: { path: string; remove(): Promise<void> };
let configPath: string;
const servers: DevServer[] = [];
const workers: WorkerProcess[] = [];

before(async () => {
  dir = await tempDir('search-attributes');
  configPath = await writeStacksFile(dir.path, { stacks: { prod: { store: { type: 'fs', path: dir.path + '/store' }, retention: { keepDaily: 7 } } } });
});
after(async () => {
  await Promise.allSettled(workers.map((worker) => worker.stop()));
  await Promise.allSettled(servers.map((server) => server.stop()));
  await dir?.remove();
});

async function devServer(searchAttributes: Record<string, string>): Promise<DevServer> {
  const server = await startTemporalDevServer({ headless: true, searchAttributes });
  servers.push(server);
  return server;
}

function worker(address: string, taskQueue: string): WorkerProcess & { stderr(): string } {
  const spawned = spawnWorkerProcess({ address, taskQueue, configPath });
  workers.push(spawned);
  let stderr = '';
  spawned.process.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { ...spawned, stderr: () => stderr };
}

async function customAttributes(address: string, namespace: string): Promise<Record<string, number>> {
  const connection = await Connection.connect({ address });
  try {
    return (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes as Record<string, number>;
  } finally {
    await connection.close();
  }
}

async function untilOutput(spawned: WorkerProcess, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(spawned.output())) {
    if (spawned.process.exitCode !== null) assert.fail(`the worker exited (${spawned.process.exitCode}) before printing ${pattern}:\n${spawned.output()}`);
    if (Date.now() > deadline) assert.fail(`the worker did not print ${pattern} within ${timeoutMs / 1000} s:\n${spawned.output()}`);
    await sleep(100);
  }
}

test('the comparison names missing attributes and type clashes; the commands are one per attribute', () => {
  const keyword = 2;
  const text = 1;
  const { missing, clashing } = compareSearchAttributes({ RagopsStack: keyword, RagopsRunbook: text, Other: keyword });
  assert.deepEqual(missing.map((key) => key.name), ['RagopsPhase', 'RagopsService', 'RagopsImage']);
  assert.deepEqual(clashing, [{ name: 'RagopsRunbook', want: 'Keyword', found: 'Text' }]);
  assert.deepEqual(searchAttributeCreateCommands('prod-ns', [RagopsStack, RagopsPhase]), [
    'temporal operator search-attribute create --namespace prod-ns --name RagopsStack --type Keyword',
    'temporal operator search-attribute create --namespace prod-ns --name RagopsPhase --type Keyword',
  ]);
});

test('a namespace with none of the attributes: the worker creates them and a run that upserts them completes', async () => {
  const server = await devServer({});
  assert.deepEqual(Object.keys(await customAttributes(server.address, server.namespace)).filter((name) => RAGOPS_NAMES.includes(name)), []);
  const taskQueue = uniqueName('sa-create');
  const spawned = worker(server.address, taskQueue);
  await untilOutput(spawned, /polling task queue/);
  assert.match(spawned.output(), new RegExp(`created search attributes ${RAGOPS_NAMES.join(', ')} in namespace "default"`));
  const present = await customAttributes(server.address, server.namespace);
  for (const name of RAGOPS_NAMES) assert.equal(present[name], 2, `${name} is not a Keyword attribute`);

  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection, namespace: server.namespace });
    const handle = await startPrune(client, { stack: 'prod', dryRun: true }, { taskQueue });
    const report = await handle.result();
    assert.equal(report.dryRun, true);
    const history = await exportHistoryJson(client, handle.workflowId);
    assert.match(history, /EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES/);
    assert.doesNotMatch(history, /EVENT_TYPE_WORKFLOW_TASK_FAILED/);
  } finally {
    await connection.close();
  }

  // A second worker finds everything in place and creates nothing.
  await spawned.stop();
  const again = worker(server.address, taskQueue);
  await untilOutput(again, /polling task queue/);
  assert.doesNotMatch(again.output(), /created search attributes/);
});

test('a namespace that refuses new attributes: the worker exits non-zero with the create command for each', async () => {
  const unrelated = Object.fromEntries(Array.from({ length: KEYWORD_LIMIT }, (_, i) => [`Unrelated${i + 1}`, 'Keyword']));
  const server = await devServer(unrelated);
  // The limit is real on this server: one more Keyword attribute is refused.
  const connection = await Connection.connect({ address: server.address });
  try {
    await assert.rejects(
      connection.operatorService.addSearchAttributes({ namespace: server.namespace, searchAttributes: { OneMore: 2 } }),
      /cannot have more than 10 search attribute of type Keyword/,
    );
  } finally {
    await connection.close();
  }

  const spawned = worker(server.address, uniqueName('sa-refused'));
  const exit = await Promise.race([spawned.process, sleep(60_000, undefined, { ref: false }).then(() => undefined)]);
  assert.ok(exit, `the worker did not exit within 60 s:\n${spawned.output()}`);
  assert.notEqual(exit.exitCode, 0, spawned.output());
  const output = spawned.stderr();
  assert.match(output, /namespace "default" lacks search attributes ragops upserts/);
  assert.match(output, /cannot have more than 10 search attribute of type Keyword/);
  for (const name of RAGOPS_NAMES) {
    assert.ok(
      output.includes(`temporal operator search-attribute create --namespace default --name ${name} --type Keyword`),
      `no create command for ${name} in:\n${output}`,
    );
  }
  assert.doesNotMatch(output, /polling task queue/);
  const present = await customAttributes(server.address, server.namespace);
  assert.deepEqual(Object.keys(present).filter((name) => RAGOPS_NAMES.includes(name)), []);
});
