// An application's own canary admin endpoint on loopback (the AI Docs CanaryRouter case):
// PUT/POST/PATCH /admin/canary with {"canary_weight": N} sets the share, GET answers
// {"canary": {"weight": N}}; both want the `x-admin-token` header. /admin/echo refuses every
// body with a 400 that repeats the token back (a careless service); /admin/busy answers 503.
// Every request is recorded (method, path, headers, body).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AdminRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface CanaryAdmin {
  url(path: string): string;
  /** The share the application routes to the canary now. */
  weight: number;
  requests: AdminRequest[];
  stop(): Promise<void>;
}

export async function startCanaryAdmin(token: string): Promise<CanaryAdmin> {
  const state = { weight: 0 };
  const requests: AdminRequest[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      requests.push({ method: request.method ?? '', path, headers: request.headers, body });
      const json = (status: number, value: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (path === '/admin/busy') return json(503, { error: 'rebuilding the router, try again' });
      if (path === '/admin/echo') return json(400, { error: `bad request from token ${String(request.headers['x-admin-token'])}` });
      if (path !== '/admin/canary') return json(404, { error: `no route ${path}` });
      if (request.headers['x-admin-token'] !== token) return json(401, { error: 'who are you?' });
      if (request.method === 'GET') return json(200, { canary: { weight: state.weight, collection: 'docs-v2' } });
      let parsed: { canary_weight?: unknown };
      try {
        parsed = JSON.parse(body) as { canary_weight?: unknown };
      } catch {
        return json(400, { error: 'not JSON' });
      }
      if (typeof parsed.canary_weight !== 'number' || parsed.canary_weight < 0 || parsed.canary_weight > 100) return json(422, { error: 'canary_weight: a number 0-100' });
      state.weight = parsed.canary_weight;
      return json(200, { ok: true, canary_weight: state.weight });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    get weight() {
      return state.weight;
    },
    set weight(value: number) {
      state.weight = value;
    },
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
