import { createReadStream, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNoSpace, noSpaceFailure } from '../runtime/diskSpace.js';
import { storeLocation } from './location.js';
import { StoreObjectMissing, type ArtifactStore, type StoredObject, type UnfinishedUpload } from './types.js';

const PARTIAL_SUFFIX = '.partial';
/** "<key>.<writer>.partial": each writer its own file, so a superseded attempt still writing
 * (a worker that lost its activity, a run that was reset) never renames or removes another's. */
const PARTIAL_FILE = /^(.*)\.([0-9a-f]{8})\.partial$/;

/** A directory as a store; writes land under a ".partial" name and are renamed when whole. */
export class FsStore implements ArtifactStore {
  readonly location: string;
  private readonly root: string;

  constructor(path: string) {
    this.root = resolve(path);
    this.location = storeLocation({ type: 'fs', path });
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.location)) throw new Error(`key "${key}" escapes the store ${this.location}`);
    return path;
  }

  async put(key: string, body: Readable, options: { signal?: AbortSignal } = {}): Promise<void> {
    const path = this.pathOf(key);
    const partialPath = `${path}.${randomBytes(4).toString('hex')}${PARTIAL_SUFFIX}`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await pipeline(body, createWriteStream(partialPath, { flush: true }), { signal: options.signal });
      await rename(partialPath, path);
    } catch (error) {
      await rm(partialPath, { force: true });
      if (isNoSpace(error)) throw noSpaceFailure(`the fs store ${this.location} (writing ${key})`, error);
      throw error;
    }
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    if (!(await this.exists(key))) throw new StoreObjectMissing(key, this.location);
    return createReadStream(path);
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch {
      return false;
    }
  }

  /** Every file under the root with its key, sorted; none while the root does not exist. */
  private async files(): Promise<Array<{ file: string; key: string }>> {
    const files = await listFilesUnder(this.root).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    return files.sort().map((file) => ({ file, key: relative(this.root, file).split(sep).join('/') }));
  }

  async *list(prefix: string, options: { startAfter?: string } = {}): AsyncIterable<StoredObject> {
    for (const { file, key } of await this.files()) {
      if (!key.startsWith(prefix) || key.endsWith(PARTIAL_SUFFIX)) continue;
      if (options.startAfter !== undefined && key <= options.startAfter) continue;
      const info = await stat(file);
      yield { key, size: info.size, lastModified: info.mtime };
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async discardUnfinished(key: string): Promise<number> {
    const uploads = (await this.listUnfinishedUploads(key)).filter((upload) => upload.key === key);
    await Promise.all(uploads.map((upload) => this.abortUpload(upload)));
    return uploads.length;
  }

  async listUnfinishedUploads(prefix: string): Promise<UnfinishedUpload[]> {
    const uploads: UnfinishedUpload[] = [];
    for (const { file, key } of await this.files()) {
      const partial = PARTIAL_FILE.exec(key);
      if (!partial || !partial[1]!.startsWith(prefix)) continue;
      const info = await stat(file).catch(() => undefined); // finished (renamed) since the listing
      if (info) uploads.push({ key: partial[1]!, uploadId: partial[2]!, initiated: info.mtime });
    }
    return uploads;
  }

  async lastWriteOf(upload: UnfinishedUpload): Promise<Date> {
    return upload.initiated; // already the partial file's mtime
  }

  async abortUpload(upload: UnfinishedUpload): Promise<void> {
    await rm(`${this.pathOf(upload.key)}.${upload.uploadId}${PARTIAL_SUFFIX}`, { force: true });
  }

  close(): void {}
}

async function listFilesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = join(directory, entry.name);
      return entry.isDirectory() ? listFilesUnder(path) : Promise.resolve(entry.isFile() ? [path] : []);
    }),
  );
  return nested.flat();
}
