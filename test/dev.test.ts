// `ragops dev` tells the operator which `temporal` CLI it runs and keeps the worker's bundler
// output (webpack's report on the workflow bundle) in a log file under .ragops/, not the terminal.
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { findFreePort, findTemporalCli } from '../src/client/dev/devserver.js';
import { tempDir } from './support/ragops.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
/** What webpack and the SDK's bundler say about the workflow bundle. */
const BUNDLER_OUTPUT = /webpack|asset workflow-bundle|modules by path|orphan modules|Workflow bundle created/;

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('dev');
});
after(async () => dir?.remove());

test('ragops dev prints the temporal CLI it runs and no bundler output; the bundle log is in .ragops/worker.log', async () => {
  const [port, uiPort] = [await findFreePort(), await findFreePort()];
  const dev = execa(process.execPath, [RAGOPS, 'dev', '--port', String(port), '--ui-port', String(uiPort), '--no-initial-backup'], {
    cwd: dir.path,
    env: { PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: 'postgres', PGDATABASE: 'postgres', RAGOPS_METRICS_ADDRESS: '' },
    all: true,
    buffer: false,
    reject: false,
  });
  let output = '';
  dev.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    for (let i = 0; i < 1200 && !/Stop with Ctrl-C/.test(output) && dev.exitCode === null; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.match(output, /ragops dev is up/, output);

    const cli = /^ {2}Temporal CLI\s+(\S+)/m.exec(output)?.[1];
    assert.ok(cli, `no Temporal CLI line:\n${output}`);
    assert.equal(cli, findTemporalCli());
    accessSync(cli, constants.X_OK);
    const version = await execa(cli, ['--version']);
    assert.match(version.stdout, /temporal version/);

    assert.doesNotMatch(output, BUNDLER_OUTPUT, 'bundler output reached the terminal');
    const logPath = join(dir.path, '.ragops', 'worker.log');
    assert.match(output, new RegExp(`worker log\\s+${logPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const log = await readFile(logPath, 'utf8');
    assert.match(log, /webpack [\d.]+ compiled successfully/, 'the bundler output is in the log file');
    assert.match(log, /Workflow bundle created/);
    assert.match(log, /ragops worker: polling task queue "ragops"/);
  } finally {
    dev.kill('SIGINT');
    const exit = await dev;
    assert.match(output, /ragops dev stopped/, output);
    assert.equal(exit.exitCode, 0, output);
  }
  assert.doesNotMatch(output, BUNDLER_OUTPUT);
});
