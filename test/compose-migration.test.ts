// Idempotent Compose migrations (issue 9) on the real engine: the migration runs in a one-off
// container named for the run, and whatever happens to the worker — killed mid-migration, an
// attempt that finds the container running or exited, a retry after the result was taken —
// exactly one container runs it. Runs are counted in a bind-mounted file the command appends to.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { execa, type ResultPromise } from 'execa';
import { createComposeActivities } from '../src/activities/compose/index.js';
import { composeCommands, dockerCommands } from '../src/activities/compose/commands.js';
import { fallbackContainerName, migrationRecordFileOf } from '../src/activities/compose/migrate.js';
import { pinnedTagFor } from '../src/activities/compose/images.js';
import type { ComposeTarget } from '../src/config/stacks/deploy.js';
import { buildVariant, createComposeFixture, removeImages, type ComposeFixture } from './support/compose-fixtures.js';
import { composeHead } from './support/compose-project.js';
import { ensureTestImages, type TestImages } from './support/docker-images.js';
import { tempDir } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER_SCRIPT = fileURLToPath(new URL('./support/compose-migration/worker.ts', import.meta.url));
const activities = createComposeActivities();
const quiet = new DefaultLogger('ERROR');

function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment(undefined, { logger: quiet }).run(fn, ...args);
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a failure');
}

