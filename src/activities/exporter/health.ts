import { createServer, type Server } from 'node:http';
import { z } from 'zod';

// The worker's health endpoint for a container orchestrator: GET /healthz answers 200 while the
// worker polls its task queue (state RUNNING) and 503 in every other state, so a probe restarts a
// worker that failed or stopped. Off unless RAGOPS_HEALTH_ADDRESS (host:port) is set.

export const listenAddressSchema = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'a listen address is host:port, e.g. 0.0.0.0:8080 or [::]:8080')
  .transform((text) => {
    const colon = text.lastIndexOf(':');
    const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    return { host: host || '0.0.0.0', port: Number(text.slice(colon + 1)) };
  })
  .refine((address) => address.port <= 65_535, 'the port is at most 65535');

export interface WorkerHealth {
  taskQueue: string;
  /** The SDK's worker state: INITIALIZED, RUNNING, DRAINING, DRAINED, STOPPING, STOPPED or FAILED. */
  workerState: string;
}

/** The answer to GET /healthz. */
export function healthAnswer(health: WorkerHealth): { status: number; body: { status: 'ok' | 'unavailable' } & WorkerHealth } {
  const ok = health.workerState === 'RUNNING';
  return { status: ok ? 200 : 503, body: { status: ok ? 'ok' : 'unavailable', ...health } };
}

export interface HealthServer {
  /** host:port it listens on (the port the system chose when given 0). */
  address: string;
  close(): Promise<void>;
}

export async function startHealthServer(listen: string, read: () => WorkerHealth): Promise<HealthServer> {
  const { host, port } = listenAddressSchema.parse(listen);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/healthz') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the health endpoint is /healthz\n');
      return;
    }
    const answer = healthAnswer(read());
    response.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(answer.body) + '\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address = typeof bound === 'object' && bound ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : listen;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
