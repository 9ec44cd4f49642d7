// The Redis component against redis-servers the tests start on free loopback ports: BGSAVE
// with the keyspace taken at the fork while a writer keeps writing, the RDB streamed through
// SHA-256 into a local fs store, and the drill's scratch server loading it with the same keys
// per database; a password only by reference and never in a child's argv; a damaged artifact;
// a BGSAVE someone else started, waited out.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { RedisArtifact } from '../src/activities/redis/backup.js';
import { composeContainerCommand, dockerCatCommand, kubectlCatCommand, scratchServerCommand } from '../src/activities/redis/commands.js';
import { createRedisActivities, type RedisDrillCheck } from '../src/activities/redis/index.js';
import { compareKeyspace, keyspaceOf, parseInfo } from '../src/activities/redis/info.js';
import type { RespClient } from '../src/activities/redis/resp.js';
import type { StoreConfig } from '../src/config/stacks/index.js';
import { redisTargetSchema } from '../src/config/stacks/redis.js';
import { tempDir } from './support/ragops.js';
import { childCommandLines, fillKeys, infoField, pipelined, startRedis, type TestRedis } from './support/redis.js';

const activities = createRedisActivities({ pollMs: 20 });
const backup = (target: unknown, store: StoreConfig, key: string) =>
  new MockActivityEnvironment().run(activities.backupRedis, { target: redisTargetSchema.parse(target), store, key }) as Promise<RedisArtifact>;
const drill = (artifact: RedisArtifact, store: StoreConfig) => new MockActivityEnvironment().run(activities.drillRedis, { artifact, store }) as Promise<RedisDrillCheck[]>;

describe('argv builders and the stacks schema (nothing runs)', () => {
  test('the RDB is read with docker exec / kubectl exec cat, never a shell, and the scratch server stays on loopback', () => {
    assert.deepEqual(dockerCatCommand('cache-1', '/data/dump.rdb').argv, ['docker', 'exec', 'cache-1', 'cat', '/data/dump.rdb']);
    assert.deepEqual(composeContainerCommand('rag', 'redis').argv.slice(0, 2), ['docker', 'ps']);
    assert.ok(composeContainerCommand('rag', 'redis').argv.includes('label=com.docker.compose.service=redis'));
    assert.deepEqual(kubectlCatCommand({ namespace: 'rag', deployment: 'redis', container: 'redis', path: '/data/dump.rdb', context: 'prod' }).argv, [
      'kubectl',
      '--context=prod',
      '--namespace=rag',
      'exec',
      'deployment/redis',
      '-c',
      'redis',
      '--',
      'cat',
      '/data/dump.rdb',
    ]);
    const scratch = scratchServerCommand({ dir: '/tmp/x', dbfilename: 'dump.rdb', port: 7001, databases: 16 }).argv;
    assert.deepEqual(scratch.slice(0, 5), ['redis-server', '--port', '7001', '--bind', '127.0.0.1']);
    for (const [flag, value] of [['--save', ''], ['--appendonly', 'no'], ['--dir', '/tmp/x'], ['--dbfilename', 'dump.rdb']] as const) {
      assert.equal(scratch[scratch.indexOf(flag) + 1], value, flag);
    }
  });

  test('the schema takes one RDB source, refuses paths and names that could carry syntax, and keeps passwords as references', () => {
    const base = { name: 'cache', host: 'redis.internal', password: { env: 'REDIS_PASSWORD' } };
    assert.equal(redisTargetSchema.parse({ ...base, rdb: { path: '/var/lib/redis/dump.rdb' } }).port, 6379);
    assert.ok(redisTargetSchema.safeParse({ ...base, rdb: { compose: { project: 'rag', service: 'redis', path: '/data/dump.rdb' } } }).success);
    assert.ok(redisTargetSchema.safeParse({ ...base, rdb: { kubernetes: { namespace: 'rag', pod: 'redis-0', path: '/data/dump.rdb' } } }).success);
    const bad = [
      { ...base, rdb: { path: 'dump.rdb' } },
      { ...base, rdb: { path: '/data/../etc/shadow' } },
      { ...base, rdb: { docker: { container: 'x; rm -rf /', path: '/data/dump.rdb' } } },
      { ...base, rdb: { kubernetes: { namespace: 'rag', pod: 'a', deployment: 'b', path: '/d.rdb' } } },
      { ...base, rdb: { path: '/d.rdb' }, password: 'plain-text' },
      { ...base, rdb: { path: '/d.rdb' }, extra: 1 },
      { ...base, rdb: { path: '/d.rdb', docker: { container: 'c', path: '/d.rdb' } } },
    ];
    for (const target of bad) assert.equal(redisTargetSchema.safeParse(target).success, false, JSON.stringify(target));
  });

  test('keyspace figures are compared exactly per database', () => {
    const fields = parseInfo('# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=0\r\ndb3:keys=4,expires=0,avg_ttl=0\r\n');
    assert.deepEqual(keyspaceOf(fields), { db0: { keys: 10, expires: 2 }, db3: { keys: 4, expires: 0 } });
    assert.equal(compareKeyspace(keyspaceOf(fields), { db0: { keys: 10, expires: 2 }, db3: { keys: 4, expires: 0 } }).passed, true);
    const short = compareKeyspace(keyspaceOf(fields), { db0: { keys: 10, expires: 2 } });
    assert.equal(short.passed, false);
    assert.match(short.detail, /db3: 0 keys/);
  });
});

