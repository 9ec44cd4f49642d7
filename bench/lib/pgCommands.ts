// PostgreSQL client tools run the way an operator runs them: no shell, libpq arguments for
// the machine's server (127.0.0.1:5432, trust auth), timed from spawn to exit.
import { spawn, type StdioOptions } from 'node:child_process';
import { PG } from '../../test/support/postgres.js';

export const connectionArgs = [`--host=${PG.host}`, `--port=${PG.port}`, `--username=${PG.user}`, '--no-password'];

/** Runs a command to completion and returns its wall time; fails with its stderr on a non-zero exit or any stderr output. */
export function timeCommand(argv: string[], stdio: StdioOptions = ['ignore', 'ignore', 'pipe']): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0 && stderr.trim() === '') resolve(ms);
      else reject(new Error(`${argv.join(' ')} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}
