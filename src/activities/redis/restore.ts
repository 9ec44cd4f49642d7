import { ApplicationFailure } from '@temporalio/activity';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { NewRedisInput } from '../../config/inputs.js';
import type { RedisArtifact } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import type { RedisRdbSource, RedisTarget } from '../../config/stacks/redis.js';
import { runCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { probeTcp } from '../runtime/tcp.js';
import { HashingMeter } from '../store/hashing.js';
import { withArtifactStore } from '../store/open.js';
import { endpointFor, type RedisDeps } from './backup.js';
import {
  composeContainerCommand,
  dockerContainerStateCommand,
  dockerCopyIntoCommand,
  dockerLogsTailCommand,
  dockerStartCommand,
  dockerStopCommand,
  newRedisServerCommand,
} from './commands.js';
import { highestDb, keyspaceOf, numberField, parseInfo, type DbFigures, type Keyspace } from './info.js';
import { RespClient, RespError, type RedisEndpoint } from './resp.js';

type RestoredArtifact = Pick<RedisArtifact, 'name' | 'key' | 'size' | 'sha256' | 'keyspace' | 'savedAt'>;

export interface RestoreRedisOverRequest {
  artifact: RestoredArtifact;
  store: StoreConfig;
  /** The stack's Redis, whose RDB source is a container (compose or docker). */
  target: RedisTarget;
}

export interface RestoreRedisIntoRequest {
  artifact: RestoredArtifact;
  store: StoreConfig;
  into: NewRedisInput;
  /** Marks the directory as this run's, so a retry takes up its own half-done work. */
  runTag: string;
}

export interface RedisRestoreResult {
  label: string;
  /** "container 3f2a… (Compose service redis, project rag)" or "new redis-server on 127.0.0.1:7000". */
  restoredInto: string;
  keys: number;
  /** Keys with a TTL in the backup that had expired by the time the RDB was loaded. */
  expiredSinceBackup: number;
  perDb: Record<string, { expected: DbFigures; restored: DbFigures }>;
  detail: string;
  /** A new redis-server: it keeps running; stop it with `redis-cli -p <port> shutdown`. */
  server?: { bind: string; port: number; dir: string; pid: number; pidFile: string; logFile: string };
}

const refused = (message: string) => ApplicationFailure.nonRetryable(`restore refused, nothing was touched: ${message}`, 'RedisRestoreRefused');
const DOCKER_STOP_GRACE_SECONDS = 30;
const DOCKER_TIMEOUT_MS = 120_000;
/** How long a server may go without answering PING or LOADING after its start. */
const NO_ANSWER_MS = 60_000;
const INTO_MARKER = '.ragops-restore';
const PID_FILE_MS = 10_000;

export interface RestoredKeyspace {
  passed: boolean;
  detail: string;
  keys: number;
  expired: number;
  perDb: RedisRestoreResult['perDb'];
}

/**
 * Per database, the loaded keyspace against the manifest's. A live Redis expires keys whose
 * TTL passed since the backup (at load, and after), so a database may hold fewer keys, by at
 * most its expiring ones, and then exactly as many fewer expiring keys.
 */
export function compareRestoredKeyspace(expected: Keyspace, restored: Keyspace, savedAt: string): RestoredKeyspace {
  const none: DbFigures = { keys: 0, expires: 0 };
  const dbs = [...new Set([...Object.keys(expected), ...Object.keys(restored)])].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  const perDb: RestoredKeyspace['perDb'] = {};
  const differences: string[] = [];
  let expired = 0;
  for (const db of dbs) {
    const e = expected[db] ?? none;
    const r = restored[db] ?? none;
    perDb[db] = { expected: e, restored: r };
    const missing = e.keys - r.keys;
    if (missing < 0 || missing > e.expires || e.expires - r.expires !== missing) {
      differences.push(`${db}: ${r.keys} keys (${r.expires} expiring) loaded, the manifest says ${e.keys} (${e.expires})`);
    } else expired += missing;
  }
  const keys = Object.values(restored).reduce((sum, figures) => sum + figures.keys, 0);
  if (differences.length > 0) return { passed: false, detail: `keyspace differs from the manifest: ${differences.join('; ')}`, keys, expired, perDb };
  const expiry = expired > 0 ? `; ${expired} key(s) with a TTL expired since the backup (${savedAt}) and are gone, as expected` : '';
  return { passed: true, detail: `${keys} keys in ${dbs.length} database(s), each database as the manifest says${expiry}`, keys, expired, perDb };
}

/** Downloads the artifact to `file`, hashing it on the way; a mismatch removes the file and refuses. */
async function downloadChecked(artifact: RestoredArtifact, storeConfig: StoreConfig, file: string, onBytes: (bytes: number) => void, signal: AbortSignal): Promise<void> {
  const meter = new HashingMeter(onBytes);
  await withArtifactStore(storeConfig, async (store) => {
    const body = await store.get(artifact.key, { signal });
    // 0644: `docker cp` makes root the owner, and the Redis in the container may run as another user.
    await pipeline(body, meter, createWriteStream(file, { mode: 0o644 }), { signal });
  });
  const sha256 = meter.hash.digest('hex');
  if (sha256 !== artifact.sha256 || meter.bytes !== artifact.size) {
    await rm(file, { force: true });
    throw ApplicationFailure.nonRetryable(
      `restore refused, nothing was touched: ${artifact.key} has ${meter.bytes} bytes with sha256 ${sha256}, the manifest says ${artifact.size} bytes with sha256 ${artifact.sha256}; the artifact is damaged`,
      'ChecksumMismatch',
    );
  }
}

/**
 * Waits until the server answers PING (a LOADING reply means it is still loading the RDB,
 * for as long as it takes), then returns its connection. `gone` says why the server is no
 * longer running, if it is not.
 */
async function waitUntilServing(endpoint: RedisEndpoint, signal: AbortSignal, gone: () => Promise<string | undefined>): Promise<RespClient> {
  let lastLoading = Date.now();
  let lastError = 'no answer yet';
  for (let attempt = 0; ; attempt++) {
    let client: RespClient | undefined;
    try {
      client = await RespClient.connect(endpoint, { signal, timeoutMs: 2_000 });
      const [pong, persistence] = await client.pipeline([['PING'], ['INFO', 'persistence']]);
      if (pong === 'PONG' && typeof persistence === 'string' && numberField(parseInfo(persistence), 'loading') === 0) return client;
      if (pong === 'PONG' || (pong instanceof RespError && /^LOADING/.test(pong.message))) lastLoading = Date.now();
      else lastError = `PING answered ${pong instanceof RespError ? pong.message : String(pong)}`;
      client.close();
    } catch (error) {
      client?.close();
      if (signal.aborted) throw error;
      if ((error as { nonRetryable?: boolean }).nonRetryable) throw error;
      lastError = (error as Error).message;
    }
    if (attempt % 4 === 3) {
      const why = await gone();
      if (why) throw new Error(`${endpoint.label} is not running: ${why}`);
    }
    if (Date.now() - lastLoading > NO_ANSWER_MS) throw new Error(`${endpoint.label} did not answer within ${NO_ANSWER_MS / 1000} s of its start (${lastError})`);
    await delay(500, undefined, { signal });
  }
}

const serverFields = async (client: RespClient) => parseInfo(await client.info('server', 'persistence', 'keyspace'));

// --- over a running Redis in a container -----------------------------------------------------

interface Container {
  id: string;
  running: boolean;
  /** "container 3f2a1b… (Compose service redis, project rag)". */
  description: string;
}

type ContainerRdbSource = Extract<RedisRdbSource, { compose: unknown } | { docker: unknown }>;

async function inspectContainer(name: string, description: string, signal: AbortSignal): Promise<Container | undefined> {
  const inspected = await runCommand(dockerContainerStateCommand(name), { signal, timeoutMs: 30_000 }).catch((error: Error) => {
    if (/No such (container|object)/i.test(error.message)) return undefined;
    throw error;
  });
  if (!inspected) return undefined;
  const [id, running] = inspected.stdout.trim().split(' ');
  return { id: id!, running: running === 'true', description: `container ${id!.slice(0, 12)} (${description})` };
}

/** The container to restore into: the one an earlier attempt stopped, else the stacks file's, running. */
async function findContainer(rdb: ContainerRdbSource, stoppedEarlier: string | undefined, signal: AbortSignal): Promise<Container> {
  const named = 'compose' in rdb ? `Compose service ${rdb.compose.service}, project ${rdb.compose.project}` : rdb.docker.container;
  if (stoppedEarlier) {
    const container = await inspectContainer(stoppedEarlier, named, signal);
    if (container) return container;
  }
  if ('docker' in rdb) {
    const container = await inspectContainer(rdb.docker.container, named, signal);
    if (!container) throw refused(`there is no container ${rdb.docker.container} (rdb.docker.container); is the stack up?`);
    return container;
  }
  const { project, service } = rdb.compose;
  const { stdout } = await runCommand(composeContainerCommand(project, service), { signal, timeoutMs: 30_000 });
  const ids = stdout.split(/\s+/).filter(Boolean);
  if (ids.length === 0) throw refused(`no running container of Compose service ${service} (project ${project}); is the stack up?`);
  if (ids.length > 1) throw refused(`Compose service ${service} (project ${project}) runs ${ids.length} containers; a restore goes over one Redis`);
  return (await inspectContainer(ids[0]!, named, signal))!;
}

/** Refuses unless the Redis at the endpoint will load the RDB at `rdbPath` when it starts; returns its run_id. */
async function checkLoadsRdb(endpoint: RedisEndpoint, label: string, rdbPath: string, signal: AbortSignal): Promise<string | undefined> {
  const client = await RespClient.connect(endpoint, { signal });
  try {
    const [appendonly, dir, dbfilename] = await client.pipeline([['CONFIG', 'GET', 'appendonly'], ['CONFIG', 'GET', 'dir'], ['CONFIG', 'GET', 'dbfilename']]);
    const value = (reply: unknown, name: string) => {
      if (reply instanceof RespError) throw refused(`${endpoint.label}: CONFIG GET ${name} failed (${reply.message}); ragops needs it (ACL +config|get) to check that Redis will load the restored RDB`);
      return Array.isArray(reply) ? String(reply[1]) : '';
    };
    if (value(appendonly, 'appendonly') === 'yes') {
      throw refused(
        `${endpoint.label} has appendonly yes: at its start it would load its AOF, not the restored RDB; turn AOF off in its configuration first, or restore into a new redis-server with redis.${label}.into`,
      );
    }
    const saves = posix.join(value(dir, 'dir'), value(dbfilename, 'dbfilename'));
    if (saves !== rdbPath) {
      throw refused(`${endpoint.label} loads its RDB from ${saves} (CONFIG GET dir + dbfilename), but the stacks file says rdb path ${rdbPath}; correct rdb.path`);
    }
    return (await serverFields(client)).get('run_id');
  } finally {
    client.close();
  }
}

// --- into a new redis-server ----------------------------------------------------------------

/** Whether something accepts connections at address:port; an address this host cannot use is refused. */
async function answers(host: string, port: number): Promise<boolean> {
  const probe = await probeTcp(host, port, 2_000);
  if (probe.state !== 'unreachable') return probe.state === 'answers';
  throw refused(
    probe.detail.startsWith('neither')
      ? `${host}:${port} ${probe.detail}; choose a port on an address of this host`
      : `cannot check ${host}:${port} (${probe.detail}); bind must be an address of the worker's host`,
  );
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-8).join(' | ');
}

