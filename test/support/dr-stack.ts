// The stack the disasterRecovery runbook recovers, on real services:
//
//   compose project (real engine, a temp dir, a unique project name)
//     api     ragops-test/dr-api:v1 (dr-images.ts), network_mode: host, listening on a free
//             port (every address of the host: busybox nc cannot bind one); /health is 200 only while its database answers on the
//             machine's PostgreSQL (127.0.0.1:5432, trust auth); a compose healthcheck on it;
//             ./control is mounted at /control (forceHealth500 writes control/force500)
//     redis   ragops-test/redis:latest (redis-image.ts), network_mode: host, 127.0.0.1:<free
//             port>, its RDB at /data/dump.rdb, no AOF, no automatic saves: the rdb source is
//             { compose: { project, service: redis, path } }, which a restore over the running
//             Redis needs (docker stop, docker cp, docker start)
//   PostgreSQL  a test database on the machine's server, seeded (postgres.ts seedRagDatabase)
//   Qdrant      the stand-in (or RAGOPS_TEST_QDRANT_URL's server, which must start empty), with
//               docs_v1 (300 points) and faq (40 points) and the alias docs → docs_v1
//   store       an fs store in a temp dir
//
// stacks() is the stacks file of a stack `prod` over all of it (validated with parseStacksFile);
// destroy() is the disaster (the database dropped, the collections and aliases deleted, Redis
// flushed and its RDB removed, the api's container removed); state() is what is there now, to
// compare with `seeded`; stop() removes everything (images stay).
import { QdrantClient } from '@qdrant/js-client-rest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import pg from 'pg';
import { stringify } from 'yaml';
import type { ComposeFlavor } from '../../src/activities/compose/commands.js';
import { keyspaceOf, parseInfo, type Keyspace } from '../../src/activities/redis/info.js';
import { RespClient } from '../../src/activities/redis/resp.js';
import { findFreePort } from '../../src/client/dev/devserver.js';
import { parseStacksFile } from '../../src/config/load.js';
import type { ComposeTarget } from '../../src/config/stacks/deploy.js';
import { composeHead, detectComposeFlavor } from './compose-project.js';
import { DR_API_IMAGES, ensureDrApiImages, type DrApiVersion } from './dr-images.js';
import { seedQdrant } from './fixtures.js';
import { createTestDatabase, dropDatabaseIfExists, exactCounts, PG, seedRagDatabase, type TestDatabase } from './postgres.js';
import { ensureRedisImage } from './redis-image.js';
import { fillKeys } from './redis.js';
import { qdrantUnderTest, type QdrantUnderTest } from './targets.js';

export const DR_API_SERVICE = 'api';
export const DR_REDIS_SERVICE = 'redis';
/** Where the Redis container keeps its RDB (its `dir` + `dbfilename`). */
export const DR_REDIS_RDB_PATH = '/data/dump.rdb';
/** What seedQdrant (fixtures.ts) creates. */
export const DR_QDRANT_SEED = { collections: { docs_v1: 300, faq: 40 }, aliases: { docs: 'docs_v1' } } as const;

export interface DrStackOptions {
  /** Documents in the seeded database (users 1 per 100, chunks 3 each, audit.events 1 per 10). Default 200. */
  documents?: number;
  /** The api image the project starts with. Default v1. */
  version?: DrApiVersion;
  /** Redis keys per database index (fillKeys: every tenth expires in an hour). Default { 0: 100, 2: 30 }. */
  redisKeys?: Record<number, number>;
}

/** An HTTP answer; status 0 when nothing answered (body: why). */
export interface HttpAnswer {
  status: number;
  body: string;
}

export interface QdrantState {
  /** Collection → exact point count. */
  collections: Record<string, number>;
  /** Alias → collection. */
  aliases: Record<string, string>;
}

export interface DrStackSeed {
  /** Exact row counts, keyed "schema.table" (as exactCounts). */
  database: Record<string, number>;
  qdrant: QdrantState;
  /** INFO keyspace figures: { db0: { keys, expires }, db2: … }. */
  redis: Keyspace;
}

export interface DrContainer {
  id: string;
  /** docker's State.Status: running, exited, created, … */
  status: string;
  /** starting, healthy, unhealthy; absent without a healthcheck. */
  health?: string;
  image: string;
}

