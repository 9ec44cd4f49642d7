import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { StoreConfig } from '../../config/stacks/index.js';
import { CommandFailed, streamCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { HashingMeter } from '../store/hashing.js';
import { withArtifactStore } from '../store/open.js';
import type { RedisArtifact, RedisDeps } from './backup.js';
import { scratchServerCommand } from './commands.js';
import { compareKeyspace, highestDb, keyspaceOf, numberField, parseInfo } from './info.js';
import { RespClient } from './resp.js';
import { drillChecksOf, type DrillCheck } from '../runtime/drillCheck.js';

/** As VerificationCheck (config/manifest.ts), with component 'redis' (proposed addition to its enum). */
export type RedisDrillCheck = DrillCheck<'redis'>;

export interface DrillRedisRequest {
  artifact: RedisArtifact;
  store: StoreConfig;
}

const LOG_TAIL_CHARS = 2_000;
/** Log lines of a load that refused the file itself (not the server's setup): the backup is bad. */
const CORRUPT_RDB = /Wrong signature|Bad file format|Short read|RDB CRC error|Unexpected EOF|Wrong RDB checksum|Internal error in RDB reading/i;
const STARTUP_MS = 30_000;

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

type Started = { client: RespClient; loadMs: number } | { exited: string };

/** Starts the scratch server and waits, polling INFO persistence, until it has loaded the RDB. */
async function startScratch(
  dir: string,
  dbfilename: string,
  databases: number,
  deps: RedisDeps,
  signal: AbortSignal,
): Promise<{ started: Started; stop: () => Promise<void>; logTail: () => string }> {
  const port = await freeLoopbackPort();
  const killer = new AbortController();
  const both = AbortSignal.any([signal, killer.signal]);
  const child = streamCommand(scratchServerCommand({ dir, dbfilename, port, databases, binary: deps.redisServer }), { signal: both });
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-LOG_TAIL_CHARS * 2)));
  let exitedWith: string | undefined;
  const exited = child.finished.then(
    () => (exitedWith = 'exited with code 0'),
    (error: unknown) => (exitedWith = error instanceof CommandFailed ? `${error.reason}${error.stderrTail ? `: ${error.stderrTail}` : ''}` : String(error)),
  );
  const logTail = () => log.trim().slice(-LOG_TAIL_CHARS);
  let client: RespClient | undefined;
  const stop = async () => {
    if (exitedWith === undefined) {
      // SHUTDOWN NOSAVE: the connection closes without a reply.
      if (client && !client.closed) await client.command(['SHUTDOWN', 'NOSAVE']).catch(() => undefined);
      const stopped = await Promise.race([exited.then(() => true), delay(5_000, false)]);
      if (!stopped) killer.abort();
      await exited;
    }
    client?.close();
  };
  const started = Date.now();
  const endpoint = { label: `scratch redis-server (127.0.0.1:${port})`, host: '127.0.0.1', port };
  while (Date.now() - started < STARTUP_MS) {
    if (exitedWith !== undefined) return { started: { exited: exitedWith }, stop, logTail };
    try {
      client ??= await RespClient.connect(endpoint, { signal, timeoutMs: 2_000 });
      const fields = parseInfo(await client.info('persistence'));
      if (numberField(fields, 'loading') === 0) return { started: { client, loadMs: Date.now() - started }, stop, logTail };
    } catch (error) {
      if (signal.aborted) throw error;
      client?.close();
      client = undefined;
    }
    await delay(100, undefined, { signal });
  }
  // Still loading after STARTUP_MS: keep polling while it loads (heartbeats go on), up to the activity's timeout.
  for (;;) {
    if (exitedWith !== undefined) return { started: { exited: exitedWith }, stop, logTail };
    if (client) {
      const fields = parseInfo(await client.info('persistence').catch(() => ''));
      if (numberField(fields, 'loading') === 0) return { started: { client, loadMs: Date.now() - started }, stop, logTail };
    } else {
      return { started: { exited: `no connection to 127.0.0.1:${port} within ${STARTUP_MS / 1000} s` }, stop, logTail };
    }
    await delay(500, undefined, { signal });
  }
}