function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createRedisRestoreActivities(deps: RedisDeps = {}) {
  return {
    /**
     * Restores an RDB over the stack's running Redis in its container, as the runbook says:
     * checks that Redis will load the RDB (no AOF, the configured path) and that the download
     * matches the manifest; then docker stop, docker cp, docker start, waits for PING and
     * compares the keyspace. After the stop, any failure starts the container again and says
     * what it holds.
     */
    async restoreRedisOverContainer({ artifact, store: storeConfig, target }: RestoreRedisOverRequest): Promise<RedisRestoreResult> {
      const rdb = target.rdb;
      if (!('compose' in rdb || 'docker' in rdb)) throw refused(`Redis ${target.name} does not run in a container (rdb.compose or rdb.docker); restore into a new redis-server with into`);
      const rdbPath = 'compose' in rdb ? rdb.compose.path : rdb.docker.path;
      const progress = new ProgressHeartbeat(`redis restore ${target.name}`);
      const signal = progress.signal;
      const endpoint = await endpointFor(target);
      const work = await mkdtemp(join(deps.scratchDir ?? tmpdir(), 'ragops-redis-restore-'));
      try {
        return await progress.during(
          (async () => {
            progress.phase('finding the container');
            const stoppedEarlier = progress.previousDetails<{ stoppedContainer?: string }>()?.stoppedContainer;
            const container = await findContainer(rdb, stoppedEarlier, signal);
            // An attempt that died after its stop left the container stopped: its checks were made.
            const resuming = container.id === stoppedEarlier && !container.running;
            if (!container.running && !resuming) throw refused(`${container.description} is not running; start it, or restore into a new redis-server with into`);
            let runIdBefore: string | undefined;
            if (!resuming) {
              progress.phase('checking the running Redis');
              runIdBefore = await checkLoadsRdb(endpoint, target.name, rdbPath, signal);
            }
            // Every beat from the stop on names the container, so a retry after a dead worker starts it again.
            const stopped = { stoppedContainer: container.id };
            let carried = resuming ? stopped : {};
            const file = join(work, 'dump.rdb');
            const download = () => downloadChecked(artifact, storeConfig, file, (bytes) => progress.beat({ ...carried, bytes }), signal);
            if (!resuming) {
              progress.phase('downloading');
              await download();
            }
            carried = stopped;
            progress.beat(stopped, true);
            let stage = resuming ? 'downloading' : 'stopping the container';
            let client: RespClient;
            try {
              progress.phase(stage);
              if (resuming) await download();
              else await runCommand(dockerStopCommand(container.id, DOCKER_STOP_GRACE_SECONDS), { signal, timeoutMs: DOCKER_TIMEOUT_MS });
              stage = 'copying the RDB into the container';
              progress.phase(stage);
              await runCommand(dockerCopyIntoCommand(file, container.id, rdbPath), { signal });
              stage = 'starting the container';
              progress.phase(stage);
              await runCommand(dockerStartCommand(container.id), { signal, timeoutMs: DOCKER_TIMEOUT_MS });
              stage = 'waiting for Redis to load the RDB';
              progress.phase(stage);
              client = await waitUntilServing(endpoint, signal, async () => {
                const now = await inspectContainer(container.id, '', signal).catch(() => undefined);
                if (now?.running !== false) return undefined;
                const logs = await runCommand(dockerLogsTailCommand(container.id, 5), { signal, timeoutMs: 30_000 }).then(
                  ({ stdout, stderr }) => `${stdout}\n${stderr}`.trim().split('\n').join(' | '),
                  () => '',
                );
                return `${container.description} exited${logs ? `; its log ends: ${logs}` : ''}`;
              });
            } catch (error) {
              const holds =
                stage === 'stopping the container'
                  ? 'its own RDB (the restore stopped before the copy)'
                  : stage === 'downloading'
                    ? `the RDB at ${rdbPath} when an earlier attempt stopped it (or that attempt's partial copy)`
                    : stage === 'copying the RDB into the container'
                    ? `the RDB that was at ${rdbPath} before (what Redis saved at its stop, or its last save) or a partial copy`
                    : `the backup's RDB at ${rdbPath}`;
              // Not on the activity's signal: after a cancellation the container must still come back.
              const restarted = await runCommand(dockerStartCommand(container.id), { timeoutMs: DOCKER_TIMEOUT_MS }).then(
                () => `${container.description} was started again and loads ${holds}`,
                (startError: Error) => `${container.description} could NOT be started again (${startError.message}); it is stopped, holding ${holds}: start it by hand (docker start ${container.id.slice(0, 12)})`,
              );
              throw ApplicationFailure.create({
                message: `restore of Redis ${target.name} failed while ${stage}: ${(error as Error).message}; ${restarted}`,
                type: 'RedisRestoreFailed',
                nonRetryable: true,
                cause: error as Error,
              });
            }
            try {
              progress.phase('comparing the keyspace');
              const fields = await serverFields(client);
              const running = `${container.description} runs with the backup's RDB`;
              if (runIdBefore !== undefined && fields.get('run_id') === runIdBefore) {
                throw ApplicationFailure.nonRetryable(
                  `${running}, but ${endpoint.label} kept its run_id across the restart: it is not the Redis in this container; check host/port against rdb in the stacks file`,
                  'RedisRestoreFailed',
                );
              }
              const compared = compareRestoredKeyspace(artifact.keyspace, keyspaceOf(fields), artifact.savedAt);
              if (!compared.passed) throw ApplicationFailure.nonRetryable(`${running}, but its ${compared.detail} (clients writing since its start count too)`, 'RedisRestoreFailed');
              return {
                label: target.name,
                restoredInto: container.description,
                keys: compared.keys,
                expiredSinceBackup: compared.expired,
                perDb: compared.perDb,
                detail: compared.detail,
              };
            } finally {
              client.close();
            }
          })(),
        );
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },

    /**
     * Restores an RDB into a new redis-server the operator asked for: `dir` must be empty or
     * new and the port free; the RDB is written there (checked against the manifest), the
     * server started daemonized, and the keyspace compared. It keeps running.
     */
    async restoreRedisIntoNewServer({ artifact, store: storeConfig, into, runTag }: RestoreRedisIntoRequest): Promise<RedisRestoreResult> {
      const progress = new ProgressHeartbeat(`redis restore ${artifact.name} into ${into.bind}:${into.port}`);
      const signal = progress.signal;
      const host = into.bind === '0.0.0.0' ? '127.0.0.1' : into.bind === '::' ? '::1' : into.bind;
      const endpoint: RedisEndpoint = { label: `new redis-server on ${into.bind}:${into.port}`, host, port: into.port };
      const files = { rdb: join(into.dir, 'dump.rdb'), pid: join(into.dir, 'redis.pid'), log: join(into.dir, 'redis.log'), marker: join(into.dir, INTO_MARKER) };
      return progress.during(
        (async () => {
          progress.phase('checking the directory and the port');
          const entries: string[] = await readdir(into.dir).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return [];
            throw refused(`cannot read dir ${into.dir} (${error.code ?? error.message})`);
          });
          // A directory an earlier attempt of this run filled: its work is taken up, not refused.
          const ours = entries.includes(INTO_MARKER) && (await readFile(files.marker, 'utf8').catch(() => '')).trim() === runTag;
          if (entries.length > 0 && !ours) throw refused(`dir ${into.dir} is not empty (${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', …' : ''}); give a new or empty directory`);
          let serving = false;
          if (await answers(host, into.port)) {
            const client = ours ? await RespClient.connect(endpoint, { signal }).catch(() => undefined) : undefined;
            const dir = client ? await client.command(['CONFIG', 'GET', 'dir']).catch(() => undefined) : undefined;
            client?.close();
            serving = Array.isArray(dir) && dir[1] === (await realpath(into.dir));
            if (!serving) throw refused(`something answers on ${into.bind}:${into.port}; choose a free port`);
          }
          if (!serving) {
            if (ours) await Promise.all(entries.map((entry) => rm(join(into.dir, entry), { recursive: true, force: true })));
            await mkdir(into.dir, { recursive: true });
            await writeFile(files.marker, `${runTag}\n`);
            progress.phase('downloading');
            try {
              await downloadChecked(artifact, storeConfig, files.rdb, progress.bytes, signal);
            } catch (error) {
              await Promise.all([rm(files.rdb, { force: true }), rm(files.marker, { force: true })]);
              throw error;
            }
            progress.phase('starting redis-server');
            const databases = Math.max(16, highestDb(artifact.keyspace) + 1);
            await runCommand(newRedisServerCommand({ port: into.port, bind: into.bind, dir: into.dir, databases, binary: deps.redisServer }), { signal, timeoutMs: 30_000 }).catch(
              async (error: Error) => {
                throw ApplicationFailure.nonRetryable(`${endpoint.label} did not start: ${error.message}; its log ends: ${await logTail(files.log)}`, 'RedisRestoreFailed');
              },
            );
          }
          progress.phase('waiting for redis-server to load the RDB');
          const waitingSince = Date.now();
          const client = await waitUntilServing(endpoint, signal, async () => {
            const pid = Number((await readFile(files.pid, 'utf8').catch(() => '')).trim());
            // It writes its pid file once it listens: a server that could not bind never does.
            if (!(pid > 0)) return Date.now() - waitingSince > PID_FILE_MS ? `redis-server wrote no pid file (${files.pid}) within ${PID_FILE_MS / 1000} s` : undefined;
            return processRunning(pid) ? undefined : `redis-server (pid ${pid}) exited`;
          }).catch(async (error: Error) => {
            throw ApplicationFailure.nonRetryable(`${error.message}; its log ends: ${await logTail(files.log)}`, 'RedisRestoreFailed');
          });
          try {
            progress.phase('comparing the keyspace');
            const fields = await serverFields(client);
            const pid = numberField(fields, 'process_id') ?? Number((await readFile(files.pid, 'utf8')).trim());
            const compared = compareRestoredKeyspace(artifact.keyspace, keyspaceOf(fields), artifact.savedAt);
            if (!compared.passed) {
              throw ApplicationFailure.nonRetryable(
                `${endpoint.label} loaded the backup's RDB, but its ${compared.detail}; it keeps running for a look (pid ${pid}, ${files.pid}): stop it with redis-cli -p ${into.port} shutdown nosave`,
                'RedisRestoreFailed',
              );
            }
            return {
              label: artifact.name,
              restoredInto: endpoint.label,
              keys: compared.keys,
              expiredSinceBackup: compared.expired,
              perDb: compared.perDb,
              detail: compared.detail,
              server: { bind: into.bind, port: into.port, dir: into.dir, pid, pidFile: files.pid, logFile: files.log },
            };
          } finally {
            client.close();
          }
        })(),
      );
    },
  };
}
