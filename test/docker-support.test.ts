// The Docker test support: the locally built busybox images (no registry) and a throwaway
// Compose project driven by the real compose CLI through ragops' own argv builders.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { composeCommands, dockerCommands, type ComposeProject } from '../src/activities/compose/commands.js';
import type { CommandSpec } from '../src/activities/runtime/exec.js';
import { createComposeProject, detectComposeFlavor, type TestComposeProject } from './support/compose-project.js';
import { ensureTestImages, type TestImages } from './support/docker-images.js';

async function run(spec: CommandSpec) {
  const [file, ...args] = spec.argv;
  const result = await execa(file, args, { reject: false, timeout: 120_000 });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function runOk(spec: CommandSpec) {
  const result = await run(spec);
  assert.equal(result.exitCode, 0, `${spec.purpose} failed (exit ${result.exitCode}): ${result.stderr}`);
  return result;
}

async function get(url: string) {
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: (await response.text()).trim() };
}

/** Polls until the check returns a value, or fails with the last one seen. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

interface Inspected {
  Id: string;
  Config: { Image: string };
  State: { Running: boolean; Health?: { Status: string } };
}

async function inspect(id: string): Promise<Inspected> {
  const [info] = JSON.parse((await runOk(dockerCommands.inspect(id))).stdout) as Inspected[];
  assert.ok(info, `docker inspect ${id} returned nothing`);
  return info;
}

describe('test images (busybox, built locally)', () => {
  let images: TestImages;
  before(async () => {
    images = await ensureTestImages();
  });

  test('every tag exists, differs by content, and a second call is a cache hit', async () => {
    assert.deepEqual(images, {
      base: 'ragops-test/busybox:latest',
      tags: { v1: 'ragops-test/api:v1', v2: 'ragops-test/api:v2', bad: 'ragops-test/api:bad', badMigration: 'ragops-test/api:v3-badmigration' },
    });
    const ids = await Promise.all(
      [images.base, ...Object.values(images.tags)].map(async (image) => (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image])).stdout.trim()),
    );
    assert.equal(new Set(ids).size, 5, `image ids: ${ids.join(' ')}`);
    const started = Date.now();
    assert.deepEqual(await ensureTestImages(), images);
    assert.ok(Date.now() - started < 5_000);
    const versions = await Promise.all(Object.values(images.tags).map(async (image) => (await execa('docker', ['run', '--rm', image, 'cat', '/app/VERSION'])).stdout.trim()));
    assert.deepEqual(versions, ['v1', 'v2', 'bad', 'v3']);
  });

  test('/app/migrate prints the version and exits 0; the bad-migration tag exits non-zero', async () => {
    const good = await execa('docker', ['run', '--rm', images.tags.v1, '/app/migrate'], { reject: false });
    assert.equal(good.exitCode, 0, good.stderr);
    assert.equal(good.stdout.trim(), 'migrated to v1');
    const bad = await execa('docker', ['run', '--rm', images.tags.badMigration, '/app/migrate'], { reject: false });
    assert.equal(bad.exitCode, 3);
    assert.match(bad.stderr, /migration to v3 failed/);
    const forced = await execa('docker', ['run', '--rm', '-e', 'MIGRATION_SHOULD_FAIL=1', images.tags.v2, '/app/migrate'], { reject: false });
    assert.equal(forced.exitCode, 3);
  });
});

describe('compose project with the real compose CLI', () => {
  let images: TestImages;
  let compose: TestComposeProject;
  let project: ComposeProject;
  const containerIds = async () =>
    (await runOk(composeCommands.containerIds(project, compose.service))).stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  /** The service's one container once it reports `status` (and runs `image`). */
  const containerWith = (image: string, status: string) =>
    eventually(`${compose.service} running ${image} with health ${status}`, async () => {
      const [id, ...more] = await containerIds();
      if (!id || more.length > 0) return undefined;
      const info = await inspect(id);
      return info.Config.Image === image && info.State.Health?.Status === status ? info : undefined;
    });

  before(async () => {
    images = await ensureTestImages();
    compose = await createComposeProject();
    project = { flavor: compose.flavor, directory: compose.directory, files: compose.files, projectName: compose.projectName };
  });
  after(async () => {
    await compose?.down();
  });

  test('the flavor is detected and the project is unique', async () => {
    assert.match(await detectComposeFlavor(), /^v[12]$/);
    assert.match(compose.projectName, /^ragops-t-[0-9a-f]{10}$/);
    assert.match(compose.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(compose.service, 'api');
  });

  test('up starts v1: /health answers 200 "ok v1" and docker inspect turns healthy', async () => {
    await runOk(composeCommands.up(project, compose.service));
    const health = await eventually('/health', async () => {
      const answer = await get(`${compose.url}/health`);
      return answer.status === 200 ? answer : undefined;
    });
    assert.deepEqual(health, { status: 200, body: 'ok v1' });
    assert.deepEqual(await get(`${compose.url}/version`), { status: 200, body: 'v1' });
    assert.equal((await get(`${compose.url}/nope`)).status, 404);
    const info = await containerWith(images.tags.v1, 'healthy');
    assert.equal(info.State.Running, true);
  });

  test('pull of an image that exists only on this host fails (exit non-zero), and the image stays usable', async () => {
    // Recorded behaviour, not a requirement: compose asks the registry, which does not know
    // the image (here: no registry is reachable at all), so pull fails.
    const result = await run(composeCommands.pull(project, compose.service));
    assert.notEqual(result.exitCode, 0, `pull unexpectedly succeeded: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /api/);
    await runOk({ argv: ['docker', 'image', 'inspect', images.tags.v1], purpose: 'image still present' });
  });

  test('an override to :bad recreates the container: /health 500, docker inspect unhealthy; back to v1 heals', async () => {
    const overrideFile = join(compose.directory, 'override-bad.yml');
    await writeFile(overrideFile, `services:\n  ${compose.service}:\n    image: ${images.tags.bad}\n`);
    await runOk(composeCommands.up({ ...project, overrideFile }, compose.service));
    const health = await eventually('/health 500', async () => {
      const answer = await get(`${compose.url}/health`);
      return answer.status === 500 ? answer : undefined;
    });
    assert.deepEqual(health, { status: 500, body: 'unhealthy bad' });
    const started = Date.now();
    const info = await containerWith(images.tags.bad, 'unhealthy');
    assert.equal(info.State.Running, true);
    assert.ok(Date.now() - started < 15_000);

    await runOk(composeCommands.up(project, compose.service));
    await containerWith(images.tags.v1, 'healthy');
    assert.deepEqual(await get(`${compose.url}/health`), { status: 200, body: 'ok v1' });
  });

  test('runOnce /app/migrate exits 0 with v1 and non-zero with the bad-migration image', async () => {
    const good = await run(composeCommands.runOnce(project, compose.service, ['/app/migrate']));
    assert.equal(good.exitCode, 0, good.stderr);
    assert.match(good.stdout, /migrated to v1/);

    const overrideFile = join(compose.directory, 'override-migrate.yml');
    await writeFile(overrideFile, `services:\n  ${compose.service}:\n    image: ${images.tags.badMigration}\n`);
    const bad = await run(composeCommands.runOnce({ ...project, overrideFile }, compose.service, ['/app/migrate']));
    assert.notEqual(bad.exitCode, 0);
    assert.match(bad.stderr, /migration to v3 failed/);
    // One-off containers are removed (--rm): only the service's own container is left.
    assert.equal((await containerIds()).length, 1);
  });

  test('logs returns the service output', async () => {
    const { stdout } = await runOk(composeCommands.logs(project, compose.service, 200));
    assert.match(stdout, /listening on :8080/);
    assert.match(stdout, /GET \/health -> 200/);
  });
});
