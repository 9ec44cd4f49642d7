import { ApplicationFailure } from '@temporalio/activity';
import { readFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * A small RESP2 client over one socket: enough for INFO, BGSAVE, TIME and SHUTDOWN, and for
 * pipelined writes in tests. No dependency, and the password goes over the socket (AUTH),
 * never into an argv or an environment a child could show.
 */
export type RespReply = string | number | null | RespError | RespReply[];

export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespError';
  }
}

export interface RedisEndpoint {
  /** Label for messages: "redis cache (127.0.0.1:6379)". */
  label: string;
  host: string;
  port: number;
  tls?: boolean;
  tlsCa?: string;
  username?: string;
  password?: string;
}

type Parsed = { value: RespReply; end: number } | undefined;

/** One reply starting at `start`, or undefined when `buffer` does not hold all of it yet. */
export function parseReply(buffer: Buffer, start: number): Parsed {
  const lineEnd = buffer.indexOf('\r\n', start, 'latin1');
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[start]!);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`not a RESP reply (type byte ${JSON.stringify(type)})`);
  }
}

export function encodeCommand(args: ReadonlyArray<string | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const isAuthError = (message: string) => /^(WRONGPASS|NOAUTH|NOPERM)|invalid (username-)?password|without any password configured/i.test(message);

export class RespClient {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Array<{ resolve: (reply: RespReply) => void; reject: (error: Error) => void }> = [];
  private closedWith: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly label: string,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Connects, then AUTH when a password is given. Connection errors stay retryable; a refused AUTH does not. */
  static async connect(endpoint: RedisEndpoint, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<RespClient> {
    const where = `cannot connect to ${endpoint.label}`;
    const ca = endpoint.tlsCa
      ? await readFile(endpoint.tlsCa).catch((error: NodeJS.ErrnoException) => {
          throw ApplicationFailure.nonRetryable(`${where}: the CA file ${endpoint.tlsCa} (tlsCa) cannot be read (${error.code ?? error.message}); mount it on the worker`, 'ConfigError');
        })
      : undefined;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const target = endpoint.host.startsWith('/') ? { path: endpoint.host } : { host: endpoint.host, port: endpoint.port };
      const ready = endpoint.tls ? 'secureConnect' : 'connect';
      const s: Socket = endpoint.tls
        ? tlsConnect({ ...target, ...(endpoint.host.startsWith('/') ? {} : { servername: endpoint.host }), ...(ca ? { ca } : {}) })
        : netConnect(target);
      const timer = setTimeout(() => s.destroy(new Error(`no connection within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
      const onAbort = () => s.destroy(new Error('cancelled'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      s.once(ready, () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(s);
      });
      s.once('error', (error) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        reject(new Error(`${where}: ${error.message}`));
      });
    });
    socket.setNoDelay(true);
    const client = new RespClient(socket, endpoint.label);
    if (options.signal) {
      const onAbort = () => client.fail(new Error('cancelled'));
      options.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('close', () => options.signal?.removeEventListener('abort', onAbort));
    }
    if (endpoint.password !== undefined) {
      const auth = endpoint.username ? ['AUTH', endpoint.username, endpoint.password] : ['AUTH', endpoint.password];
      const [reply] = await client.pipeline([auth]);
      if (reply instanceof RespError) {
        client.close();
        const who = endpoint.username ? `as ${endpoint.username}` : 'with the password';
        if (isAuthError(reply.message)) {
          throw ApplicationFailure.nonRetryable(`${where}: AUTH ${who} was refused (${reply.message}); check the username and the password reference in the stacks file`, 'AuthenticationFailed');
        }
        throw new Error(`${where}: AUTH ${who} failed (${reply.message})`);
      }
    }
    return client;
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let at = 0;
    try {
      for (;;) {
        if (at >= this.buffer.length) break;
        const parsed = parseReply(this.buffer, at);
        if (!parsed) break;
        at = parsed.end;
        const waiter = this.pending.shift();
        if (!waiter) throw new Error('a reply nobody asked for');
        waiter.resolve(parsed.value);
      }
    } catch (error) {
      this.socket.destroy(error as Error);
      return;
    }
    this.buffer = at >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(at);
  }

  private fail(error: Error): void {
    this.closedWith ??= error;
    if (!this.socket.destroyed) this.socket.destroy();
    for (const waiter of this.pending.splice(0)) waiter.reject(new Error(`${this.label}: ${error.message}`));
  }

  /**
   * Sends the commands in one write and returns their replies in order, error replies as
   * RespError values. Redis runs a client's commands from one read back to back.
   */
  pipeline(commands: ReadonlyArray<ReadonlyArray<string | number>>): Promise<RespReply[]> {
    if (this.closedWith) return Promise.reject(new Error(`${this.label}: ${this.closedWith.message}`));
    const replies = commands.map(
      () => new Promise<RespReply>((resolve, reject) => this.pending.push({ resolve, reject })),
    );
    this.socket.write(Buffer.concat(commands.map(encodeCommand)));
    return Promise.all(replies);
  }

  /** One command; an error reply is thrown, naming the command's verb (never its arguments). */
  async command(args: ReadonlyArray<string | number>): Promise<RespReply> {
    const [reply] = await this.pipeline([args]);
    if (reply instanceof RespError) throw new RespError(`${this.label}: ${String(args[0]).toUpperCase()} failed: ${reply.message}`);
    return reply!;
  }

  async info(...sections: string[]): Promise<string> {
    const reply = await this.command(['INFO', ...sections]);
    if (typeof reply !== 'string') throw new Error(`${this.label}: INFO did not answer with text`);
    return reply;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  close(): void {
    this.fail(new Error('connection closed by ragops'));
  }
}
