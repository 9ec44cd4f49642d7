import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkAccess } from './auth.js';
import { ACCEPTED, QdrantError, RawReply, type RequestContext } from './protocol.js';
import { matchRoute, type Standin } from './routes.js';

/** Starts the HTTP server on 127.0.0.1 and a free port. */
export async function listen(standin: Standin): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handle(standin, req, res).catch((error: unknown) => {
      // Only a broken connection gets here (the handler answers every error it can).
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function handle(standin: Standin, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  standin.faults.requests.push({ method, path: url.pathname });
  const body = await readBody(req);
  if (standin.faults.delayMs > 0) await sleep(standin.faults.delayMs);
  // Like Qdrant's actix-web handlers, whose futures are dropped when the client goes away: a
  // request abandoned while it waited has no effect.
  if (req.socket.destroyed) return;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;

  try {
    const injected = standin.faults.take(method, url.pathname + url.search);
    if (injected) throw injected;
    const denied = checkAccess(standin.keys, method, url.pathname, req.headers);
    if (denied) throw denied;
    const matched = matchRoute(method, url.pathname);
    if (matched === undefined) throw new QdrantError(404, `No route for ${method} ${url.pathname}`, {}, true);
    if (matched === 'wrong-method') throw new QdrantError(405, `Method ${method} not allowed on ${url.pathname}`, {}, true);
    const ctx: RequestContext = {
      method,
      path: url.pathname,
      params: matched.params,
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    const result = await matched.route.handler(ctx, standin);
    if (result instanceof RawReply) return await sendRaw(res, result);
    if (result === ACCEPTED) return sendJson(res, 202, { status: 'accepted', time: elapsed() });
    sendJson(res, 200, { result, status: 'ok', time: elapsed() });
  } catch (error) {
    if (!(error instanceof QdrantError)) {
      sendJson(res, 500, { status: { error: `Service internal error: ${(error as Error).message}` }, time: elapsed() });
      return;
    }
    if (error.plainText) {
      res.writeHead(error.status, { ...error.headers, 'content-type': 'text/plain; charset=utf-8' }).end(error.message);
      return;
    }
    // Qdrant answers body-format errors before its timer starts, so their time is 0.
    const time = error.message.startsWith('Format error in JSON body') ? 0 : elapsed();
    sendJson(res, error.status, { status: { error: error.message }, time }, error.headers);
  }
}

function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(payload));
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': data.length }).end(data);
}

/** Sends a RawReply; with `cutAfterBytes` the socket is destroyed once that much body is out. */
async function sendRaw(res: ServerResponse, reply: RawReply): Promise<void> {
  res.writeHead(reply.status, reply.headers);
  const cut = reply.cutAfterBytes;
  const source = typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? [Buffer.from(reply.body)] : reply.body;
  let sent = 0;
  for await (const chunk of source as AsyncIterable<Buffer> | Iterable<Buffer>) {
    if (cut !== undefined && sent + chunk.length >= cut) {
      res.write(chunk.subarray(0, cut - sent), () => res.destroy());
      if (!Array.isArray(source)) (source as { destroy?: () => void }).destroy?.();
      return;
    }
    sent += chunk.length;
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    if (res.destroyed) {
      (source as { destroy?: () => void }).destroy?.();
      return;
    }
  }
  res.end();
}
