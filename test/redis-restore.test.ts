// Restoring a Redis backup, with real processes: into a new redis-server the operator asked
// for (a backup of a redis-server the test starts, loaded into a new dir and port); over a
// running Redis in a container of a local image (docker stop, docker cp, docker start, then
// the keyspace is the backup's again), refused untouched when Redis would load its AOF; the
// plan's refusals; and the restore runbook end to end with Redis in a stack.
import { MockActivityEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { RedisArtifact } from '../src/activities/redis/backup.js';
import { dockerCopyIntoCommand, dockerStartCommand, dockerStopCommand, newRedisServerCommand } from '../src/activities/redis/commands.js';
import { createRedisActivities, type RedisRestoreResult } from '../src/activities/redis/index.js';
import { keyspaceOf, parseInfo, type Keyspace } from '../src/activities/redis/info.js';
import { compareRestoredKeyspace } from '../src/activities/redis/restore.js';
import { RespClient } from '../src/activities/redis/resp.js';
import { createRestorePlanActivities } from '../src/activities/plan/restore.js';
import { FsStore } from '../src/activities/store/fs.js';
import { startBackup } from '../src/client/api/runbooks.js';
import { restoreInputSchema, type RestoreInput } from '../src/config/inputs.js';
import { manifestSchema } from '../src/config/manifest.js';
import type { RestorePlan } from '../src/config/plan.js';
import { stacksFileSchema, type StoreConfig } from '../src/config/stacks/index.js';
import { redisTargetSchema } from '../src/config/stacks/redis.js';
import { backupKeys } from '../src/core/storeKeys.js';
import type { RestoreReport } from '../src/workflows/restore.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { fillKeys, freePort, pipelined, startRedis, type TestRedis } from './support/redis.js';
import { runRedisContainer, type RedisContainer } from './support/redis-image.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const activities = createRedisActivities({ pollMs: 20 });
const backup = (target: unknown, store: StoreConfig, key: string) =>
  new MockActivityEnvironment().run(activities.backupRedis, { target: redisTargetSchema.parse(target), store, key }) as Promise<RedisArtifact>;
const restoreInto = (artifact: RedisArtifact, store: StoreConfig, into: { port: number; dir: string; bind?: string }, runTag = 'test0001') =>
  new MockActivityEnvironment().run(activities.restoreRedisIntoNewServer, { artifact, store, into: { bind: '127.0.0.1', ...into }, runTag }) as Promise<RedisRestoreResult>;
const restoreOver = (artifact: RedisArtifact, store: StoreConfig, target: unknown) =>
  new MockActivityEnvironment().run(activities.restoreRedisOverContainer, { artifact, store, target: redisTargetSchema.parse(target) }) as Promise<RedisRestoreResult>;

async function keyspaceAt(port: number) {
  const client = await RespClient.connect({ label: `redis :${port}`, host: '127.0.0.1', port }, { timeoutMs: 2_000 });
  try {
    return keyspaceOf(parseInfo(await client.info('keyspace')));
  } finally {
    client.close();
  }
}

async function untilAnswers(port: number): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      const client = await RespClient.connect({ label: `redis :${port}`, host: '127.0.0.1', port }, { timeoutMs: 1_000 });
      const pong = await client.pipeline([['PING']]);
      client.close();
      if (pong[0] === 'PONG') return;
    } catch (error) {
      if (i > 200) throw error;
    }
    await delay(100);
  }
}

