// A loopback HTTP server standing in for the services a deploy checks: each path answers
// 200 "ok" unless the test set another status for it, and every request is logged.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CheckServer {
  url(path: string): string;
  /** The status `path` answers from now on (200 when never set). */
  answer(path: string, status: number): void;
  requests: Array<{ path: string; headers: IncomingHttpHeaders }>;
  stop(): Promise<void>;
}

export async function startCheckServer(): Promise<CheckServer> {
  const statuses = new Map<string, number>();
  const requests: CheckServer['requests'] = [];
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    requests.push({ path, headers: request.headers });
    const status = statuses.get(path) ?? 200;
    response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : `answering ${status} for ${path}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    answer: (path, status) => statuses.set(path, status),
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