describe('backup while writes continue, then the drill', () => {
  let redis: TestRedis;
  let client: RespClient;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let storeConfig: StoreConfig;

  before(async () => {
    [redis, store] = await Promise.all([startRedis(), tempDir('redis-store')]);
    storeConfig = { type: 'fs', path: store.path };
    client = await redis.connect();
    await fillKeys(client, 0, 50_000);
    await fillKeys(client, 3, 300);
  });
  after(async () => {
    client?.close();
    await Promise.all([redis?.stop(), store?.remove()]);
  });

  test('50,000 keys of five types (some with TTL) in db0 and 300 in db3: the manifest keyspace is the fork\'s, and the scratch server loads exactly it', async () => {
    // Slow the save down (µs per key) so the writer's keys land while the child is writing.
    await client.command(['CONFIG', 'SET', 'rdb-key-save-delay', '10']);
    const writer = await redis.connect();
    let writing = true;
    let written = 0;
    const writes = (async () => {
      while (writing) {
        const batch = Array.from({ length: 20 }, (_, i) => ['SET', `w:${written + i}`, 'during the backup']);
        await pipelined(writer, batch);
        written += batch.length;
        await delay(5);
      }
    })();
    // Keys that exist at the fork and expire before the drill: a scratch master would drop them while loading.
    await pipelined(client, [['SELECT', 5], ...Array.from({ length: 100 }, (_, i) => ['SET', `short:${i}`, 'x', 'PX', 1_500]), ['SELECT', 0]]);
    const shortSetAt = Date.now();
    let artifact: RedisArtifact;
    try {
      await delay(50);
      const writtenBefore = written;
      artifact = await backup({ name: 'cache', port: redis.port, rdb: { path: redis.rdbPath } }, storeConfig, 'redis/live/cache.rdb');
      assert.ok(written > writtenBefore, 'the writer kept writing during the backup');
    } finally {
      writing = false;
      await writes;
      writer.close();
      await client.command(['CONFIG', 'SET', 'rdb-key-save-delay', '0']);
    }
    assert.equal(artifact.component, 'redis');
    assert.match(artifact.sha256, /^[0-9a-f]{64}$/);
    assert.ok(artifact.size > 100_000, `${artifact.size} bytes`);
    assert.equal(artifact.keyspace.db3?.keys, 300);
    assert.equal(artifact.keyspace.db3?.expires, 30);
    assert.equal(artifact.keyspace.db0!.expires, 5_000);
    const live = keyspaceOf(parseInfo(await client.info('keyspace')));
    assert.ok(artifact.keyspace.db0!.keys >= 50_000 && artifact.keyspace.db0!.keys < live.db0!.keys, `fork ${artifact.keyspace.db0!.keys}, now ${live.db0!.keys}`);

    assert.deepEqual(artifact.keyspace.db5, { keys: 100, expires: 100 });
    await delay(Math.max(0, shortSetAt + 1_700 - Date.now()));
    const checks = await drill(artifact, storeConfig);
    assert.deepEqual(
      checks.map((c) => [c.name, c.outcome]),
      [
        ['rdb checksum', 'passed'],
        ['redis keyspace', 'passed'],
      ],
      JSON.stringify(checks),
    );
    const perDb = checks[1]!.figures.perDb as Record<string, { expected: unknown; restored: unknown }>;
    assert.deepEqual(Object.keys(perDb), ['db0', 'db3', 'db5']);
    for (const figures of Object.values(perDb)) assert.deepEqual(figures.restored, figures.expected);
    assert.equal((await childCommandLines()).filter((line) => line.includes('ragops-redis-drill')).length, 0, 'the scratch server is stopped');
  });

  test('a BGSAVE already running is waited out, then ours is taken', async () => {
    // The delay is the child's from its fork: the save started here is slow, ours is not.
    await client.command(['CONFIG', 'SET', 'rdb-key-save-delay', '10']);
    try {
      const savesBefore = Number(await infoField(client, 'persistence', 'rdb_saves'));
      assert.equal(await client.command(['BGSAVE']), 'Background saving started');
      await client.command(['CONFIG', 'SET', 'rdb-key-save-delay', '0']);
      assert.equal(await infoField(client, 'persistence', 'rdb_bgsave_in_progress'), '1');
      const artifact = await backup({ name: 'cache', port: redis.port, rdb: { path: redis.rdbPath } }, storeConfig, 'redis/busy/cache.rdb');
      assert.equal(Number(await infoField(client, 'persistence', 'rdb_saves')), savesBefore + 2, 'the running save, then ours');
      assert.equal(artifact.keyspace.db3?.keys, 300);
    } finally {
      await client.command(['CONFIG', 'SET', 'rdb-key-save-delay', '0']);
    }
  });

  test('a damaged artifact fails the drill\'s checksum, and no server is started', async () => {
    const artifact = await backup({ name: 'cache', port: redis.port, rdb: { path: redis.rdbPath } }, storeConfig, 'redis/damaged/cache.rdb');
    const file = await open(join(store.path, 'redis/damaged/cache.rdb'), 'r+');
    try {
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, 1_000);
      byte[0] = byte[0]! ^ 0xff;
      await file.write(byte, 0, 1, 1_000);
    } finally {
      await file.close();
    }
    const checks = await drill(artifact, storeConfig);
    assert.deepEqual(checks.map((c) => [c.name, c.outcome]), [['rdb checksum', 'failed']]);
    assert.match(checks[0]!.detail, /damaged/);
    assert.match(checks[0]!.detail, /redis\/damaged\/cache\.rdb/);
  });

  test('a scratch server that will not start is inconclusive, with its log tail; an RDB it cannot load fails the drill', async () => {
    const artifact = await backup({ name: 'cache', port: redis.port, rdb: { path: redis.rdbPath } }, storeConfig, 'redis/load/cache.rdb');
    const missing = createRedisActivities({ redisServer: join(store.path, 'no-such-redis-server') });
    const notStarted = (await new MockActivityEnvironment().run(missing.drillRedis, { artifact, store: storeConfig })) as RedisDrillCheck[];
    assert.deepEqual(notStarted.map((c) => [c.name, c.outcome]), [['rdb checksum', 'passed'], ['rdb load', 'inconclusive']]);
    assert.match(notStarted[1]!.detail, /did not start/);

    // A truncated RDB whose manifest entry matches it: the checksum passes, the load does not.
    const whole = await readFile(join(store.path, 'redis/load/cache.rdb'));
    const truncated = whole.subarray(0, Math.floor(whole.length / 2));
    await writeFile(join(store.path, 'redis/load/truncated.rdb'), truncated);
    const sha256 = createHash('sha256').update(truncated).digest('hex');
    const checks = await drill({ ...artifact, key: 'redis/load/truncated.rdb', size: truncated.length, sha256 }, storeConfig);
    assert.deepEqual(checks.map((c) => [c.name, c.outcome]), [['rdb checksum', 'passed'], ['rdb load', 'failed']], JSON.stringify(checks));
    assert.match(checks[1]!.detail, /does not load.*log ends/s);
  });

  test('a cancelled drill stops its scratch server and removes its directory', async () => {
    const artifact = await backup({ name: 'cache', port: redis.port, rdb: { path: redis.rdbPath } }, storeConfig, 'redis/cancel/cache.rdb');
    // A "server" that notes its arguments and never answers, so the drill is cancelled while it waits.
    const hang = join(store.path, 'hanging-redis-server');
    const argsFile = join(store.path, 'hanging-args');
    await writeFile(hang, `#!/bin/sh\necho "$@" > ${argsFile}\nexec sleep 61\n`, { mode: 0o755 });
    const env = new MockActivityEnvironment();
    const running = env.run(createRedisActivities({ redisServer: hang }).drillRedis, { artifact, store: storeConfig });
    running.catch(() => undefined);
    for (let i = 0; !(await childCommandLines()).some((line) => line.includes('sleep 61')); i++) {
      assert.ok(i < 200, 'the scratch server was started');
      await delay(20);
    }
    const args = (await readFile(argsFile, 'utf8')).trim().split(' ');
    const dir = args[args.indexOf('--dir') + 1]!;
    assert.match(dir, /ragops-redis-drill-/);
    assert.ok(existsSync(join(dir, 'dump.rdb')), 'the RDB was downloaded for the server');
    env.cancel();
    await assert.rejects(running);
    for (let i = 0; (await childCommandLines()).some((line) => line.includes('sleep 61')); i++) {
      assert.ok(i < 300, 'the scratch server is killed');
      await delay(20);
    }
    assert.equal(existsSync(dir), false, 'the drill directory is removed');
  });

  test('through a container: docker ps finds the Compose service, docker exec cat streams the RDB; a failing exec fails the backup with its stderr', async () => {
    // A stand-in docker CLI on PATH: `ps` prints a container id, `exec <id> cat <path>` cats the host's file.
    const bin = join(store.path, 'fake-bin');
    await mkdir(bin, { recursive: true });
    const calls = join(store.path, 'docker-calls');
    await writeFile(
      join(bin, 'docker'),
      `#!/bin/sh\necho "$@" >> ${calls}\ncase "$1" in\n  ps) echo 0123abcd ;;\n  exec) [ "$2" = 0123abcd ] || { echo "Error: No such container: $2" >&2; exit 1; }; exec cat "$4" ;;\n  *) exit 2 ;;\nesac\n`,
      { mode: 0o755 },
    );
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const artifact = await backup({ name: 'cache', port: redis.port, rdb: { compose: { project: 'rag', service: 'redis', path: redis.rdbPath } } }, storeConfig, 'redis/compose/cache.rdb');
      assert.match(artifact.source, /Compose service redis \(project rag\)/);
      assert.equal(artifact.sha256, createHash('sha256').update(await readFile(join(store.path, 'redis/compose/cache.rdb'))).digest('hex'));
      const logged = await readFile(calls, 'utf8');
      assert.match(logged, /^ps --quiet --no-trunc --filter label=com.docker.compose.project=rag --filter label=com.docker.compose.service=redis/m);
      assert.match(logged, new RegExp(`^exec 0123abcd cat ${redis.rdbPath}$`, 'm'));
      await assert.rejects(
        backup({ name: 'cache', port: redis.port, rdb: { docker: { container: 'gone', path: redis.rdbPath } } }, storeConfig, 'redis/docker/cache.rdb'),
        /docker exec cat .* in container gone failed \(exit code 1\): Error: No such container: gone/,
      );
      assert.equal(existsSync(join(store.path, 'redis/docker/cache.rdb')), false, 'no artifact is left under the key');
    } finally {
      process.env.PATH = path;
    }
  });

  test('a file that is not an RDB fails the backup at once, saying so', async () => {
    await assert.rejects(backup({ name: 'cache', port: redis.port, rdb: { path: join(redis.dir, 'redis.conf') } }, storeConfig, 'redis/wrong/cache.rdb'), (error: Error & { nonRetryable?: boolean }) => {
      assert.match(error.message, /not an RDB file/);
      assert.equal(error.nonRetryable, true);
      return true;
    });
  });
});

