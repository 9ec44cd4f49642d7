import { execa } from 'execa';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '../src/client/dev/devserver.js';
import { tempDir } from './support/ragops.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));

function ragops(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [RAGOPS, ...args], { cwd: options.cwd, env: options.env, reject: false, all: true });
}

describe('ragops CLI', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await tempDir('cli');
  });
  after(async () => dir?.remove());

  test('config check: ok for a good file, every problem with its path for a bad one', async () => {
    const good = join(dir.path, 'good.yaml');
    await writeFile(good, 'stacks:\n  prod:\n    postgres: [{ name: app, database: app }]\n    store: { type: fs, path: ./backups }\n');
    const ok = await ragops(['config', 'check', good]);
    assert.equal(ok.exitCode, 0, ok.all);
    assert.match(ok.all ?? '', /ok — stacks prod/);

    const bad = join(dir.path, 'bad.yaml');
    await writeFile(bad, 'stacks:\n  prod:\n    postgres: [{ name: App, database: app, port: 0 }]\n    store: { type: s3 }\n');
    const failed = await ragops(['config', 'check', bad]);
    assert.equal(failed.exitCode, 2);
    assert.match(failed.all ?? '', /stacks\.prod\.postgres\[0\]\.name \(line 3\)/);
    assert.match(failed.all ?? '', /stacks\.prod\.postgres\[0\]\.port/);
    assert.match(failed.all ?? '', /stacks\.prod\.store\.bucket/);

    const missing = await ragops(['config', 'check'], { env: { RAGOPS_CONFIG: join(dir.path, 'nope.yaml') } });
    assert.equal(missing.exitCode, 2);
    assert.match(missing.all ?? '', /cannot read the stacks file \(ENOENT\)/);
  });

  test('config schema prints a JSON Schema', async () => {
    const result = await ragops(['config', 'schema']);
    assert.equal(result.exitCode, 0);
    const schema = JSON.parse(result.stdout as string) as { type: string; properties: Record<string, unknown> };
    assert.equal(schema.type, 'object');
    assert.ok(schema.properties.stacks);
  });

  test('bad input is refused before any server is contacted', async () => {
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const cron = await ragops(['schedule', 'backup', '--stack', 'prod', '--cron', '0 */6 * *'], { env });
    assert.equal(cron.exitCode, 2);
    assert.match(cron.all ?? '', /cron "0 \*\/6 \* \*" has 4 field/);
    const stack = await ragops(['backup', 'run', '--stack', 'Prod!'], { env });
    assert.equal(stack.exitCode, 2);
    assert.match(stack.all ?? '', /invalid backup input: stack: stack names are/);
    const verifyCron = await ragops(['schedule', 'verify', '--stack', 'prod', '--cron', '0 0 * * 8'], { env });
    assert.equal(verifyCron.exitCode, 2);
    assert.match(verifyCron.all ?? '', /day of week field: 8 is outside 0-7/);
    const restore = await ragops(['restore', 'run', '--stack', 'prod', '--database', 'app=bad name!'], { env });
    assert.equal(restore.exitCode, 2);
    assert.match(restore.all ?? '', /invalid restore input: postgres\.app\.database/);
    const redisInto = await ragops(['restore', 'run', '--stack', 'prod', '--redis-into', 'cache=7001:relative/dir'], { env });
    assert.equal(redisInto.exitCode, 2);
    assert.match(redisInto.all ?? '', /invalid restore input: redis\.cache\.into\.dir: an absolute path/);
    const verify = await ragops(['verify', 'run', '--stack', 'prod', '--backup-id', 'latest'], { env });
    assert.equal(verify.exitCode, 2);
    assert.match(verify.all ?? '', /invalid verifyBackup input: backupId: a backup id looks like/);
    const component = await ragops(['backup', 'run', '--stack', 'prod', '--component', 'mongodb'], { env });
    assert.equal(component.exitCode, 2);
    assert.match(component.all ?? '', /components\[0\]/);
  });

  test('ragops dev: dev server, UI, worker and a first backup of the default stack; CLI runs and lists backups; Ctrl-C stops it', async () => {
    const [port, uiPort] = [await findFreePort(), await findFreePort()];
    const dev = execa(process.execPath, [RAGOPS, 'dev', '--port', String(port), '--ui-port', String(uiPort)], {
      cwd: dir.path,
      env: { PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: 'postgres', PGDATABASE: 'postgres' },
      all: true,
      buffer: false,
      reject: false,
    });
    let output = '';
    dev.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      for (let i = 0; i < 900 && !/first backup (done|failed)/.test(output); i += 1) await new Promise((r) => setTimeout(r, 100));
      assert.match(output, /first backup done/, output);
      assert.match(output, new RegExp(`Temporal Web UI\\s+http://127\\.0\\.0\\.1:${uiPort}`));
      const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
      assert.equal(ui.status, 200);

      const env = {
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        RAGOPS_UI_URL: `http://127.0.0.1:${uiPort}`,
        RAGOPS_CONFIG: join(dir.path, '.ragops', 'dev-stacks.yaml'),
      };
      const run = await ragops(['backup', 'run', '--stack', 'local', '--verify', 'checksum', '--wait', '--json'], { cwd: dir.path, env });
      assert.equal(run.exitCode, 0, run.all);
      assert.match(run.all ?? '', /started backup backup-local\n/);
      assert.match(run.all ?? '', new RegExp(`http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows/backup-local/`));
      assert.match(run.all ?? '', /"checksumVerified": true/);

      const list = await ragops(['backup', 'list', '--stack', 'local'], { cwd: dir.path, env });
      assert.equal(list.exitCode, 0, list.all);
      assert.equal((list.stdout as string).split('\n').filter((line) => / complete/.test(line)).length, 2, list.stdout as string);
      assert.match(list.stdout as string, /complete, checksum-verified/);
    } finally {
      dev.kill('SIGINT');
      const exit = await dev;
      assert.match(output, /ragops dev stopped/, output);
      assert.equal(exit.exitCode, 0, output);
    }
  });
});