/** Polls until `check` returns a value. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function containerStatus(name: string): Promise<string | null> {
  const result = await execa('docker', ['container', 'inspect', '--format', '{{.State.Status}}', name], { reject: false });
  return result.failed ? null : result.stdout.trim();
}

describe('migration argv', () => {
  const project = { flavor: 'v1' as const, directory: '/srv/rag', files: ['/srv/rag/docker-compose.yml'], projectName: 'rag', overrideFile: '/srv/rag/.ragops/x/rag.images.yml' };
  test('the one-off container is named, detached and kept (no --rm); the rest are plain docker verbs on that name', () => {
    assert.deepEqual(composeCommands.runDetached(project, 'api', 'rag-migrate-abc', ['bin/rails', 'db:migrate']).argv, [
      'docker-compose', '--project-directory', '/srv/rag', '-f', '/srv/rag/docker-compose.yml', '-f', '/srv/rag/.ragops/x/rag.images.yml', '-p', 'rag',
      'run', '-d', '--name', 'rag-migrate-abc', '--no-deps', '-T', 'api', 'bin/rails', 'db:migrate',
    ]);
    assert.deepEqual(composeCommands.runDetached({ ...project, flavor: 'v2' }, 'api', 'n', ['x']).argv.slice(0, 2), ['docker', 'compose']);
    assert.ok(!composeCommands.runDetached(project, 'api', 'n', ['x']).argv.includes('--rm'));
    assert.deepEqual(dockerCommands.wait('n').argv, ['docker', 'wait', 'n']);
    assert.deepEqual(dockerCommands.logs('n', 200).argv, ['docker', 'logs', '--tail=200', 'n']);
    assert.deepEqual(dockerCommands.inspectContainer('n').argv, ['docker', 'container', 'inspect', 'n']);
    assert.deepEqual(dockerCommands.stop('n', 10).argv, ['docker', 'stop', '-t', '10', 'n']);
    assert.deepEqual(dockerCommands.remove('n').argv, ['docker', 'rm', '-f', '-v', 'n']);
  });

  test('a name from before containerName existed is stable per activity and run, and differs across runs', () => {
    const a = fallbackContainerName('rag', { workflowId: 'deploy-prod-api', runId: 'r1', activityId: '7' });
    assert.match(a, /^rag-migrate-[0-9a-f]{12}$/);
    assert.equal(fallbackContainerName('rag', { workflowId: 'deploy-prod-api', runId: 'r1', activityId: '7' }), a);
    assert.notEqual(fallbackContainerName('rag', { workflowId: 'deploy-prod-api', runId: 'r2', activityId: '7' }), a);
  });
});

describe('Compose migrations run once per run (real engine)', () => {
  let images: TestImages;
  let shared: { path: string; remove(): Promise<void> };
  let fixture: ComposeFixture;
  let target: ComposeTarget;
  const variant = `ragops-test/migrate-${randomBytes(4).toString('hex')}:m1`;
  let variantId: string;

  /** Lines the migration command appended to /shared/<file>, i.e. how many times it ran to the end. */
  const runs = async (file: string) => {
    const text = await readFile(join(shared.path, file), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).length;
  };
  const migration = (file: string, seconds: number) => ['sh', '-c', `sleep ${seconds}; echo run >> /shared/${file}; echo "migrated ${file}"`];
  const nameOf = (label: string) => `${fixture.projectName}-migrate-${label}`;

  /** Starts the named migration container as a previous attempt (a worker since killed) did. */
  async function startAsDeadWorker(name: string, command: string[]): Promise<void> {
    const [head, ...rest] = composeHead(target.flavor!);
    await execa(head, [...rest, '--project-directory', fixture.directory, '-f', join(fixture.directory, 'docker-compose.yml'), '-p', fixture.projectName, 'run', '-d', '--name', name, '--no-deps', '-T', 'api', ...command]);
  }

  before(async () => {
    images = await ensureTestImages();
    shared = await tempDir('migration-shared');
    variantId = await buildVariant(images.tags.v1, variant);
    fixture = await createComposeFixture({ api: { image: images.tags.v1, volumes: [`${shared.path}:/shared`] } });
    target = { ...fixture.target, pull: 'never' };
  });
  after(async () => {
    await fixture?.down();
    await removeImages(variant, pinnedTagFor('api', variantId));
    await shared?.remove();
  });

  test('runs the command once in a container of the pinned image, returns its output, removes it; a repeat takes the recorded result', async () => {
    const name = nameOf('once');
    const input = { target, service: 'api', image: variantId, command: migration('once', 0), containerName: name };
    const output = await run(activities.composeMigrate, input);
    assert.match(output, /migrated once/);
    assert.equal(await runs('once'), 1);
    assert.equal(await containerStatus(name), null, 'the container is removed');
    const record = JSON.parse(await readFile(migrationRecordFileOf(target, name), 'utf8')) as { exitCode: number; imageId: string };
    assert.equal(record.exitCode, 0);
    assert.equal(record.imageId, variantId, 'it ran the pinned image');
    // The worker died after removing the container, before the result reached the server: the retry.
    assert.equal(await run(activities.composeMigrate, input), output);
    assert.equal(await runs('once'), 1, 'not run again');
  });

  test('an attempt that finds the container exited takes its result instead of starting another', async () => {
    const name = nameOf('exited');
    await startAsDeadWorker(name, migration('exited', 0));
    await eventually('the container to exit', async () => ((await containerStatus(name)) === 'exited' ? true : undefined));
    const output = await run(activities.composeMigrate, { target, service: 'api', image: images.tags.v1, command: migration('exited', 0), containerName: name });
    assert.match(output, /migrated exited/);
    assert.equal(await runs('exited'), 1);
    assert.equal(await containerStatus(name), null);
  });

  test('an attempt that finds the container running waits for it', async () => {
    const name = nameOf('running');
    await startAsDeadWorker(name, migration('running', 3));
    assert.equal(await containerStatus(name), 'running');
    const started = Date.now();
    const output = await run(activities.composeMigrate, { target, service: 'api', image: images.tags.v1, command: migration('running', 3), containerName: name });
    assert.ok(Date.now() - started > 1_500, 'it waited for the running container');
    assert.match(output, /migrated running/);
    assert.equal(await runs('running'), 1);
  });

  test('a container of that name from another image is refused, not waited on', async () => {
    const name = nameOf('conflict');
    await startAsDeadWorker(name, migration('conflict', 0));
    try {
      const failure = await failureOf(run(activities.composeMigrate, { target, service: 'api', image: variantId, command: migration('conflict', 0), containerName: name }));
      assert.equal(failure.type, 'MigrationConflict');
      assert.equal(failure.nonRetryable, true);
    } finally {
      await execa('docker', ['rm', '-f', name], { reject: false });
    }
  });

  test('a non-zero exit fails MigrationFailed, non-retryable, with the logs tail; a retry does not run it again', async () => {
    const name = nameOf('fails');
    const command = ['sh', '-c', 'echo run >> /shared/fails; echo "relation chunks already has column embedding_v3" >&2; exit 7'];
    const input = { target, service: 'api', image: variantId, command, containerName: name };
    const failure = await failureOf(run(activities.composeMigrate, input));
    assert.equal(failure.type, 'MigrationFailed');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /failed \(exit 7\)/);
    assert.match(failure.message, /already has column embedding_v3/);
    assert.equal(await containerStatus(name), null);
    assert.equal((await failureOf(run(activities.composeMigrate, input))).type, 'MigrationFailed');
    assert.equal(await runs('fails'), 1);
  });

  test('cancelled: the container is stopped and removed, the migration does not finish', async () => {
    const name = nameOf('cancel');
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    const running = env.run(activities.composeMigrate, { target, service: 'api', image: variantId, command: migration('cancel', 30), containerName: name });
    running.catch(() => undefined);
    await eventually('the migration container to run', async () => ((await containerStatus(name)) === 'running' ? true : undefined));
    env.cancel();
    await assert.rejects(running);
    assert.equal(await containerStatus(name), null, 'stopped and removed');
    assert.equal(await runs('cancel'), 0);
  });

  describe('a worker killed with SIGKILL mid-migration', () => {
    let temporal: TestTemporal;
    const workers: ResultPromise[] = [];
    const spawnWorker = (taskQueue: string) => {
      const child = execa(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, temporal.address, taskQueue], { cwd: PROJECT_ROOT, reject: false, all: true });
      workers.push(child);
      return child;
    };
    before(async () => {
      temporal = await startTestTemporal();
    });
    after(async () => {
      for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGTERM');
      await Promise.allSettled(workers);
      await temporal?.stop();
    });

    test('the next worker attaches to the running container: exactly one migration ran to completion, and the activity returns its output', async () => {
      const taskQueue = `compose-migrate-${randomBytes(4).toString('hex')}`;
      const name = nameOf('crash');
      const first = spawnWorker(taskQueue);
      const handle = await temporal.client.workflow.start('composeMigrateOnce', {
        taskQueue,
        workflowId: `compose-migrate-${name}`,
        args: [{ target, service: 'api', image: variantId, command: migration('crash', 20), containerName: name }],
      });
      await eventually('the migration container to run', async () => ((await containerStatus(name)) === 'running' ? true : undefined), 90_000);
      first.kill('SIGKILL');
      const killed = await first;
      assert.equal(killed.signal, 'SIGKILL', String(killed.all));
      assert.equal(await containerStatus(name), 'running', 'the migration outlives its worker');

      spawnWorker(taskQueue);
      const output = (await handle.result()) as string;
      assert.match(output, /migrated crash/);
      assert.equal(await runs('crash'), 1, 'exactly one migration ran to completion');
      assert.equal(await containerStatus(name), null, 'and its container is removed');
      const history = await handle.fetchHistory();
      const attempts = (history.events ?? []).filter((event) => event.activityTaskStartedEventAttributes).map((event) => event.activityTaskStartedEventAttributes!.attempt);
      assert.deepEqual(attempts, [2], 'the second attempt, on the new worker, completed it');
      assert.ok(existsSync(migrationRecordFileOf(target, name)));
    });
  });
});