describe('argv builders and the keyspace comparison (nothing runs)', () => {
  test('docker stop / cp / start and the new redis-server are argv arrays', () => {
    assert.deepEqual(dockerStopCommand('abc', 30).argv, ['docker', 'stop', '--time', '30', 'abc']);
    assert.deepEqual(dockerCopyIntoCommand('/tmp/r/dump.rdb', 'abc', '/data/dump.rdb').argv, ['docker', 'cp', '/tmp/r/dump.rdb', 'abc:/data/dump.rdb']);
    assert.deepEqual(dockerStartCommand('abc').argv, ['docker', 'start', 'abc']);
    const server = newRedisServerCommand({ port: 7001, bind: '127.0.0.1', dir: '/srv/r', databases: 16 }).argv;
    assert.deepEqual(server.slice(0, 9), ['redis-server', '--port', '7001', '--bind', '127.0.0.1', '--dir', '/srv/r', '--dbfilename', 'dump.rdb']);
    for (const [flag, value] of [['--daemonize', 'yes'], ['--appendonly', 'no'], ['--pidfile', '/srv/r/redis.pid']] as const) {
      assert.equal(server[server.indexOf(flag) + 1], value, flag);
    }
  });

  test('keys may be fewer only by keys that had a TTL, and then say so', () => {
    const backedUp = { db0: { keys: 100, expires: 10 }, db3: { keys: 5, expires: 0 } };
    assert.equal(compareRestoredKeyspace(backedUp, backedUp, '2026-01-01T00:00:00.000Z').passed, true);
    const expired = compareRestoredKeyspace(backedUp, { db0: { keys: 96, expires: 6 }, db3: { keys: 5, expires: 0 } }, '2026-01-01T00:00:00.000Z');
    assert.equal(expired.passed, true);
    assert.equal(expired.expired, 4);
    assert.match(expired.detail, /4 key\(s\) with a TTL expired since the backup/);
    const differing: Keyspace[] = [
      { db0: { keys: 89, expires: 0 }, db3: { keys: 5, expires: 0 } },
      { db0: { keys: 96, expires: 10 }, db3: { keys: 5, expires: 0 } },
      { db0: { keys: 101, expires: 10 }, db3: { keys: 5, expires: 0 } },
      { db0: { keys: 100, expires: 10 } },
      { ...backedUp, db4: { keys: 1, expires: 0 } },
    ];
    for (const restored of differing) {
      assert.equal(compareRestoredKeyspace(backedUp, restored, '2026-01-01T00:00:00.000Z').passed, false, JSON.stringify(restored));
    }
  });
});

