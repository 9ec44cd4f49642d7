import { ApplicationFailure } from '@temporalio/activity';
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { StoreConfig } from '../../config/stacks/index.js';
import type { RedisTarget } from '../../config/stacks/redis.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import { runCommand, streamCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { putHashed } from '../store/hashing.js';
import { withArtifactStore } from '../store/open.js';
import { composeContainerCommand, dockerCatCommand, kubectlCatCommand } from './commands.js';
import { keyspaceOf, numberField, parseInfo, requireNumber, type Keyspace } from './info.js';
import { RespClient, RespError, type RedisEndpoint } from './resp.js';

/** What the manifest records of one Redis backup (proposed `redisArtifactSchema`). */
export interface RedisArtifact {
  component: 'redis';
  name: string;
  key: string;
  size: number;
  sha256: string;
  /** Keys and expiring keys per database at the fork of the BGSAVE that wrote this RDB. */
  keyspace: Keyspace;
  /** The server's clock at the fork (the RDB's point in time). */
  savedAt: string;
  redisVersion: string;
  /** "REDIS0010" → 10. */
  rdbVersion: number;
  /** Where the bytes were read: "host path /data/dump.rdb", "container …", "pod …". */
  source: string;
  durationMs: number;
}

export interface BackupRedisRequest {
  target: RedisTarget;
  store: StoreConfig;
  key: string;
}

export interface RedisDeps {
  /** redis-server for drills; PATH when unset. */
  redisServer?: string;
  /** Where drills put the RDB they load; the OS temp directory when unset. */
  scratchDir?: string;
  /** How often the save's progress is polled (INFO persistence). */
  pollMs?: number;
}

export async function endpointFor(target: RedisTarget): Promise<RedisEndpoint> {
  return {
    label: `Redis ${target.name} (${target.host}${target.host.startsWith('/') ? '' : `:${target.port}`})`,
    host: target.host,
    port: target.port,
    tls: target.tls,
    tlsCa: target.tlsCa,
    username: target.username,
    password: await resolveOptionalSecret(target.password),
  };
}

const BUSY = /in progress|child process is active|rewriting/i;
const FORK_ATTEMPTS = 5;

interface Fork {
  keyspace: Keyspace;
  savedAt: string;
  serverSecond: number;
  /** rdb_saves right after our fork (Redis 7+; it counts forks), to tell our save from a later one. */
  savesAfterFork: number | undefined;
  redisVersion: string;
}

const total = (fields: Map<string, string>, name: string) => numberField(fields, name) ?? Number.NaN;

/** Polls INFO persistence until no child is saving or rewriting (a save someone else started). */
async function waitIdle(client: RespClient, pollMs: number, signal: AbortSignal): Promise<void> {
  for (;;) {
    const fields = parseInfo(await client.info('persistence'));
    if (numberField(fields, 'rdb_bgsave_in_progress') !== 1 && numberField(fields, 'aof_rewrite_in_progress') !== 1 && numberField(fields, 'module_fork_in_progress') !== 1) return;
    await delay(pollMs, undefined, { signal });
  }
}

/**
 * BGSAVE with INFO around it in one write: Redis runs one client's pipelined commands back to
 * back, so when total_commands_processed moved by exactly 2 (INFO, BGSAVE) and nothing expired
 * or was evicted in between, the keyspace INFO reports is the one the fork saw. A save already
 * running is waited out, then ours is started.
 */