export interface DrStackState {
  /** Exact row counts; null when the database does not exist. */
  database: Record<string, number> | null;
  qdrant: QdrantState;
  /** null when Redis does not answer. */
  redis: Keyspace | null;
  api: { containers: DrContainer[]; health: HttpAnswer };
}

export interface DrDisaster {
  database: string;
  collections: string[];
  aliases: string[];
  /** Keys FLUSHALL removed (all databases). */
  redisKeys: number;
  /** The api containers removed (ids). */
  apiContainers: string[];
}

export interface DrStacksOptions {
  /** The stack's name. Default `prod`. */
  stack?: string;
  /** The fs store's directory. Default the stack's own temp dir (`storeDir`). */
  storePath?: string;
  /**
   * A `dr` section: true for drSection()'s defaults, or fields that replace them (shallow).
   * Needs a stack schema that has `dr` (src/config/stacks/dr.ts).
   */
  dr?: boolean | Record<string, unknown>;
  /** More fields of the stack (drill, retention, plans, …), shallow-merged last. */
  extra?: Record<string, unknown>;
}

export interface DrStacksFile {
  stacks: Record<string, Record<string, unknown>>;
}

export interface DrStack {
  compose: {
    flavor: ComposeFlavor;
    directory: string;
    /** Absolute path of docker-compose.yml. */
    file: string;
    projectName: string;
    /** The stacks file's deploy target: relative files, pull never (images are built here). */
    target: ComposeTarget;
  };
  api: {
    service: typeof DR_API_SERVICE;
    image: string;
    port: number;
    /** http://127.0.0.1:<port> */
    url: string;
    healthUrl: string;
    versionUrl: string;
  };
  /** The api's database on the machine's PostgreSQL. */
  db: Pick<TestDatabase, 'name' | 'url'>;
  qdrant: QdrantUnderTest;
  redis: {
    service: typeof DR_REDIS_SERVICE;
    host: '127.0.0.1';
    port: number;
    /** The database index the stack's target names (the first seeded one). */
    db: number;
    rdbPath: typeof DR_REDIS_RDB_PATH;
    connect(): Promise<RespClient>;
  };
  storeDir: string;
  seeded: DrStackSeed;
  /** Values that must never reach workflow history. */
  secrets: { pgPassword: string; qdrantApiKey?: string };
  /** The secrets by the env names stacks() references; already in process.env (stop() removes them). */
  secretEnv: Record<string, string>;
  /** The stacks file (an object; `stringify` it for a worker), validated with parseStacksFile. */
  stacks(options?: DrStacksOptions): DrStacksFile;
  /** The default `dr` section (targets, writers [api], dependencies, validation on /health), with `overrides` on top. */
  drSection(overrides?: Record<string, unknown>): Record<string, unknown>;
  health(): Promise<HttpAnswer>;
  /** Polls /health until it answers `status` (0: until nothing answers); fails with the last answer and the api's logs. */
  waitForHealth(status: number, timeoutMs?: number): Promise<HttpAnswer>;
  /** Makes /health answer 500 (the "validation failing" switch), in this container and any later one, or stops that. */
  forceHealth500(on: boolean): Promise<void>;
  /** DROP DATABASE … WITH (FORCE) of the api's database. */
  dropDatabase(): Promise<void>;
  /** CREATE DATABASE of that name again, empty. */
  createDatabase(): Promise<void>;
  /** `compose up -d` of the services (default: all). */
  up(services?: string[]): Promise<void>;
  /** The api service's containers, in any state. */
  apiContainers(): Promise<DrContainer[]>;
  /** The last lines of the api's compose logs. */
  apiLogs(lines?: number): Promise<string>;
  state(): Promise<DrStackState>;
  /** The disaster: the database dropped, collections and aliases deleted, Redis flushed (and its RDB file removed), the api's container removed. */
  destroy(): Promise<DrDisaster>;
  /** compose down (containers, networks; images stay), the database, Qdrant, the temp dirs, the env. Never throws. */
  stop(): Promise<void>;
}

// --- compose ----------------------------------------------------------------------------------

export interface DrComposeFileOptions {
  apiImage: string;
  apiPort: number;
  database: string;
  redisImage: string;
  redisPort: number;
}

/**
 * The project's docker-compose.yml (format 3.8: docker-compose 1.29 and compose v2 both read it).
 * Values double-quoted: docker-compose v1 reads YAML 1.1, where a plain `no` is false.
 */
