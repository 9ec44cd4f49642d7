// A redis-server of the test's own on a free loopback port (never the machine's 6379), with
// an optional password (requirepass, in a config file rather than on argv), and pipelined
// fixtures of several key types.
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RespClient, RespError, type RespReply } from '../../src/activities/redis/resp.js';
import { tempDir } from './ragops.js';
import { superviseServer, type ServerProcess } from './server-process.js';

export interface TestRedis {
  port: number;
  dir: string;
  rdbPath: string;
  pid: number;
  /** A connection with the server's password. */
  connect(): Promise<RespClient>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startRedis(options: { password?: string } = {}): Promise<TestRedis> {
  const dir = await tempDir('redis');
  const port = await freePort();
  const config = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir.path}`,
    'dbfilename dump.rdb',
    'save ""',
    'appendonly no',
    ...(options.password ? [`requirepass ${options.password}`] : []),
  ].join('\n');
  const configPath = join(dir.path, 'redis.conf');
  await writeFile(configPath, `${config}\n`, { mode: 0o600 });
  const child = execa('redis-server', [configPath], { reject: false, stdin: 'ignore' });
  const server: ServerProcess = superviseServer(child, dir.path);
  const connect = () => RespClient.connect({ label: `test redis :${port}`, host: '127.0.0.1', port, password: options.password }, { timeoutMs: 2_000 });
  for (let i = 0; ; i++) {
    if (server.exited()) throw new Error(`redis-server did not start: ${server.output()}`);
    try {
      const client = await connect();
      await client.command(['PING']);
      client.close();
      break;
    } catch (error) {
      if (i > 100) throw new Error(`redis-server on ${port} not ready: ${(error as Error).message}; ${server.output()}`);
      await delay(50);
    }
  }
  return { port, dir: dir.path, rdbPath: join(dir.path, 'dump.rdb'), pid: child.pid!, connect, stop: () => server.stop() };
}

/** Sends commands in batches of `batch`, failing on the first error reply. */
export async function pipelined(client: RespClient, commands: Array<Array<string | number>>, batch = 5_000): Promise<RespReply[]> {
  const replies: RespReply[] = [];
  for (let i = 0; i < commands.length; i += batch) {
    const part = await client.pipeline(commands.slice(i, i + batch));
    const failed = part.find((reply) => reply instanceof RespError);
    if (failed) throw failed as RespError;
    replies.push(...part);
  }
  return replies;
}

/**
 * `count` keys in database `db`, a fifth each of strings, hashes, lists, sets and sorted sets;
 * every tenth key expires in an hour. Returns how many expire.
 */
export async function fillKeys(client: RespClient, db: number, count: number, prefix = 'k'): Promise<{ keys: number; expires: number }> {
  const commands: Array<Array<string | number>> = [['SELECT', db]];
  let expires = 0;
  for (let i = 0; i < count; i++) {
    const key = `${prefix}:${db}:${i}`;
    switch (i % 5) {
      case 0:
        commands.push(['SET', key, `value ${i}`]);
        break;
      case 1:
        commands.push(['HSET', key, 'a', i, 'b', `b${i}`]);
        break;
      case 2:
        commands.push(['RPUSH', key, 'x', 'y', i]);
        break;
      case 3:
        commands.push(['SADD', key, 'm1', 'm2', i]);
        break;
      default:
        commands.push(['ZADD', key, 1, 'one', 2, `two${i}`]);
    }
    if (i % 10 === 0) {
      commands.push(['EXPIRE', key, 3_600]);
      expires++;
    }
  }
  await pipelined(client, commands);
  return { keys: count, expires };
}

/** INFO of a test server's own, by a raw command (the tests' oracle). */
export async function infoField(client: RespClient, section: string, field: string): Promise<string | undefined> {
  const text = await client.info(section);
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/** The command lines of this process' children right now (from /proc), for "no secret in argv" checks. */
export async function childCommandLines(): Promise<string[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const lines: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      lines.push((await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' '));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