async function forkSave(client: RespClient, where: string, pollMs: number, signal: AbortSignal): Promise<Fork> {
  for (let attempt = 1; ; attempt++) {
    const [time, before, bgsave, after] = await client.pipeline([['TIME'], ['INFO', 'stats'], ['BGSAVE'], ['INFO']]);
    for (const reply of [time, before, after]) {
      if (reply instanceof RespError) {
        throw ApplicationFailure.nonRetryable(`${where}: ${reply.message}; the user needs INFO, TIME and BGSAVE (e.g. ACL +info +time +bgsave)`, 'RedisCommandRefused');
      }
    }
    if (bgsave instanceof RespError) {
      if (!BUSY.test(bgsave.message)) {
        throw ApplicationFailure.nonRetryable(`${where}: BGSAVE refused (${bgsave.message}); the user needs BGSAVE and INFO (ACL +bgsave +info), and BGSAVE must not be renamed`, 'RedisCommandRefused');
      }
      await waitIdle(client, pollMs, signal);
      continue;
    }
    const a = parseInfo(before as string);
    const b = parseInfo(after as string);
    const atomic =
      total(b, 'total_commands_processed') - total(a, 'total_commands_processed') === 2 &&
      total(b, 'expired_keys') === total(a, 'expired_keys') &&
      total(b, 'evicted_keys') === total(a, 'evicted_keys');
    if (!atomic) {
      // Another client's command ran between the fork and INFO: let this save end, fork again.
      await waitIdle(client, pollMs, signal);
      if (attempt >= FORK_ATTEMPTS) {
        throw new Error(`${where}: in ${FORK_ATTEMPTS} attempts, INFO keyspace could not be read together with the BGSAVE fork (other commands ran in between); retrying later`);
      }
      continue;
    }
    const [seconds, micros] = (time as string[]).map(Number) as [number, number];
    return {
      keyspace: keyspaceOf(b),
      savedAt: new Date(seconds * 1000 + Math.floor(micros / 1000)).toISOString(),
      serverSecond: seconds,
      savesAfterFork: numberField(b, 'rdb_saves'),
      redisVersion: b.get('redis_version') ?? 'unknown',
    };
  }
}

/**
 * Waits, polling INFO persistence, until our save ended: no save in progress, the last one ok,
 * LASTSAVE at or after the request, and (Redis 7+) no save forked after ours.
 */
async function waitForSave(client: RespClient, fork: Fork, where: string, pollMs: number, signal: AbortSignal): Promise<void> {
  for (;;) {
    const fields = parseInfo(await client.info('persistence'));
    if (requireNumber(fields, 'rdb_bgsave_in_progress', where) === 0) {
      const saves = numberField(fields, 'rdb_saves');
      if (fork.savesAfterFork !== undefined && saves !== undefined && saves !== fork.savesAfterFork) {
        throw new Error(`${where}: another RDB save started after ours (rdb_saves ${fork.savesAfterFork} → ${saves}), so the file on disk may not be ours; retrying`);
      }
      if (fields.get('rdb_last_bgsave_status') !== 'ok') {
        throw new Error(`${where}: BGSAVE failed on the server (rdb_last_bgsave_status:${fields.get('rdb_last_bgsave_status')}); see the Redis log (disk full or no write permission on its dir?)`);
      }
      const lastSave = requireNumber(fields, 'rdb_last_save_time', where);
      if (lastSave < fork.serverSecond) {
        throw new Error(`${where}: the save ended but LASTSAVE (${lastSave}) is older than the request (${fork.serverSecond}); retrying`);
      }
      return;
    }
    await delay(pollMs, undefined, { signal });
  }
}

/** Checks the RDB's magic ("REDIS" + 4 digits) as the bytes pass, and reads its version. */
class RdbHeader extends Transform {
  private head = Buffer.alloc(0);
  version: number | undefined;

  /** `sourceFinished`: a producer that failed (a `docker exec` of a missing container) says why, not "empty file". */
  constructor(
    private readonly where: string,
    private readonly sourceFinished: Promise<unknown>,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    if (this.version === undefined) {
      this.head = Buffer.concat([this.head, chunk]).subarray(0, 9);
      if (this.head.length >= 9) {
        const text = this.head.toString('latin1');
        if (!/^REDIS\d{4}$/.test(text)) {
          return callback(ApplicationFailure.nonRetryable(`${this.where} is not an RDB file (it starts with ${JSON.stringify(text)}); point rdb at Redis' dir/dbfilename`, 'NotAnRdbFile'));
        }
        this.version = Number(text.slice(5));
      }
    }
    callback(null, chunk);
  }

  override _flush(callback: (error?: Error | null) => void): void {
    this.sourceFinished.then(
      () => callback(this.version === undefined ? ApplicationFailure.nonRetryable(`${this.where} is empty or shorter than an RDB header`, 'NotAnRdbFile') : null),
      (error: Error) => callback(error),
    );
  }
}