describe('a password-protected server: the password by reference, never in argv', () => {
  const password = 'rds-Secret-9f3a1c';
  let redis: TestRedis;
  let store: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    [redis, store] = await Promise.all([startRedis({ password }), tempDir('redis-auth-store')]);
    const client = await redis.connect();
    await fillKeys(client, 0, 2_000);
    client.close();
    process.env.TEST_REDIS_PASSWORD = password;
  });
  after(async () => {
    delete process.env.TEST_REDIS_PASSWORD;
    await Promise.all([redis?.stop(), store?.remove()]);
  });

  test('backup and drill pass with the env reference; no child\'s command line holds the password', async () => {
    const storeConfig: StoreConfig = { type: 'fs', path: store.path };
    const target = { name: 'secure', port: redis.port, password: { env: 'TEST_REDIS_PASSWORD' }, rdb: { path: redis.rdbPath } };
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const line of await childCommandLines()) seen.add(line);
        await delay(10);
      }
    })();
    let checks: RedisDrillCheck[];
    try {
      const artifact = await backup(target, storeConfig, 'redis/auth/secure.rdb');
      assert.deepEqual(artifact.keyspace, { db0: { keys: 2_000, expires: 200 } });
      assert.doesNotMatch(JSON.stringify(artifact), new RegExp(password));
      checks = await drill(artifact, storeConfig);
    } finally {
      watching = false;
      await watcher;
    }
    assert.deepEqual(checks.map((c) => c.outcome), ['passed', 'passed'], JSON.stringify(checks));
    const scratch = [...seen].filter((line) => line.startsWith('redis-server'));
    assert.ok(scratch.length > 0, 'the scratch server was seen');
    for (const line of seen) assert.ok(!line.includes(password), `a child's argv holds the password: ${line}`);
    for (const spec of [scratchServerCommand({ dir: '/d', dbfilename: 'f', port: 1, databases: 16 }), dockerCatCommand('c', '/d.rdb')]) {
      assert.doesNotMatch(JSON.stringify(spec), new RegExp(password));
    }
  });

  test('a wrong password fails at once (non-retryable) without repeating either password', async () => {
    process.env.TEST_REDIS_WRONG = 'not-the-password-77';
    try {
      await assert.rejects(
        backup({ name: 'secure', port: redis.port, password: { env: 'TEST_REDIS_WRONG' }, rdb: { path: redis.rdbPath } }, { type: 'fs', path: store.path }, 'redis/auth/wrong.rdb'),
        (error: Error & { nonRetryable?: boolean }) => {
          assert.equal(error.nonRetryable, true);
          assert.match(error.message, /AUTH with the password was refused/);
          assert.ok(!error.message.includes(password) && !error.message.includes('not-the-password-77'), error.message);
          return true;
        },
      );
    } finally {
      delete process.env.TEST_REDIS_WRONG;
    }
  });
});