export function createRedisDrillActivities(deps: RedisDeps = {}) {
  return {
    /**
     * Restore drill of one RDB: download it (checking sha256 on the way), load it into a
     * scratch redis-server on a free loopback port, compare keys per database exactly with
     * the manifest, stop the server and remove its directory whatever happens.
     */
    async drillRedis({ artifact, store: storeConfig }: DrillRedisRequest): Promise<RedisDrillCheck[]> {
      const progress = new ProgressHeartbeat(`redis drill ${artifact.name}`);
      const signal = progress.signal;
      const check = drillChecksOf('redis', artifact.name);
      const dir = await mkdtemp(join(deps.scratchDir ?? tmpdir(), 'ragops-redis-drill-'));
      try {
        return await progress.during(
          (async () => {
            const checks: RedisDrillCheck[] = [];
            const dbfilename = 'dump.rdb';
            const downloadStarted = Date.now();
            progress.phase('downloading');
            const meter = new HashingMeter(progress.bytes);
            await withArtifactStore(storeConfig, async (store) => {
              const body = await store.get(artifact.key, { signal });
              await pipeline(body, meter, createWriteStream(join(dir, dbfilename)), { signal });
            });
            const sha256 = meter.hash.digest('hex');
            const intact = sha256 === artifact.sha256 && meter.bytes === artifact.size;
            checks.push(
              check(
                'rdb checksum',
                intact ? 'passed' : 'failed',
                intact
                  ? `${meter.bytes} bytes of ${artifact.key}, sha256 matches the manifest`
                  : `${artifact.key}: ${meter.bytes} bytes with sha256 ${sha256}, the manifest says ${artifact.size} bytes with sha256 ${artifact.sha256}; the artifact is damaged`,
                { bytes: meter.bytes, sha256 },
                downloadStarted,
              ),
            );
            if (!intact) return checks;

            const loadStarted = Date.now();
            progress.phase('loading into a scratch redis-server');
            const databases = Math.max(16, highestDb(artifact.keyspace) + 1);
            let scratch = await startScratch(dir, dbfilename, databases, deps, signal);
            // The free port was taken between our probe and the server's bind: another port, twice at most.
            for (let retry = 0; retry < 2 && 'exited' in scratch.started && /Address already in use/i.test(scratch.logTail()); retry++) {
              await scratch.stop();
              scratch = await startScratch(dir, dbfilename, databases, deps, signal);
            }
            try {
              if ('exited' in scratch.started) {
                const tail = scratch.logTail();
                const corrupt = CORRUPT_RDB.test(tail);
                checks.push(
                  check(
                    'rdb load',
                    corrupt ? 'failed' : 'inconclusive',
                    `${corrupt ? 'the RDB does not load' : 'the scratch redis-server did not start'} (${scratch.started.exited})${tail ? `; its log ends: ${tail}` : ''}`,
                    {},
                    loadStarted,
                  ),
                );
                return checks;
              }
              const fields = parseInfo(await scratch.started.client.info());
              const restored = keyspaceOf(fields);
              const comparison = compareKeyspace(artifact.keyspace, restored);
              checks.push(
                check(
                  'redis keyspace',
                  comparison.passed ? 'passed' : 'failed',
                  `${comparison.detail} (redis-server ${fields.get('redis_version') ?? '?'}, loaded in ${scratch.started.loadMs} ms)`,
                  { perDb: comparison.perDb, loadMs: scratch.started.loadMs, keysLoaded: numberField(fields, 'rdb_last_load_keys_loaded') },
                  loadStarted,
                ),
              );
              return checks;
            } finally {
              progress.phase('stopping the scratch redis-server');
              await scratch.stop();
            }
          })(),
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