/** The RDB file's bytes from wherever the stacks file says, and a promise of the reader's success. */
async function openRdb(target: RedisTarget, signal: AbortSignal): Promise<{ stream: Readable; finished: Promise<void>; source: string }> {
  const rdb = target.rdb;
  if ('path' in rdb) {
    const stream = createReadStream(rdb.path, { signal });
    const finished = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', (error) => reject(new Error(`cannot read the RDB file ${rdb.path} on the worker's host: ${error.message}`)));
    });
    finished.catch(() => undefined);
    return { stream, finished, source: `host path ${rdb.path}` };
  }
  let spec;
  let source: string;
  if ('compose' in rdb) {
    const { project, service, path } = rdb.compose;
    const { stdout } = await runCommand(composeContainerCommand(project, service), { signal, timeoutMs: 30_000 });
    const ids = stdout.split(/\s+/).filter(Boolean);
    if (ids.length === 0) throw new Error(`no running container of Compose service ${service} (project ${project}); is the stack up?`);
    spec = dockerCatCommand(ids[0]!, path, `Compose service ${service} (project ${project})`);
    source = `Compose service ${service} (project ${project}) ${path}`;
  } else if ('docker' in rdb) {
    spec = dockerCatCommand(rdb.docker.container, rdb.docker.path);
    source = `container ${rdb.docker.container} ${rdb.docker.path}`;
  } else {
    const k = rdb.kubernetes;
    spec = kubectlCatCommand(k);
    source = `${k.pod ? `pod ${k.pod}` : `deployment/${k.deployment}`}${k.container ? ` container ${k.container}` : ''} (namespace ${k.namespace}) ${k.path}`;
  }
  const child = streamCommand(spec, { signal });
  return { stream: child.stdout, finished: child.finished, source };
}

export function createRedisBackupActivities(deps: RedisDeps = {}) {
  const pollMs = deps.pollMs ?? 100;
  return {
    /**
     * One RDB of a Redis: BGSAVE (one already running is waited out), INFO keyspace taken with
     * the fork, a wait on INFO persistence until the save is written, then the file streamed
     * through SHA-256 into the store under `key`. A retry starts over under the same key.
     */
    async backupRedis({ target, store: storeConfig, key }: BackupRedisRequest): Promise<RedisArtifact> {
      const progress = new ProgressHeartbeat(`redis backup ${target.name}`);
      const signal = progress.signal;
      const endpoint = await endpointFor(target);
      return progress.during(
        (async () => {
          const client = await RespClient.connect(endpoint, { signal });
          try {
            progress.phase('saving');
            const fork = await forkSave(client, endpoint.label, pollMs, signal);
            await waitForSave(client, fork, endpoint.label, pollMs, signal);
            progress.phase('uploading');
            const stored = await withArtifactStore(storeConfig, async (store) => {
              await store.discardUnfinished(key);
              const rdb = await openRdb(target, signal);
              const header = new RdbHeader(`the RDB read from ${rdb.source}`, rdb.finished);
              rdb.stream.on('error', (error) => header.destroy(error));
              const piped = rdb.stream.pipe(header);
              const headerDone = new Promise<void>((resolve, reject) => {
                header.once('end', resolve);
                header.once('error', reject);
              });
              headerDone.catch(() => undefined);
              const sourceSucceeded = Promise.all([rdb.finished, headerDone]);
              // putHashed may fail on the stream's own error first and never await this one.
              sourceSucceeded.catch(() => undefined);
              const result = await putHashed(store, key, piped, {
                signal,
                onProgress: progress.bytes,
                sourceSucceeded,
                contentType: 'application/octet-stream',
              });
              // The file read must be our save's: no save may have forked since.
              const fields = parseInfo(await client.info('persistence'));
              const saves = numberField(fields, 'rdb_saves');
              if (fork.savesAfterFork !== undefined && saves !== fork.savesAfterFork) {
                await store.delete(key).catch(() => undefined);
                throw new Error(`${endpoint.label}: another RDB save started while the file was read (rdb_saves ${fork.savesAfterFork} → ${saves}); retrying`);
              }
              return { ...result, rdbVersion: header.version!, source: rdb.source };
            });
            return {
              component: 'redis' as const,
              name: target.name,
              key,
              size: stored.size,
              sha256: stored.sha256,
              keyspace: fork.keyspace,
              savedAt: fork.savedAt,
              redisVersion: fork.redisVersion,
              rdbVersion: stored.rdbVersion,
              source: stored.source,
              durationMs: progress.elapsedMs(),
            };
          } finally {
            client.close();
          }
        })(),
      );
    },
  };
}
