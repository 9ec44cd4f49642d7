import { ApplicationFailure } from '@temporalio/activity';
import { statfs } from 'node:fs/promises';
import { formatBytes } from '../../core/format.js';

/** Whether `error` (or one of its causes) is a full disk. */
export function isNoSpace(error: unknown): boolean {
  for (let at = error as { code?: unknown; cause?: unknown } | undefined; at; at = at.cause as typeof at) {
    if (at.code === 'ENOSPC') return true;
  }
  return false;
}

/** A full disk will still be full on a retry: fail at once, saying where and what to do. */
export function noSpaceFailure(where: string, error: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message: `no space left on ${where} (ENOSPC): free space there or point ragops at a larger volume, then run again`,
    type: 'NoSpace',
    nonRetryable: true,
    cause: error instanceof Error ? error : undefined,
  });
}

/** Fails at once, non-retryable, unless `dir` has room for `bytes` plus a margin (10 %, at least 64 MiB). */
export async function assertFreeSpace(dir: string, bytes: number, what: string): Promise<void> {
  const info = await statfs(dir);
  const free = info.bavail * info.bsize;
  const needed = bytes + Math.max(bytes * 0.1, 64 * 1024 * 1024);
  if (free < needed) {
    throw ApplicationFailure.nonRetryable(
      `no space for ${what} in ${dir} (ENOSPC): it needs ${formatBytes(needed)} (the dump plus a margin), ${formatBytes(free)} is free; free space or set the stack's drill.tempDir to a larger volume`,
      'NoSpace',
    );
  }
}
