// Launches a real Temporal CLI dev server (`temporal server start-dev`) on loopback ports,
// with ragops' search attributes registered (or others, or none). Used by `ragops dev` and by the tests.
import { accessSync, constants, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Connection } from '@temporalio/client';
import { RAGOPS_SEARCH_ATTRIBUTES } from '../../core/searchAttributes.js';
import { cliTypeName } from '../api/searchAttributes.js';

/** The dev server's names of ragops' attributes and their types, e.g. RagopsStack=Keyword. */
export const DEV_SEARCH_ATTRIBUTES: Record<string, string> = Object.fromEntries(
  RAGOPS_SEARCH_ATTRIBUTES.map((key) => [key.name, cliTypeName(key.type)]),
);

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export interface DevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number;
  /** The `temporal` executable serving it (findTemporalCli). */
  cli: string;
  /** Sends a signal to the server process (e.g. SIGKILL, to test a crash) and waits for its exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** Persist state in this SQLite file; in memory when absent. */
  dbFilename?: string;
  port?: number;
  uiPort?: number;
  headless?: boolean;
  namespace?: string;
  /** Append the server's stdout and stderr to this file. */
  logFile?: string;
  /** Search attributes to register at start, name → CLI type; default ragops' (DEV_SEARCH_ATTRIBUTES), `{}` for none. */
  searchAttributes?: Record<string, string>;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** TEMPORAL_CLI, else the project's .venv/bin/temporal, else `temporal` on PATH. */
export function findTemporalCli(): string {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const candidates = [
    join(PROJECT_ROOT, '.venv', 'bin', 'temporal'),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'temporal')),
  ];
  const found = candidates.find(isExecutable);
  if (!found) {
    throw new Error(
      'Temporal CLI not found (looked at TEMPORAL_CLI, .venv/bin/temporal and PATH); run `bash scripts/setup.sh` to install it',
    );
  }
  return found;
}

/** Asks the OS for a loopback port that is free now. */
function portFromOs(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (bound ? resolve(bound) : reject(new Error('could not read the free port'))));
    });
  });
}

/** `20000-24999` → its bounds; undefined when unset or malformed. */
export function portRange(text: string | undefined): { first: number; last: number } | undefined {
  const match = /^(\d+)-(\d+)$/.exec(text?.trim() ?? '');
  if (!match) return undefined;
  const first = Number(match[1]);
  const last = Number(match[2]);
  return first >= 1024 && last <= 65535 && first <= last ? { first, last } : undefined;
}

let nextInRange: number | undefined;

/**
 * A loopback port that was free a moment ago: the OS picks it, unless RAGOPS_PORT_RANGE
 * (`20000-24999`) is set; then ports are taken in turn from that range, each checked free.
 * The test runner gives each of its lanes a range of its own, below the OS's ephemeral ports,
 * so two lanes starting servers at once never pick the same port — one would otherwise find
 * the other's server answering on it.
 */
export async function findFreePort(): Promise<number> {
  const range = portRange(process.env.RAGOPS_PORT_RANGE);
  if (!range) return portFromOs();
  const span = range.last - range.first + 1;
  // Each process of a lane starts at its own place, away from the ports its predecessors used.
  nextInRange ??= range.first + (process.pid % span);
  for (let tried = 0; tried < span; tried++) {
    const port = range.first + ((nextInRange - range.first + tried) % span);
    const free = await portFromOs(port).then(
      () => true,
      () => false,
    );
    if (free) {
      nextInRange = port === range.last ? range.first : port + 1;
      return port;
    }
  }
  throw new Error(`no free loopback port in RAGOPS_PORT_RANGE ${process.env.RAGOPS_PORT_RANGE}`);
}

export function devServerArgs(opts: Required<Pick<DevServerOptions, 'port' | 'namespace'>> & DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port)];
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort), '--ui-disable-news-fetch');
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  args.push('--namespace', opts.namespace, '--log-level', 'warn');
  for (const [name, type] of Object.entries(opts.searchAttributes ?? DEV_SEARCH_ATTRIBUTES)) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  return args;
}

export async function startTemporalDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cli = findTemporalCli();
  const namespace = opts.namespace ?? 'default';
  const port = opts.port ?? (await findFreePort());
  const headless = opts.headless ?? false;
  const uiPort = headless ? undefined : (opts.uiPort ?? (await findFreePort()));
  const args = devServerArgs({ ...opts, namespace, port, uiPort, headless });

  const server = execa(cli, args, {
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cleanup: true, // kill the server if this Node process exits without calling stop()
  });
  // Keep the output's tail for error messages; the full output goes to logFile when given.
  let outputTail = '';
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  for (const stream of [server.stdout, server.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      outputTail = (outputTail + chunk.toString()).slice(-4000);
      log?.write(chunk);
    });
  }
  let exited = false;
  const exit = server.then((result) => {
    exited = true;
    log?.end();
    return result;
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    server.kill('SIGTERM');
    const killTimer = setTimeout(() => server.kill('SIGKILL'), STOP_GRACE_MS);
    await exit;
    clearTimeout(killTimer);
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (exited) return;
    server.kill(signal);
    await exit;
  };

  const address = `127.0.0.1:${port}`;
  try {
    await waitUntilReady(address, namespace, Object.keys(opts.searchAttributes ?? DEV_SEARCH_ATTRIBUTES), () => exited);
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Temporal dev server (${cli} ${args.join(' ')}) did not start: ${reason}\n${outputTail}`);
  }
  if (server.pid === undefined) throw new Error('Temporal dev server has no pid');
  return {
    address,
    namespace,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    pid: server.pid,
    cli,
    kill,
    stop,
  };
}

/** Waits until the frontend answers and every search attribute asked for is registered. */
async function waitUntilReady(address: string, namespace: string, attributes: string[], hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error('the server process exited');
    try {
      const connection = await Connection.connect({ address, connectTimeout: '2s' });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = attributes.filter((name) => !customAttributes?.[name]);
        if (missing.length === 0) return;
        lastError = `search attributes not visible yet: ${missing.join(', ')}`;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(250);
  }
  throw new Error(`not ready after ${START_TIMEOUT_MS / 1000} s (${lastError})`);
}

