// The worker image runs anywhere: the repository's Dockerfile built on the real Docker engine
// FROM a base made on this host (debootstrap's Debian minbase + this machine's Node.js; no
// registry), then the tools a runbook needs run inside it as its non-root user, and the worker
// started in it answers its health endpoint and the image's HEALTHCHECK against a Temporal dev
// server. Slow: the first run makes the base (about a minute, then cached); every run builds
// the image (apt-get and npm ci inside, a few minutes) and removes it afterwards.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { findFreePort } from '../src/client/dev/devserver.js';
import { tempDir } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';
import { buildWorkerImage, ensureWorkerTestBase, runInImage, type BuiltImage } from './support/worker-image.js';

const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('the worker image (Dockerfile) built FROM a local Debian base', { timeout: 20 * 60_000 }, () => {
  let base: string;
  let built: BuiltImage;

  before(async () => {
    base = await ensureWorkerTestBase();
    built = await buildWorkerImage(base);
    console.log(`# built ${built.image} FROM ${base} in ${(built.durationMs / 1000).toFixed(1)} s`);
  });

  after(async () => {
    await built?.remove();
  });

  const inImage = async (argv: string[]) => {
    const result = await runInImage(built.image, argv);
    assert.equal(result.exitCode, 0, `${argv.join(' ')} in the image exited ${result.exitCode}: ${result.stderr || result.stdout}`);
    return `${result.stdout}\n${result.stderr}`.trim();
  };

  test('it runs as a non-root user, by number', async () => {
    const uid = (await inImage(['id', '-u'])).trim();
    assert.match(uid, /^\d+$/);
    assert.notEqual(uid, '0');
    const { stdout } = await execa('docker', ['image', 'inspect', '--format', '{{.Config.User}}', built.image]);
    assert.match(stdout.trim(), /^[1-9]\d*(:\d+)?$/, 'USER is numeric, so Kubernetes runAsNonRoot can check it');
  });

  test('ragops --version is the package version', async () => {
    assert.equal((await inImage(['ragops', '--version'])).trim(), version);
  });

  test('kubectl, pg_dump and pg_restore, docker with Compose, redis-cli and sqlite3 are there', async () => {
    assert.match(await inImage(['kubectl', 'version', '--client']), /Client Version: v1\.\d+/);
    const pgDump = await inImage(['pg_dump', '--version']);
    const major = Number(/pg_dump \(PostgreSQL\) (\d+)/.exec(pgDump)?.[1]);
    assert.ok(major >= 15, `pg_dump ${pgDump} is at least 15`);
    // The worker runs the client of the server's major from /usr/lib/postgresql/<major>/bin.
    assert.match(await inImage([`/usr/lib/postgresql/${major}/bin/pg_restore`, '--version']), new RegExp(`pg_restore \\(PostgreSQL\\) ${major}\\.`));
    assert.match(await inImage(['docker', '--version']), /Docker version \d+\.\d+/);
    const plugin = await runInImage(built.image, ['docker', 'compose', 'version']);
    const compose = plugin.exitCode === 0 ? plugin.stdout : await inImage(['docker-compose', 'version']);
    assert.match(compose, /(Docker Compose version v2|docker-compose version 1)\.\d+/i);
    assert.match(await inImage(['redis-cli', '--version']), /^redis-cli \d+\./);
    assert.match(await inImage(['sqlite3', '--version']), /^3\.\d+\.\d+/);
  });

  test('health and metrics ports are set, exposed, and checked by a HEALTHCHECK', async () => {
    const { stdout } = await execa('docker', ['image', 'inspect', '--format', '{{json .Config}}', built.image]);
    const config = JSON.parse(stdout) as { Env: string[]; ExposedPorts: Record<string, object>; Healthcheck?: { Test: string[] } };
    assert.ok(config.Env.includes('RAGOPS_HEALTH_ADDRESS=0.0.0.0:8080'), config.Env.join(' '));
    assert.ok(config.Env.includes('RAGOPS_METRICS_ADDRESS=0.0.0.0:9464'), config.Env.join(' '));
    assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['8080/tcp', '9464/tcp']);
    assert.ok(config.Healthcheck?.Test.join(' ').includes('healthcheck.mjs'), JSON.stringify(config.Healthcheck));
  });

  describe('the worker in the container', () => {
    let temporal: TestTemporal;
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let container: string | undefined;

    before(async () => {
      temporal = await startTestTemporal();
      dir = await tempDir('worker-image');
    });

    after(async () => {
      if (container) await execa('docker', ['rm', '-f', container], { reject: false });
      await temporal?.stop();
      await dir?.remove();
    });

    test('serves /healthz and metrics on a read-only root, turns healthy by its HEALTHCHECK, and stops cleanly on SIGTERM', async () => {
      const configPath = join(dir.path, 'ragops.yaml');
      await writeFile(configPath, 'stacks:\n  demo:\n    store: { type: fs, path: /tmp/ragops-store }\n', { mode: 0o644 });
      const [healthPort, metricsPort] = [await findFreePort(), await findFreePort()];
      const [uid, gid = uid] = (await execa('docker', ['image', 'inspect', '--format', '{{.Config.User}}', built.image])).stdout.trim().split(':');
      const home = (await inImage(['sh', '-c', 'echo "$HOME"'])).trim();
      // Host network: the dev server listens on the host's loopback. Locked down as deploy/k8s
      // runs it: read-only root, writable /tmp and $HOME only (emptyDirs there, which allow exec:
      // @swc/core, the workflow bundler's compiler, copies its native addon into ~/.cache or /tmp
      // and loads it from there), no capabilities, no privilege gain.
      const started = await execa('docker', [
        'run', '-d', '--network', 'host',
        '--read-only', '--tmpfs', '/tmp:exec', '--tmpfs', `${home}:exec,uid=${uid},gid=${gid},mode=0700`,
        '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
        '--health-interval', '1s', '--health-start-period', '0s',
        '-e', `TEMPORAL_ADDRESS=${temporal.address}`, '-e', `TEMPORAL_NAMESPACE=${temporal.namespace}`,
        '-e', `RAGOPS_TASK_QUEUE=image-test-${healthPort}`,
        '-e', `RAGOPS_HEALTH_ADDRESS=127.0.0.1:${healthPort}`, '-e', `RAGOPS_METRICS_ADDRESS=127.0.0.1:${metricsPort}`,
        '-e', 'RAGOPS_CONFIG=/etc/ragops/ragops.yaml', '-v', `${configPath}:/etc/ragops/ragops.yaml:ro`,
        built.image,
      ]);
      container = started.stdout.trim();
      const logs = async () => (await execa('docker', ['logs', container!], { reject: false, all: true })).all;

      const deadline = Date.now() + 180_000;
      let answer: { status: number; body: string } | undefined;
      while (Date.now() < deadline) {
        answer = await fetch(`http://127.0.0.1:${healthPort}/healthz`).then(async (r) => ({ status: r.status, body: await r.text() }), () => undefined);
        if (answer?.status === 200) break;
        const state = (await execa('docker', ['inspect', '--format', '{{.State.Status}}', container])).stdout.trim();
        assert.equal(state, 'running', `the worker container is ${state}:\n${await logs()}`);
        await sleep(500);
      }
      assert.equal(answer?.status, 200, `no 200 from /healthz within 180 s (last: ${JSON.stringify(answer)}):\n${await logs()}`);
      assert.match(answer!.body, /"status":"ok"/);

      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^temporal_\w+/m, 'the SDK metrics are served');

      let health = '';
      for (const until = Date.now() + 30_000; Date.now() < until; await sleep(500)) {
        health = (await execa('docker', ['inspect', '--format', '{{.State.Health.Status}}', container])).stdout.trim();
        if (health === 'healthy') break;
      }
      assert.equal(health, 'healthy', `docker's HEALTHCHECK says ${health}`);

      await execa('docker', ['stop', '--time', '40', container]);
      const exitCode = Number((await execa('docker', ['inspect', '--format', '{{.State.ExitCode}}', container])).stdout.trim());
      assert.equal(exitCode, 0, `the worker exited ${exitCode} on SIGTERM:\n${await logs()}`);
    });
  });
});