export function drComposeFileText(o: DrComposeFileOptions): string {
  return stringify({
    version: '3.8',
    services: {
      [DR_API_SERVICE]: {
        image: o.apiImage,
        network_mode: 'host',
        environment: {
          PORT: String(o.apiPort),
          DB_HOST: PG.host,
          DB_PORT: String(PG.port),
          DB_NAME: o.database,
          DB_USER: PG.user,
        },
        volumes: ['./control:/control:ro'],
        healthcheck: { test: ['CMD', '/app/healthcheck'], interval: '1s', timeout: '5s', retries: 3 },
        stop_grace_period: '3s',
      },
      [DR_REDIS_SERVICE]: {
        image: o.redisImage,
        network_mode: 'host',
        command: [
          '/usr/bin/redis-server',
          '--port', String(o.redisPort),
          '--bind', '127.0.0.1',
          '--protected-mode', 'no',
          '--dir', '/data',
          '--dbfilename', 'dump.rdb',
          '--appendonly', 'no',
          '--save', '',
        ],
        stop_grace_period: '3s',
      },
    },
  }, { defaultKeyType: 'PLAIN', defaultStringType: 'QUOTE_DOUBLE' });
}

async function composeRun(flavor: ComposeFlavor, directory: string, projectName: string, args: string[], timeout = 120_000) {
  const [head, ...rest] = composeHead(flavor);
  return execa(head, [...rest, '--project-directory', directory, '-f', join(directory, 'docker-compose.yml'), '-p', projectName, ...args], {
    reject: false,
    timeout,
  });
}

