// The raw tools ragops is compared with: `pg_dump -Fc` to /dev/null, and the seed guides'
// shell script `pg_dump -Fc --compress=9 <db> | gzip > file`.
import { closeSync, openSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectionArgs, timeCommand } from './pgCommands.js';

export interface RawDumpResult {
  ms: number;
  /** Bytes written, when the output went to a file. */
  bytes?: number;
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