describe('the plan refuses before anything is touched', () => {
  let store: Awaited<ReturnType<typeof tempDir>>;
  const backupId = '20261206T120000Z-abcd1234';
  const redisOn = (rdb: unknown, name = 'cache') => ({ name, port: 6390, rdb });
  let stacksWith: (redis: unknown[]) => ReturnType<typeof stacksFileSchema.parse>;
  const plan = (redis: unknown[], input: Omit<RestoreInput, 'stack'>) =>
    new MockActivityEnvironment().run(
      createRestorePlanActivities({
        loadStacks: async () => stacksWith(redis),
        exists: { postgres: () => assert.fail('no Postgres here'), qdrant: () => assert.fail('no Qdrant here') },
      }).resolveRestorePlan,
      { options: restoreInputSchema.parse({ stack: 'prod', backupId, ...input }) },
    ) as Promise<RestorePlan>;
  const refusal = (redis: unknown[], input: Omit<RestoreInput, 'stack'>) =>
    plan(redis, input).then(
      () => assert.fail('the plan was not refused'),
      (error: Error) => error.message,
    );

  before(async () => {
    store = await tempDir('redis-restore-plan');
    stacksWith = (redis) => stacksFileSchema.parse({ stacks: { prod: { store: { type: 'fs', path: store.path }, redis } } });
    const rdb = { component: 'redis', name: 'cache', key: backupKeys.redisRdb('prod', backupId, 'cache'), size: 10, sha256: 'a'.repeat(64), durationMs: 1 };
    const manifest = manifestSchema.parse({
      formatVersion: 1,
      backupId,
      stack: 'prod',
      workflowId: 'backup-prod',
      runId: 'r',
      startedAt: '2026-12-06T12:00:00.000Z',
      finishedAt: '2026-12-06T12:00:01.000Z',
      store: store.path,
      artifacts: [{ ...rdb, keyspace: { db0: { keys: 1, expires: 0 } }, savedAt: '2026-12-06T12:00:00.000Z', redisVersion: '7.0.15', rdbVersion: 10, source: 'host path /d.rdb' }],
    });
    await new FsStore(store.path).put(backupKeys.manifest('prod', backupId), Readable.from([Buffer.from(JSON.stringify(manifest))]));
  });
  after(() => store?.remove());

  test('a Redis in a container without confirm, and one on a host path without into, are refused; with confirm or into they are planned', async () => {
    const docker = redisOn({ docker: { container: 'redis-1', path: '/data/dump.rdb' } });
    const unconfirmed = await refusal([docker], {});
    assert.match(unconfirmed, /nothing was touched/);
    assert.match(unconfirmed, /redis\.cache\.confirm: .*stops its container, replaces all its data.*set confirm to "cache"/);
    assert.match(await refusal([docker], { redis: { cache: { confirm: 'yes' } } }), /redis\.cache\.confirm/);

    const hostPath = await refusal([redisOn({ path: '/var/lib/redis/dump.rdb' })], { redis: { cache: { confirm: 'cache' } } });
    assert.match(hostPath, /redis\.cache: Redis "cache" keeps its RDB in a host path \(\/var\/lib\/redis\/dump\.rdb\).*give redis\.cache\.into \{ port, dir \}/);
    const pod = await refusal([redisOn({ kubernetes: { namespace: 'rag', pod: 'redis-0', path: '/data/dump.rdb' } })], { redis: { cache: { confirm: 'cache' } } });
    assert.match(pod, /a Kubernetes pod.*redis\.cache\.into/);
    assert.match(await refusal([], {}), /configures no Redis "cache" to restore over.*redis\.cache\.into/);
    assert.match(await refusal([docker], { redis: { cache: { confirm: 'cache' }, sessions: { confirm: 'sessions' } } }), /redis\.sessions: the backup has no such RDB/);

    const confirmed = await plan([docker], { components: ['redis'], redis: { cache: { confirm: 'cache' } } });
    assert.deepEqual(confirmed.redis?.map((step) => ('over' in step ? ['over', step.over.name] : ['into'])), [['over', 'cache']]);
    const into = await plan([redisOn({ path: '/var/lib/redis/dump.rdb' })], { redis: { cache: { into: { port: 7100, dir: '/srv/redis-restored' } } } });
    assert.deepEqual(into.redis, [{ label: 'cache', into: { port: 7100, dir: '/srv/redis-restored', bind: '127.0.0.1' } }]);
    assert.match(await refusal([docker], { components: ['postgres'] }), /nothing in the backup matches/);
  });

  test('the input schema: redis is a restore component, into takes an absolute dir and a port; the backup input keeps its own kinds', () => {
    assert.ok(restoreInputSchema.safeParse({ stack: 'prod', components: ['redis'] }).success);
    assert.equal(restoreInputSchema.safeParse({ stack: 'prod', components: ['pgbackrest'] }).success, false, 'a backup kind restore does not take (mirror and exec it does, by name)');
    assert.equal(restoreInputSchema.safeParse({ stack: 'prod', redis: { cache: { into: { port: 7100, dir: 'relative/dir' } } } }).success, false);
    assert.equal(restoreInputSchema.safeParse({ stack: 'prod', redis: { cache: { into: { port: 7100, dir: '/srv/../etc' } } } }).success, false);
    assert.equal(restoreInputSchema.safeParse({ stack: 'prod', redis: { cache: { into: { port: 7100, dir: '/srv/r', bind: '-x; rm' } } } }).success, false);
  });
});

