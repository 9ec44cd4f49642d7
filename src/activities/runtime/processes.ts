import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// Processes a killed worker left behind (its children outlive it): found by their argv in
// /proc, so a retried activity can wait for them or stop them instead of racing them.

export interface ProcessEntry {
  pid: number;
  argv: string[];
}

/** Processes on this host whose argv satisfies `matches` (Linux /proc; elsewhere none are found). */
export async function findProcesses(matches: (argv: string[]) => boolean): Promise<ProcessEntry[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const found: ProcessEntry[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const raw = await readFile(`/proc/${entry}/cmdline`).catch(() => undefined);
    if (!raw || raw.length === 0) continue;
    const argv = raw.toString('utf8').split('\0').filter((arg, index, all) => arg !== '' || index < all.length - 1);
    if (matches(argv)) found.push({ pid: Number(entry), argv });
  }
  return found;
}

/** Whether `pid` runs (one of another user's counts too). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Waits until none of `pids` runs any more; a cancelled activity stops waiting. */
export async function waitForExit(pids: readonly number[], signal?: AbortSignal, pollMs = 500): Promise<void> {
  while (pids.some(isAlive)) {
    signal?.throwIfAborted();
    await sleep(pollMs);
  }
}

/** SIGKILLs `pids` (already gone is fine) and waits until they are gone. */
export async function killProcesses(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already, or not ours to kill: waitForExit below tells which
    }
  }
  await waitForExit(pids, AbortSignal.timeout(30_000));
}

/**
 * Whether `pid` works in `dir` (its cwd, or an argv naming it): a pid file can outlive its
 * process and the pid be another's by now. undefined when /proc does not tell.
 */
export async function processWorksIn(pid: number, dir: string): Promise<boolean | undefined> {
  const real = await realpath(dir).catch(() => dir);
  const argv = await readFile(`/proc/${pid}/cmdline`).then((raw) => raw.toString('utf8').split('\0'), () => undefined);
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  if (argv?.some((arg) => arg === dir || arg === real) || cwd === real || cwd === dir) return true;
  return argv === undefined && cwd === undefined ? undefined : false;
}
