// The disaster-recovery test stack itself (test/support/dr-stack.ts), on the real engine and
// compose CLI, the machine's PostgreSQL, a Redis container and the Qdrant stand-in: it comes up
// seeded as it says; /health follows its database (dropped → 500 with PostgreSQL's reason,
// created again → 200) and the force-500 switch; the probe's other answers; the stacks file
// validates; destroy() leaves nothing but the Redis server and the project; stop() cleans up.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { RedisArtifact } from '../src/activities/redis/backup.js';
import { createRedisActivities, type RedisRestoreResult } from '../src/activities/redis/index.js';
import { keyspaceOf, parseInfo } from '../src/activities/redis/info.js';
import { startDeploy } from '../src/client/api/runbooks.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { parseStacksFile } from '../src/config/load.js';
import { combineStacks, DR_API_IMAGES, DR_QDRANT_SEED, DR_REDIS_RDB_PATH, startDrStack, type DrStack } from './support/dr-stack.js';
import { listDatabases } from './support/postgres.js';
import { startWorker, uniqueName } from './support/ragops.js';
import { startTestTemporal } from './support/temporal.js';

async function untilApiHealth(stack: DrStack, health: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const containers = await stack.apiContainers();
    if (containers.length === 1 && containers[0]!.health === health) return;
    if (Date.now() > deadline) assert.fail(`the api container is not ${health}: ${JSON.stringify(containers)}`);
    await sleep(250);
  }
}

/** Runs /app/db-probe in a one-off container of the image on the host network, with `env`. */
async function probe(env: Record<string, string>): Promise<{ exitCode: number | undefined; output: string }> {
  const result = await execa(
    'docker',
    ['run', '--rm', '--network', 'host', ...Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]), DR_API_IMAGES.v1, '/app/db-probe'],
    { reject: false, timeout: 60_000 },
  );
  return { exitCode: result.exitCode, output: `${String(result.stdout)}${String(result.stderr)}`.trim() };
}