describe('into a new redis-server', () => {
  let source: TestRedis;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let storeConfig: StoreConfig;
  let artifact: RedisArtifact;
  const started: number[] = [];

  before(async () => {
    [source, store] = await Promise.all([startRedis(), tempDir('redis-restore-into')]);
    storeConfig = { type: 'fs', path: store.path };
    const client = await source.connect();
    await fillKeys(client, 0, 5_000);
    await fillKeys(client, 3, 300);
    client.close();
    artifact = await backup({ name: 'cache', port: source.port, rdb: { path: source.rdbPath } }, storeConfig, 'prod/b1/redis/cache.rdb');
  });
  after(async () => {
    for (const port of started) await execa('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { reject: false });
    await Promise.all([source?.stop(), store?.remove()]);
  });

  test('the RDB loads into a new dir and port with the backup\'s keys per database; the server keeps running; a retry of the same run takes it up', async () => {
    const port = await freePort();
    const dir = join(store.path, 'restored', 'cache');
    const result = await restoreInto(artifact, storeConfig, { port, dir });
    started.push(port);
    assert.deepEqual(artifact.keyspace, { db0: { keys: 5_000, expires: 500 }, db3: { keys: 300, expires: 30 } });
    assert.deepEqual(await keyspaceAt(port), artifact.keyspace);
    for (const figures of Object.values(result.perDb)) assert.deepEqual(figures.restored, figures.expected);
    assert.equal(result.expiredSinceBackup, 0);
    assert.equal(result.server?.pidFile, join(dir, 'redis.pid'));
    assert.equal(Number((await readFile(join(dir, 'redis.pid'), 'utf8')).trim()), result.server?.pid);
    process.kill(result.server!.pid, 0);

    const again = await restoreInto(artifact, storeConfig, { port, dir });
    assert.equal(again.server?.pid, result.server?.pid, 'the server the first attempt started, checked again');
  });

  test('a directory with files, a port that answers, or a damaged artifact are refused; nothing is left behind', async () => {
    const full = join(store.path, 'full');
    await mkdir(full, { recursive: true });
    await writeFile(join(full, 'keep.txt'), 'mine');
    await assert.rejects(restoreInto(artifact, storeConfig, { port: await freePort(), dir: full }), /dir .*full is not empty \(keep\.txt\)/);
    assert.deepEqual(await readdir(full), ['keep.txt']);

    const fresh = join(store.path, 'fresh');
    await assert.rejects(restoreInto(artifact, storeConfig, { port: source.port, dir: fresh }), /something answers on 127\.0\.0\.1:\d+/);
    assert.equal(existsSync(fresh), false);

    const damaged = { ...artifact, sha256: 'f'.repeat(64) };
    await assert.rejects(restoreInto(damaged, storeConfig, { port: await freePort(), dir: fresh }), (error: Error & { type?: string }) => {
      assert.equal(error.type, 'ChecksumMismatch');
      assert.match(error.message, /the artifact is damaged/);
      return true;
    });
    assert.deepEqual(await readdir(fresh), []);
  });
});

describe('over a running Redis in a container', () => {
  let container: RedisContainer;
  let client: RespClient;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let storeConfig: StoreConfig;
  let target: { name: string; port: number; rdb: { docker: { container: string; path: string } } };
  let temporal: TestTemporal | undefined;
  let worker: RunningWorker | undefined;
  const connect = () => RespClient.connect({ label: 'container redis', host: '127.0.0.1', port: container.port }, { timeoutMs: 2_000 });
  const running = async () => (await execa('docker', ['inspect', '--format', '{{.State.Running}}', container.name])).stdout.trim() === 'true';
  const runId = async (c: RespClient) => parseInfo(await c.info('server')).get('run_id');
  /** The container's data replaced by other keys. */
  const overwrite = async () => {
    const c = await connect();
    await pipelined(c, [['FLUSHALL'], ['SET', 'after:1', 'x'], ['SET', 'after:2', 'y'], ['SELECT', 5], ['SET', 'after:3', 'z']]);
    c.close();
  };

  before(async () => {
    store = await tempDir('redis-restore-container');
    storeConfig = { type: 'fs', path: store.path };
    const name = uniqueName('ragops-test-redis');
    // Save points, as a production Redis has: at its stop it saves, and the restore's copy must come after.
    container = await runRedisContainer(name, await freePort(), ['--save', '3600 1']);
    await untilAnswers(container.port);
    target = { name: 'cache', port: container.port, rdb: { docker: { container: name, path: '/data/dump.rdb' } } };
    client = await connect();
    await fillKeys(client, 0, 3_000);
    await fillKeys(client, 2, 100);
  });
  after(async () => {
    client?.close();
    await worker?.stop();
    await temporal?.stop();
    await container?.stop();
    await store?.remove();
  });

  test('backed up through docker exec cat, data replaced, restored over it with docker stop / cp / start: the keyspace is the backup\'s again', async () => {
    const artifact = await backup(target, storeConfig, 'prod/b1/redis/cache.rdb');
    assert.deepEqual(artifact.keyspace, { db0: { keys: 3_000, expires: 300 }, db2: { keys: 100, expires: 10 } });
    client.close();
    await overwrite();

    const result = await restoreOver(artifact, storeConfig, target);
    assert.match(result.restoredInto, /^container [0-9a-f]{12} \(ragops-test-redis-/);
    assert.ok(await running());
    client = await connect();
    assert.deepEqual(keyspaceOf(parseInfo(await client.info('keyspace'))), artifact.keyspace);
    assert.equal(await client.command(['GET', 'k:0:0']), 'value 0');
    assert.equal(await client.command(['EXISTS', 'after:1']), 0);
    assert.equal(result.keys, 3_100);
    for (const figures of Object.values(result.perDb)) assert.deepEqual(figures.restored, figures.expected);
  });

  test('appendonly yes, or an rdb path Redis does not use: refused, the container untouched (same process, same keys)', async () => {
    const artifact = await backup(target, storeConfig, 'prod/b2/redis/cache.rdb');
    const before = { runId: await runId(client), keyspace: keyspaceOf(parseInfo(await client.info('keyspace'))) };
    await client.command(['CONFIG', 'SET', 'appendonly', 'yes']);
    try {
      await assert.rejects(restoreOver(artifact, storeConfig, target), (error: Error & { nonRetryable?: boolean; type?: string }) => {
        assert.equal(error.type, 'RedisRestoreRefused');
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /nothing was touched: .* has appendonly yes: at its start it would load its AOF, not the restored RDB/);
        return true;
      });
    } finally {
      await client.command(['CONFIG', 'SET', 'appendonly', 'no']);
    }
    await assert.rejects(restoreOver(artifact, storeConfig, { ...target, rdb: { docker: { ...target.rdb.docker, path: '/data/other.rdb' } } }), /loads its RDB from \/data\/dump\.rdb .* says rdb path \/data\/other\.rdb/);
    assert.ok(await running());
    assert.equal(await runId(client), before.runId, 'Redis was not restarted');
    assert.deepEqual(keyspaceOf(parseInfo(await client.info('keyspace'))), before.keyspace);
  });

  test('through the restore runbook: refused without confirm, then restored with it; the report lists the Redis', async () => {
    temporal = await startTestTemporal();
    const taskQueue = uniqueName('redis-restore');
    const stacks = { stacks: { prod: { store: { type: 'fs', path: join(store.path, 'runbook') }, redis: [target] } } };
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
    const backedUp = await (await startBackup(temporal.client, { stack: 'prod' }, { taskQueue })).result();
    client.close();
    await overwrite();
    client = await connect();
    const run = (input: RestoreInput) =>
      temporal!.client.workflow.execute('restore', { taskQueue, workflowId: uniqueName('restore'), args: [input] }) as Promise<RestoreReport>;

    const failure = await run({ stack: 'prod', backupId: backedUp.backupId }).then(
      () => assert.fail('the restore was not refused'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match((failure.cause as Error).message, /redis\.cache\.confirm: restoring over the running Redis "cache"/);
    assert.equal(await client.command(['EXISTS', 'after:1']), 1, 'untouched');

    client.close();
    const report = await run({ stack: 'prod', backupId: backedUp.backupId, redis: { cache: { confirm: 'cache' } } });
    client = await connect();
    assert.equal(report.redis.length, 1);
    assert.equal(report.redis[0]?.label, 'cache');
    assert.deepEqual(keyspaceOf(parseInfo(await client.info('keyspace'))), { db0: { keys: 3_000, expires: 300 }, db2: { keys: 100, expires: 10 } });
    assert.equal(await client.command(['EXISTS', 'after:1']), 0);
  });

  // Last: it leaves the container with an RDB it cannot load.
  test('an RDB the container cannot load: the step fails after starting the container again, saying what it holds and why it exited', async () => {
    const artifact = await backup(target, storeConfig, 'prod/b3/redis/cache.rdb');
    const whole = await readFile(join(store.path, 'prod/b3/redis/cache.rdb'));
    const truncated = whole.subarray(0, Math.floor(whole.length / 2));
    await writeFile(join(store.path, 'prod/b3/redis/truncated.rdb'), truncated);
    const sha256 = createHash('sha256').update(truncated).digest('hex');
    client.close();
    await assert.rejects(restoreOver({ ...artifact, key: 'prod/b3/redis/truncated.rdb', size: truncated.length, sha256 }, storeConfig, target), (error: Error & { nonRetryable?: boolean; type?: string }) => {
      assert.equal(error.type, 'RedisRestoreFailed');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /failed while waiting for Redis to load the RDB: .* exited; its log ends: .*(Short read|RDB|Unrecoverable)/i);
      assert.match(error.message, /was started again and loads the backup's RDB at \/data\/dump\.rdb/);
      return true;
    });
  });
});
