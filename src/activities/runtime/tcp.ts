import { connect } from 'node:net';

export type TcpProbe = { state: 'answers' } | { state: 'refused' } | { state: 'unreachable'; detail: string };

/** One TCP connection attempt: accepted, refused (nothing listens), or neither within `timeoutMs` / another error. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<TcpProbe> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: TcpProbe) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ state: 'unreachable', detail: `neither answered nor refused within ${timeoutMs / 1000} s` }));
    socket.once('connect', () => done({ state: 'answers' }));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? { state: 'refused' } : { state: 'unreachable', detail: error.code ?? error.message }));
  });
}