describe('the disaster-recovery test stack (compose, PostgreSQL, Redis, Qdrant stand-in)', () => {
  let stack: DrStack;

  before(async () => {
    stack = await startDrStack({ documents: 100 });
  });
  after(async () => {
    await stack?.stop();
  });

  test('comes up with the real compose CLI: the api healthy on v1, everything seeded as `seeded` says', async () => {
    assert.deepEqual(stack.seeded.database, { 'audit.events': 10, 'public.chunks': 300, 'public.documents': 100, 'public.ingest_queue': 0, 'public.users': 1 });
    assert.deepEqual(stack.seeded.qdrant, DR_QDRANT_SEED);
    assert.deepEqual(stack.seeded.redis, { db0: { keys: 100, expires: 10 }, db2: { keys: 30, expires: 3 } });
    const [container, ...more] = await stack.apiContainers();
    assert.equal(more.length, 0);
    assert.equal(container?.status, 'running');
    assert.equal(container?.health, 'healthy');
    assert.equal(container?.image, DR_API_IMAGES.v1);
    const health = await stack.health();
    assert.equal(health.status, 200);
    assert.match(health.body, new RegExp(`^ok v1: database ${stack.db.name} answers at 127\\.0\\.0\\.1:5432$`));
    assert.equal((await (await fetch(stack.api.versionUrl)).text()).trim(), 'v1');
    assert.equal((await fetch(`${stack.api.url}/nothing`)).status, 404);
    const state = await stack.state();
    assert.deepEqual(state.database, stack.seeded.database);
    assert.deepEqual(state.qdrant, stack.seeded.qdrant);
    assert.deepEqual(state.redis, stack.seeded.redis);
  });

  test('/health follows the database: dropped → 500 with PostgreSQL\'s reason (and the container unhealthy), created again → 200', async () => {
    await stack.dropDatabase();
    const down = await stack.waitForHealth(500, 10_000);
    assert.equal(down.body, `unhealthy v1: PostgreSQL at 127.0.0.1:5432: 3D000 database "${stack.db.name}" does not exist`);
    await untilApiHealth(stack, 'unhealthy');
    await stack.createDatabase();
    const up = await stack.waitForHealth(200, 10_000);
    assert.match(up.body, /^ok v1: /);
    await untilApiHealth(stack, 'healthy');
    assert.deepEqual((await stack.state()).database, {}, 'created again, empty');
  });

  test('the force-500 switch makes /health fail while the database answers, and lets go', async () => {
    await stack.forceHealth500(true);
    const forced = await stack.waitForHealth(500, 5_000);
    assert.match(forced.body, /^unhealthy v1: forced/);
    await stack.forceHealth500(false);
    await stack.waitForHealth(200, 5_000);
  });

  test('the probe\'s other answers: another error (a missing role) and no answer at all', async () => {
    const role = await probe({ DB_NAME: 'postgres', DB_USER: 'ragops_no_such_role' });
    assert.equal(role.exitCode, 1, role.output);
    assert.equal(role.output, 'PostgreSQL at 127.0.0.1:5432: 28000 role "ragops_no_such_role" does not exist');
    const closed = await findFreePort();
    const nothing = await probe({ DB_NAME: 'postgres', DB_PORT: String(closed) });
    assert.equal(nothing.exitCode, 1, nothing.output);
    assert.equal(nothing.output, `no answer from PostgreSQL at 127.0.0.1:${closed} within 2 s`);
    const fine = await probe({ DB_NAME: 'postgres' });
    assert.deepEqual(fine, { exitCode: 0, output: 'database postgres answers at 127.0.0.1:5432' });
    const v2 = await execa('docker', ['run', '--rm', DR_API_IMAGES.v2, 'cat', '/app/VERSION']);
    assert.equal(v2.stdout.trim(), 'v2');
  });

  test('stacks(): a stack `prod` with postgres, qdrant, redis (rdb in the compose service), an fs store and the deploy section; it validates', () => {
    const file = stack.stacks();
    const parsed = parseStacksFile(stringify(file), 'test');
    const prod = parsed.stacks.prod!;
    assert.deepEqual(prod.postgres.map((p) => [p.name, p.host, p.port, p.database, p.user]), [['app', '127.0.0.1', 5432, stack.db.name, 'postgres']]);
    assert.equal(prod.qdrant?.url, stack.qdrant.url);
    assert.deepEqual(prod.redis[0]?.rdb, { compose: { project: stack.compose.projectName, service: 'redis', path: DR_REDIS_RDB_PATH } });
    assert.equal(prod.redis[0]?.port, stack.redis.port);
    assert.deepEqual(prod.store, { type: 'fs', path: stack.storeDir });
    assert.deepEqual(prod.deploy?.target, stack.compose.target);
    assert.equal(prod.deploy?.services.api?.health[0]?.url, stack.api.healthUrl);
    for (const [name, value] of Object.entries(stack.secretEnv)) {
      assert.equal(process.env[name], value);
      assert.ok(!stringify(file).includes(value), `secret ${name} is referenced, not written`);
    }
    const named = stack.stacks({ stack: 'staging', storePath: '/tmp/elsewhere', extra: { retention: { keepLast: 3 } } });
    assert.deepEqual(Object.keys(named.stacks), ['staging']);
    assert.deepEqual(named.stacks.staging!.store, { type: 'fs', path: '/tmp/elsewhere' });
    assert.throws(() => stack.stacks({ extra: { nonsense: true } }), /nonsense/);
  });

  test('stacks({ dr: true }): the dr section validates (writers api, validation on /health)', (t) => {
    let file;
    try {
      file = stack.stacks({ dr: true });
    } catch (error) {
      if (/Unrecognized key: "dr"/.test((error as Error).message)) return void t.skip(`this tree's stack schema has no dr section: ${(error as Error).message}`);
      throw error;
    }
    const dr = file.stacks.prod!.dr as { writers: string[]; validation: { checks: Array<{ url: string }> } };
    assert.deepEqual(dr.writers, ['api']);
    assert.equal(dr.validation.checks[0]?.url, stack.api.healthUrl);
  });

  test('combineStacks(): prod with a dr section naming its drill stack, and the drill stack, in one validated file', () => {
    const file = combineStacks(stack.stacks({ dr: { drillStack: 'prod-drill' } }), stack.stacks({ stack: 'prod-drill' }));
    assert.deepEqual(Object.keys(file.stacks), ['prod', 'prod-drill']);
    assert.throws(() => combineStacks(stack.stacks(), stack.stacks()), /stack prod twice/);
  });

  test('the deploy section works: ragops deploys v2 to the api through the compose target, checked on /health', async () => {
    const temporal = await startTestTemporal();
    const taskQueue = uniqueName('dr-stack');
    const worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stack.stacks()) });
    try {
      const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api', image: DR_API_IMAGES.v2 }, { taskQueue });
      await handle.result();
      assert.equal((await (await fetch(stack.api.versionUrl)).text()).trim(), 'v2');
      assert.match((await stack.health()).body, /^ok v2: /);
      const [container, ...more] = await stack.apiContainers();
      assert.equal(more.length, 0);
      assert.equal(container?.status, 'running');
    } finally {
      await worker.stop();
      await temporal.stop();
    }
  });

  test('destroy(): the database, collections, aliases, Redis keys and RDB, and the api container are gone; compose up brings the api back; ragops restores Redis over its container', async () => {
    // The stack's Redis as ragops backs it up (BGSAVE, then the RDB read from the compose service's container).
    const prod = parseStacksFile(stringify(stack.stacks()), 'test').stacks.prod!;
    const redisTarget = prod.redis[0]!;
    const activities = createRedisActivities({ pollMs: 20 });
    const artifact = (await new MockActivityEnvironment().run(activities.backupRedis, { target: redisTarget, store: prod.store, key: 'prod/dr1/redis/cache.rdb' })) as RedisArtifact;
    assert.deepEqual(artifact.keyspace, stack.seeded.redis);

    const disaster = await stack.destroy();
    assert.equal(disaster.database, stack.db.name);
    assert.deepEqual(disaster.collections, ['docs_v1', 'faq']);
    assert.deepEqual(disaster.aliases, ['docs']);
    assert.equal(disaster.redisKeys, 130);
    assert.equal(disaster.apiContainers.length, 1);
    const state = await stack.state();
    assert.equal(state.database, null);
    assert.deepEqual(state.qdrant, { collections: {}, aliases: {} });
    assert.deepEqual(state.redis, {}, 'Redis answers, empty');
    assert.deepEqual(state.api.containers, []);
    assert.equal(state.api.health.status, 0, `nothing answers: ${state.api.health.body}`);
    const redisContainer = (
      await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${stack.compose.projectName}`, '--filter', 'label=com.docker.compose.service=redis'])
    ).stdout.trim();
    assert.ok(redisContainer, 'the Redis container still runs');
    const rdb = await execa('docker', ['exec', redisContainer, 'ls', DR_REDIS_RDB_PATH], { reject: false });
    assert.notEqual(rdb.exitCode, 0, 'no RDB file left');
    // What a recovery does for the api: the database back, then compose up.
    await stack.createDatabase();
    await stack.up(['api']);
    await stack.waitForHealth(200, 30_000);
    // And for Redis: the RDB restored over the running container (docker stop, cp, start).
    const restored = (await new MockActivityEnvironment().run(activities.restoreRedisOverContainer, { artifact, store: prod.store, target: redisTarget })) as RedisRestoreResult;
    assert.equal(restored.keys, 130);
    const client = await stack.redis.connect();
    try {
      assert.deepEqual(keyspaceOf(parseInfo(await client.info('keyspace'))), stack.seeded.redis);
    } finally {
      client.close();
    }
  });

  test('stop(): containers, project and store directories, database, Qdrant and env gone; a second stop() is a no-op', async () => {
    const { projectName, directory } = stack.compose;
    await stack.stop();
    const left = await execa('docker', ['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${projectName}`]);
    assert.equal(left.stdout.trim(), '');
    assert.ok(!existsSync(directory));
    assert.ok(!existsSync(stack.storeDir));
    assert.deepEqual(await listDatabases(stack.db.name), []);
    if (!stack.qdrant.external) await assert.rejects(fetch(`${stack.qdrant.url}/`));
    for (const name of Object.keys(stack.secretEnv)) assert.equal(process.env[name], undefined);
    await stack.stop();
  });
});
