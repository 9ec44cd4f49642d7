// The raw tools ragops is compared with: `pg_dump -Fc` to /dev/null, and the seed guides'
// shell script `pg_dump -Fc --compress=9 <db> | gzip > file`.
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PG } from '../../test/support/postgres.js';

export interface RawDumpResult {
  ms: number;
  /** Bytes written, when the output went to a file. */
  bytes?: number;
}

const connectionArgs = [`--host=${PG.host}`, `--port=${PG.port}`, `--username=${PG.user}`, '--no-password'];

/** Runs a command to completion and returns its wall time; fails with its stderr on a non-zero exit. */
function timeCommand(argv: string[], stdio: StdioOptions): Promise<number> {
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

/** `pg_dump -Fc <db> > /dev/null`: stdout is /dev/null's file descriptor, no shell, no pipe. */
export async function pgDumpToDevNull(database: string): Promise<RawDumpResult> {
  const devNull = openSync('/dev/null', 'w');
  try {
    return { ms: await timeCommand(['pg_dump', '-Fc', ...connectionArgs, `--dbname=${database}`], ['ignore', devNull, 'pipe']) };
  } finally {
    closeSync(devNull);
  }
}

/** The guides' script, run by `sh` as they run it (dash has no pipefail, so stderr must stay empty). */
export async function guideScriptToFile(database: string, dir: string): Promise<RawDumpResult> {
  const file = join(dir, `${database}.dump.gz`);
  const script = `pg_dump -Fc --compress=9 ${connectionArgs.join(' ')} --dbname="$1" | gzip > "$2"`;
  try {
    const ms = await timeCommand(['sh', '-c', script, 'sh', database, file], ['ignore', 'ignore', 'pipe']);
    return { ms, bytes: statSync(file).size };
  } finally {
    await rm(file, { force: true });
  }
}
