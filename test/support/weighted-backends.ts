// Two HTTP servers on loopback standing in for a service's stable and canary versions: each
// answers every request with its own name ("stable" / "canary") and counts what it served.
// `sendThrough` drives real traffic through a proxy in front of them, one new connection per
// request (so a keep-alive connection pinned to one server cannot skew the split), and says
// who answered; `canaryPercent` turns that into the canary's share.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Version = 'stable' | 'canary';

export interface WeightedBackends {
  /** host:port of each server: what HAProxy's `server` line and Caddy's `dial` take. */
  stable: string;
  canary: string;
  /** Requests each one answered since the start (or the last reset). */
  served: Record<Version, number>;
  reset(): void;
  stop(): Promise<void>;
}

async function listen(name: Version, served: Record<Version, number>): Promise<Server> {
  const server = createServer((request, response) => {
    served[name] += 1;
    request.resume();
    response.writeHead(200, { 'content-type': 'text/plain', 'x-version': name }).end(name);
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export async function startWeightedBackends(): Promise<WeightedBackends> {
  const served: Record<Version, number> = { stable: 0, canary: 0 };
  const stable = await listen('stable', served);
  const canary = await listen('canary', served);
  const address = (server: Server) => `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    stable: address(stable),
    canary: address(canary),
    served,
    reset() {
      served.stable = 0;
      served.canary = 0;
    },
    stop: async () => {
      await Promise.all([close(stable), close(canary)]);
    },
  };
}

export interface Tally {
  stable: number;
  canary: number;
  /** Answers that were neither (a proxy's own 502/503 page, a connection error). */
  other: string[];
}

/** One GET on a connection of its own; the answer's body, or the status and body when not 200. */
function getOnce(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 ? body : `HTTP ${response.statusCode}: ${body.slice(0, 80)}`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve(`error: ${error.message}`));
    req.end();
  });
}

/** `count` requests through `url`, `concurrency` at a time; bounded in count and time. */
export async function sendThrough(url: string, count: number, { concurrency = 4, timeoutMs = 5_000 } = {}): Promise<Tally> {
  const tally: Tally = { stable: 0, canary: 0, other: [] };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const answer = await getOnce(url, timeoutMs);
      if (answer === 'stable' || answer === 'canary') tally[answer] += 1;
      else tally.other.push(answer);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return tally;
}

/** The canary's share of the answers that came from either version, in percent. */
export function canaryPercent(tally: Tally): number {
  const answered = tally.stable + tally.canary;
  return answered === 0 ? NaN : (tally.canary / answered) * 100;
}
