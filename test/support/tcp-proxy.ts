// A loopback TCP forwarder that can be cut off: while cut, connections are refused and open
// ones are reset, as when a network path or a server goes away. With `bytesPerSecond`, it is
// also a slow link: each direction carries at most that many bytes a second, over all connections.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TcpProxy {
  port: number;
  url: string;
  cutOff(): Promise<void>;
  restore(): Promise<void>;
  stop(): Promise<void>;
}

/** One direction's budget, shared by every connection: each slice waits for its turn on the wire. */
class Link {
  private freeAt = 0;
  constructor(private readonly bytesPerSecond: number) {}

  private async send(bytes: number): Promise<void> {
    const now = Date.now();
    this.freeAt = Math.max(this.freeAt, now) + (bytes / this.bytesPerSecond) * 1000;
    if (this.freeAt > now) await sleep(this.freeAt - now);
  }

  throttle(): Transform {
    const slice = Math.max(1024, Math.floor(this.bytesPerSecond / 20));
    const link = this;
    return new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        void (async () => {
          for (let at = 0; at < chunk.length; at += slice) {
            const part = chunk.subarray(at, at + slice);
            await link.send(part.length);
            this.push(part);
          }
        })().then(() => callback(), callback);
      },
    });
  }
}

export async function startTcpProxy(target: { host: string; port: number }, options: { bytesPerSecond?: number } = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const links = options.bytesPerSecond ? { up: new Link(options.bytesPerSecond), down: new Link(options.bytesPerSecond) } : undefined;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = createServer((client) => {
        const upstream = createConnection(target);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        if (links) {
          client.pipe(links.up.throttle()).pipe(upstream);
          upstream.pipe(links.down.throttle()).pipe(client);
        } else {
          client.pipe(upstream).pipe(client);
        }
      });
      next.on('error', reject);
      next.listen(port, '127.0.0.1', () => {
        const address = next.address();
        port = typeof address === 'object' && address ? address.port : port;
        server = next;
        resolve();
      });
    });

  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });

  await listen();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cutOff: close,
    restore: listen,
    stop: close,
  };
}