async function containersOf(projectName: string, service: string): Promise<DrContainer[]> {
  const listed = await execa(
    'docker',
    ['ps', '-a', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${projectName}`, '--filter', `label=com.docker.compose.service=${service}`],
    { reject: false },
  );
  if (listed.failed) throw new Error(`docker ps failed: ${String(listed.stderr).slice(-1000)}`);
  const ids = String(listed.stdout).split(/\s+/).filter(Boolean);
  if (ids.length === 0) return [];
  // The whole JSON: a template naming .State.Health fails on a container without a healthcheck.
  const inspected = await execa('docker', ['container', 'inspect', ...ids], { reject: false });
  // A container removed between ps and inspect is left out.
  const found = JSON.parse(String(inspected.stdout) || '[]') as Array<{ Id: string; State: { Status: string; Health?: { Status: string } }; Config: { Image: string } }>;
  return found.map((c) => ({ id: c.Id, status: c.State.Status, ...(c.State.Health ? { health: c.State.Health.Status } : {}), image: c.Config.Image }));
}

// --- PostgreSQL -------------------------------------------------------------------------------

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ ...PG, database: 'postgres' });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ ...PG, database: 'postgres' });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return (rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

// --- Qdrant -----------------------------------------------------------------------------------

async function qdrantState(client: QdrantClient): Promise<QdrantState> {
  const [{ collections }, { aliases }] = await Promise.all([client.getCollections(), client.getAliases()]);
  const counts: Record<string, number> = {};
  for (const { name } of collections.sort((a, b) => a.name.localeCompare(b.name))) counts[name] = (await client.count(name, { exact: true })).count;
  return { collections: counts, aliases: Object.fromEntries(aliases.map((a) => [a.alias_name, a.collection_name]).sort()) };
}

// --- HTTP -------------------------------------------------------------------------------------

async function get(url: string): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(8_000) });
    return { status: response.status, body: (await response.text()).trim() };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, body: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}

// --- the stack --------------------------------------------------------------------------------

export async function startDrStack(options: DrStackOptions = {}): Promise<DrStack> {
  const documents = options.documents ?? 200;
  const redisKeys = options.redisKeys ?? { 0: 100, 2: 30 };
  const redisDbs = Object.keys(redisKeys).map(Number).sort((a, b) => a - b);
  if (redisDbs.length === 0 || redisDbs.some((db) => !Number.isInteger(db) || db < 0 || db > 15)) throw new Error('startDrStack: redisKeys needs database indexes 0-15');
  const tag = randomBytes(4).toString('hex');
  const secrets = { pgPassword: `pg-${randomBytes(12).toString('hex')}`, qdrantApiKey: `qd-${randomBytes(12).toString('hex')}` };
  const envNames = { pg: `DR_TEST_PG_PASSWORD_${tag}`, qdrant: `DR_TEST_QDRANT_API_KEY_${tag}` };

  // Everything stop() must undo, filled in as it is made.
  let directory: string | undefined;
  let storeDir: string | undefined;
  let flavor: ComposeFlavor | undefined;
  let db: TestDatabase | undefined;
  let qdrant: QdrantUnderTest | undefined;
  const projectName = `ragops-dr-${tag}`;
  const secretEnv: Record<string, string> = {};
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (flavor && directory) await composeRun(flavor, directory, projectName, ['down', '-v', '--remove-orphans', '-t', '3']);
      await Promise.allSettled([
        db ? dropDatabaseIfExists(db.name) : undefined,
        qdrant?.stop(),
        directory ? rm(directory, { recursive: true, force: true }) : undefined,
        storeDir ? rm(storeDir, { recursive: true, force: true }) : undefined,
      ]);
      for (const name of Object.keys(secretEnv)) delete process.env[name];
    })().catch(() => {}));

  try {
    // Settled, not all: what did start is stopped again when something else failed.
    const [databaseMade, qdrantStarted] = await Promise.allSettled([createTestDatabase('dr'), qdrantUnderTest({ apiKey: secrets.qdrantApiKey })]);
    if (databaseMade.status === 'fulfilled') db = databaseMade.value;
    if (qdrantStarted.status === 'fulfilled') qdrant = qdrantStarted.value;
    if (databaseMade.status === 'rejected') throw databaseMade.reason;
    if (qdrantStarted.status === 'rejected') throw qdrantStarted.reason;
    const [images, redisImage, detected, apiPort, redisPort] = await Promise.all([
      ensureDrApiImages(),
      ensureRedisImage(),
      detectComposeFlavor(),
      findFreePort(),
      findFreePort(),
    ]);
    flavor = detected;
    db = databaseMade.value;
    qdrant = qdrantStarted.value;
    // A real Qdrant brings its own key (or none); the stand-in took ours.
    const qdrantApiKey = qdrant.apiKey;
    if (qdrant.external) {
      const before = await qdrantState(new QdrantClient({ url: qdrant.url, apiKey: qdrantApiKey, checkCompatibility: false }));
      if (Object.keys(before.collections).length > 0 || Object.keys(before.aliases).length > 0) {
        throw new Error(`the DR stack deletes its Qdrant's collections: the server at ${qdrant.url} (RAGOPS_TEST_QDRANT_URL) must have none; found ${Object.keys(before.collections).join(', ')}`);
      }
    }
    let redisPortFinal = redisPort;
    if (redisPortFinal === apiPort) redisPortFinal = await findFreePort();

    directory = await mkdtemp(join(tmpdir(), 'ragops-dr-stack-'));
    storeDir = await mkdtemp(join(tmpdir(), 'ragops-dr-store-'));
    await mkdir(join(directory, 'control'));
    const composeFile = join(directory, 'docker-compose.yml');
    const apiImage = images[options.version ?? 'v1'];
    await writeFile(composeFile, drComposeFileText({ apiImage, apiPort, database: db.name, redisImage, redisPort: redisPortFinal }));

    secretEnv[envNames.pg] = secrets.pgPassword;
    if (qdrantApiKey) secretEnv[envNames.qdrant] = qdrantApiKey;
    Object.assign(process.env, secretEnv);

    const databaseName = db.name;
    const qdrantClient = new QdrantClient({ url: qdrant.url, apiKey: qdrantApiKey, checkCompatibility: false });
    const connectRedis = () => RespClient.connect({ label: `dr-stack redis :${redisPortFinal}`, host: '127.0.0.1', port: redisPortFinal }, { timeoutMs: 2_000 });
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const composeFlavor = flavor;
    const composeDir = directory;
    const store = storeDir;

    const apiLogs = async (lines = 40) => {
      const result = await composeRun(composeFlavor, composeDir, projectName, ['logs', '--no-color', `--tail=${lines}`, DR_API_SERVICE], 30_000);
      return `${String(result.stdout)}${String(result.stderr)}`.trim();
    };
    const up = async (services: string[] = []) => {
      const result = await composeRun(composeFlavor, composeDir, projectName, ['up', '-d', ...services]);
      if (result.failed) throw new Error(`compose up ${services.join(' ')} (project ${projectName}) failed: ${String(result.stderr).slice(-2000)}`);
    };
    const health = () => get(`${apiUrl}/health`);
    const waitForHealth = async (status: number, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const answer = await health();
        if (answer.status === status) return answer;
        if (Date.now() > deadline) {
          throw new Error(`${apiUrl}/health did not answer ${status} within ${timeoutMs} ms; last: ${answer.status} ${answer.body}\napi logs:\n${await apiLogs(20)}`);
        }
        await sleep(250);
      }
    };
    const redisKeyspace = async (): Promise<Keyspace | null> => {
      let client: RespClient;
      try {
        client = await connectRedis();
      } catch {
        return null;
      }
      try {
        return keyspaceOf(parseInfo(await client.info('keyspace')));
      } finally {
        client.close();
      }
    };

    // Up: Redis first answers, then is seeded; the api turns healthy once its database answers.
    const [seededCounts] = await Promise.all([seedRagDatabase(databaseName, { documents }), seedQdrant(qdrant), up()]);
    for (let attempt = 0; ; attempt++) {
      if ((await redisKeyspace()) !== null) break;
      if (attempt > 150) throw new Error(`the Redis of compose project ${projectName} does not answer on 127.0.0.1:${redisPortFinal}`);
      await sleep(200);
    }
    const redisClient = await connectRedis();
    try {
      for (const index of redisDbs) await fillKeys(redisClient, index, redisKeys[index]!, 'dr');
    } finally {
      redisClient.close();
    }
    await waitForHealth(200, 60_000);
    for (let attempt = 0; ; attempt++) {
      const containers = await containersOf(projectName, DR_API_SERVICE);
      if (containers.length === 1 && containers[0]!.health === 'healthy') break;
      if (attempt > 120) throw new Error(`the api container of ${projectName} is not healthy: ${JSON.stringify(containers)}`);
      await sleep(250);
    }
    const seeded: DrStackSeed = {
      database: seededCounts,
      qdrant: await qdrantState(qdrantClient),
      redis: (await redisKeyspace()) ?? {},
    };

    const target: ComposeTarget = { type: 'compose', directory: composeDir, files: ['docker-compose.yml'], projectName, flavor: composeFlavor, pull: 'never' };
    const redisDb = redisDbs[0]!;
    const qdrantUrl = qdrant.url;
    const drSection = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
      targets: { rtoMinutes: 30, rpoMinutes: 60 },
      writers: [DR_API_SERVICE],
      dependencies: [
        { type: 'tcp', name: 'postgres', host: PG.host, port: PG.port, timeoutSeconds: 5 },
        { type: 'tcp', name: 'redis', host: '127.0.0.1', port: redisPortFinal, timeoutSeconds: 5 },
        { type: 'http', name: 'qdrant', check: { url: `${qdrantUrl}/readyz`, timeoutSeconds: 10, intervalMs: 500 } },
      ],
      validation: { checks: [{ url: `${apiUrl}/health`, expectStatus: 200, bodyIncludes: 'ok', timeoutSeconds: 30, intervalMs: 500 }] },
      ...overrides,
    });

    const stack: DrStack = {
      compose: { flavor: composeFlavor, directory: composeDir, file: composeFile, projectName, target },
      api: { service: DR_API_SERVICE, image: apiImage, port: apiPort, url: apiUrl, healthUrl: `${apiUrl}/health`, versionUrl: `${apiUrl}/version` },
      db: { name: databaseName, url: db.url },
      qdrant,
      redis: { service: DR_REDIS_SERVICE, host: '127.0.0.1', port: redisPortFinal, db: redisDb, rdbPath: DR_REDIS_RDB_PATH, connect: connectRedis },
      storeDir: store,
      seeded,
      secrets: { pgPassword: secrets.pgPassword, ...(qdrantApiKey ? { qdrantApiKey } : {}) },
      secretEnv,
      drSection,
      stacks(opts: DrStacksOptions = {}) {
        const name = opts.stack ?? 'prod';
        const body: Record<string, unknown> = {
          postgres: [{ name: 'app', host: PG.host, port: PG.port, database: databaseName, user: PG.user, password: { env: envNames.pg } }],
          qdrant: { url: qdrantUrl, ...(qdrantApiKey ? { apiKey: { env: envNames.qdrant } } : {}), collections: ['*'] },
          redis: [
            {
              name: 'cache',
              host: '127.0.0.1',
              port: redisPortFinal,
              db: redisDb,
              rdb: { compose: { project: projectName, service: DR_REDIS_SERVICE, path: DR_REDIS_RDB_PATH } },
            },
          ],
          store: { type: 'fs', path: opts.storePath ?? store },
          deploy: {
            target,
            services: {
              [DR_API_SERVICE]: {
                health: [{ url: `${apiUrl}/health`, expectStatus: 200, timeoutSeconds: 30, intervalMs: 500 }],
                // No migration: docker-compose v1 cannot `run` a one-off container of a host-network
                // service while the service runs (it links the one-off to it: "host type networking
                // can't be used with links"), and deploy migrations are such one-offs.
                rolloutTimeoutSeconds: 60,
              },
            },
          },
          ...(opts.dr ? { dr: drSection(opts.dr === true ? {} : opts.dr) } : {}),
          ...opts.extra,
        };
        const file: DrStacksFile = { stacks: { [name]: body } };
        parseStacksFile(stringify(file), `dr-stack ${name}`);
        return file;
      },
      health,
      waitForHealth,
      async forceHealth500(on) {
        const flag = join(composeDir, 'control', 'force500');
        if (on) await writeFile(flag, 'forced by the test\n');
        else await rm(flag, { force: true });
      },
      dropDatabase: () => dropDatabaseIfExists(databaseName),
      createDatabase: () => adminQuery(`CREATE DATABASE ${pg.escapeIdentifier(databaseName)}`),
      up,
      apiContainers: () => containersOf(projectName, DR_API_SERVICE),
      apiLogs,
      async state() {
        const [database, qdrantNow, redis, containers, answer] = await Promise.all([
          databaseExists(databaseName).then((exists) => (exists ? exactCounts(databaseName) : null)),
          qdrantState(qdrantClient),
          redisKeyspace(),
          containersOf(projectName, DR_API_SERVICE),
          health(),
        ]);
        return { database, qdrant: qdrantNow, redis, api: { containers, health: answer } };
      },
      async destroy() {
        await dropDatabaseIfExists(databaseName);
        const before = await qdrantState(qdrantClient);
        const aliases = Object.keys(before.aliases);
        if (aliases.length > 0) {
          await qdrantClient.updateCollectionAliases({ actions: aliases.map((alias_name) => ({ delete_alias: { alias_name } })) });
        }
        const collections = Object.keys(before.collections);
        for (const collection of collections) await qdrantClient.deleteCollection(collection);
        const keyspace = (await redisKeyspace()) ?? {};
        const redisClient = await connectRedis();
        try {
          await redisClient.command(['FLUSHALL']);
        } finally {
          redisClient.close();
        }
        // Its RDB file too (a ragops backup's BGSAVE left one): only the store can bring the data back.
        const [redisContainer] = (await containersOf(projectName, DR_REDIS_SERVICE)).filter((c) => c.status === 'running');
        if (redisContainer) await execa('docker', ['exec', redisContainer.id, 'rm', '-f', DR_REDIS_RDB_PATH], { reject: false });
        const apiIds = (await containersOf(projectName, DR_API_SERVICE)).map((c) => c.id);
        if (apiIds.length > 0) {
          const removed = await execa('docker', ['rm', '-f', '-v', ...apiIds], { reject: false });
          if (removed.failed) throw new Error(`docker rm of the api containers failed: ${String(removed.stderr).slice(-1000)}`);
        }
        return {
          database: databaseName,
          collections,
          aliases,
          redisKeys: Object.values(keyspace).reduce((sum, figures) => sum + figures.keys, 0),
          apiContainers: apiIds,
        };
      },
      stop,
    };
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Several stacks files (e.g. a stack's and its drill stack's, from two DR stacks) as one,
 * validated; a stack name twice is refused.
 */
export function combineStacks(...files: DrStacksFile[]): DrStacksFile {
  const stacks: DrStacksFile['stacks'] = {};
  for (const file of files) {
    for (const [name, stack] of Object.entries(file.stacks)) {
      if (name in stacks) throw new Error(`combineStacks: stack ${name} twice`);
      stacks[name] = stack;
    }
  }
  const combined = { stacks };
  parseStacksFile(stringify(combined), 'dr-stack combined');
  return combined;
}

export { DR_API_IMAGES };
