// A real HAProxy (Debian's), started by the test on free loopback ports: a frontend that
// proxies to one backend of two servers (stable, canary; `balance roundrobin`, no health
// checks) and the runtime API on a stats socket with `level admin` — TCP on loopback or a
// unix socket in the test's temp dir. stop() ends it and removes its files.
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { superviseServer } from './server-process.js';
import { findFreePort } from '../../src/client/dev/devserver.js';

export interface HaproxyOptions {
  stable: string;
  canary: string;
  backend?: string;
  stableServer?: string;
  canaryServer?: string;
  /** Where the runtime API listens: TCP on loopback (default) or a unix socket in a temp dir. */
  socket?: 'tcp' | 'unix';
  /** The servers' weights in haproxy.cfg (default stable 100, canary 0). */
  initial?: { stable: number; canary: number };
  /** The level of the stats socket (default admin). */
  level?: 'admin' | 'operator' | 'user';
}

export interface TestHaproxy {
  /** The frontend, for traffic: http://127.0.0.1:<port>/ */
  url: string;
  /** The shifter's `socket`: tcp://127.0.0.1:<port> or the unix socket's path. */
  socket: string;
  backend: string;
  stableServer: string;
  canaryServer: string;
  config: string;
  stop(): Promise<void>;
}

export function haproxyBinary(): string {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy']) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('haproxy is not installed (Debian: apt-get install haproxy; scripts/setup.sh does it)');
}

export function haproxyConfig(o: Required<Omit<HaproxyOptions, 'socket'>> & { frontendPort: number; statsSocket: string }): string {
  return [
    'global',
    `  stats socket ${o.statsSocket} level ${o.level}`,
    '  stats timeout 10s',
    '  maxconn 256',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 10s',
    '  timeout server 10s',
    'frontend canary_test',
    `  bind 127.0.0.1:${o.frontendPort}`,
    `  default_backend ${o.backend}`,
    `backend ${o.backend}`,
    '  balance roundrobin',
    `  server ${o.stableServer} ${o.stable} weight ${o.initial.stable}`,
    `  server ${o.canaryServer} ${o.canary} weight ${o.initial.canary}`,
    '',
  ].join('\n');
}

function answers(socket: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = connect(socket as never);
    let answer = '';
    connection.setEncoding('utf8');
    connection.on('connect', () => connection.write('show info\n'));
    connection.on('data', (chunk: string) => (answer += chunk));
    connection.on('close', () => resolve(answer.includes('Name: HAProxy')));
    connection.on('error', () => resolve(false));
    connection.setTimeout(1_000, () => connection.destroy());
  });
}

export async function startHaproxy(options: HaproxyOptions): Promise<TestHaproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'ragops-haproxy-'));
  const frontendPort = await findFreePort();
  const statsPort = await findFreePort();
  const unixPath = join(dir, 'admin.sock');
  const useUnix = options.socket === 'unix';
  const settings = {
    stable: options.stable,
    canary: options.canary,
    backend: options.backend ?? 'app',
    stableServer: options.stableServer ?? 'stable',
    canaryServer: options.canaryServer ?? 'canary',
    initial: options.initial ?? { stable: 100, canary: 0 },
    level: options.level ?? 'admin',
  };
  const config = join(dir, 'haproxy.cfg');
  await writeFile(config, haproxyConfig({ ...settings, frontendPort, statsSocket: useUnix ? `${unixPath} mode 600` : `ipv4@127.0.0.1:${statsPort}` }));

  // -db: stay in the foreground, log to stderr; no pid file, no daemon.
  const child: ResultPromise = execa(haproxyBinary(), ['-f', config, '-db'], { stdin: 'ignore', buffer: false, reject: false, cleanup: true });
  const server = superviseServer(child, dir);
  const stop = server.stop;

  const socketAddress = useUnix ? { path: unixPath } : { host: '127.0.0.1', port: statsPort };
  const deadline = Date.now() + 10_000;
  while (!(await answers(socketAddress))) {
    if (server.exited() || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start (${server.exited() ? 'it exited' : 'no answer on its stats socket in 10 s'}):\n${server.output()}`);
    }
    await sleep(50);
  }
  return {
    url: `http://127.0.0.1:${frontendPort}/`,
    socket: useUnix ? unixPath : `tcp://127.0.0.1:${statsPort}`,
    backend: settings.backend,
    stableServer: settings.stableServer,
    canaryServer: settings.canaryServer,
    config,
    stop,
  };
}
