// A server process a test started (HAProxy, Caddy...): the tail of its output for error
// messages, whether it has exited, and a stop that ends it (SIGTERM, then SIGKILL after 5 s)
// and removes its working directory.
import type { ResultPromise } from 'execa';
import { rm } from 'node:fs/promises';

export interface ServerProcess {
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export function superviseServer(child: ResultPromise, dir: string): ServerProcess {
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  let exited = false;
  const exit = child.then(() => {
    exited = true;
  });
  return {
    output: () => output,
    exited: () => exited,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exit;
        clearTimeout(killTimer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
