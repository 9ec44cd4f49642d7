// ragops' own Compose override file: one per project, in <directory>/.ragops/, holding the
// image of every service ragops deployed. Written whole and renamed into place, so a reader
// (compose, another activity) sees the old file or the new one, never half of one; and
// read-modify-written one at a time per file within this worker, so two activities deploying
// two services of one project both land.
import { ApplicationFailure } from '@temporalio/activity';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ComposeTarget } from '../../config/stacks/deploy.js';

export interface OverrideService {
  image: string;
  /** Labels added to the service's own (Compose merges them), e.g. the reference it was deployed as. */
  labels?: Record<string, string>;
}

export interface OverrideFile {
  services: Record<string, OverrideService>;
}

const HEADER = '# written by ragops deploy; do not edit\n';

/** Where ragops keeps its files for a project: beside the operator's compose files. */
export function ragopsDirOf(target: Pick<ComposeTarget, 'directory'>): string {
  return join(target.directory, '.ragops');
}

export function overrideFileOf(target: Pick<ComposeTarget, 'directory' | 'projectName'>): string {
  return join(ragopsDirOf(target), `${target.projectName}.images.yml`);
}

/**
 * The file's services; none when there is no file yet. A file that exists but cannot be read
 * as ragops wrote it fails (fail closed): treating it as empty would drop, on the next write,
 * the image of every other service.
 */
export async function readOverride(path: string): Promise<OverrideFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { services: {} };
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`ragops' override file ${path} is not YAML (${(error as Error).message}); fix or remove it`, 'ConfigError');
  }
  if (parsed === null || parsed === undefined) return { services: {} };
  const services = (parsed as { services?: unknown }).services ?? {};
  const valid =
    typeof services === 'object' &&
    services !== null &&
    Object.values(services).every((entry) => typeof entry === 'object' && entry !== null && typeof (entry as { image?: unknown }).image === 'string');
  if (!valid) throw ApplicationFailure.nonRetryable(`ragops' override file ${path} is not a services → { image } map; fix or remove it`, 'ConfigError');
  return { services: services as Record<string, OverrideService> };
}

/**
 * Writes `content` to `path` through a fresh directory beside it (`mkdtemp`: a unique name
 * whoever else writes, in this process or another) and a rename, atomic on one file system.
 */
export async function writeFileAtomically(path: string, content: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const scratch = await mkdtemp(join(dir, '.tmp-'));
  try {
    const temporary = join(scratch, 'file');
    await writeFile(temporary, content);
    await rename(temporary, path);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export function overrideText(services: Record<string, OverrideService>): string {
  return `${HEADER}${stringify({ services })}`;
}

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` after every earlier call for the same key has finished (a per-key FIFO within
 * this process). The chain is dropped once nothing waits on it.
 */
export async function serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const mine = before.then(work, work);
  const tail = mine.catch(() => undefined);
  queues.set(key, tail);
  try {
    return await mine;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

/** Read, change, write the override file, one caller at a time per file in this worker. */
export function updateOverride(path: string, change: (services: Record<string, OverrideService>) => Record<string, OverrideService>): Promise<OverrideFile> {
  return serialized(path, async () => {
    const current = await readOverride(path);
    const services = change({ ...current.services });
    await writeFileAtomically(path, overrideText(services));
    return { services };
  });
}

/**
 * A one-off override (the current file with one service's image changed) in a fresh directory
 * of its own under .ragops, e.g. for a migration container of the new image; `remove` deletes it.
 */
export async function writeScratchOverride(
  target: Pick<ComposeTarget, 'directory' | 'projectName'>,
  service: string,
  image: string,
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = overrideFileOf(target);
  const current = await serialized(path, () => readOverride(path));
  await mkdir(ragopsDirOf(target), { recursive: true });
  const scratch = await mkdtemp(join(ragopsDirOf(target), '.scratch-'));
  const file = join(scratch, `${target.projectName}.images.yml`);
  await writeFile(file, overrideText({ ...current.services, [service]: { image } }));
  return { path: file, remove: () => rm(scratch, { recursive: true, force: true }) };
}
