import type { Schemas } from '@qdrant/js-client-rest';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Collection } from './collections.js';
import { notFound, QdrantError, RawReply } from './protocol.js';
import { buildSnapshotTar } from './snapshot-format.js';

export type SnapshotDescription = Schemas['SnapshotDescription'];

export const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The fault switches snapshot storage obeys (a view of QdrantFaults). */
export interface SnapshotFaults {
  corruptChecksum: Set<string>;
  truncateDownloads: Set<string>;
  duringSnapshot: ((collection: string) => Promise<void>) | undefined;
}

/**
 * Collection snapshots on disk: `<dir>/<collection>/<name>.snapshot`, each with a `.checksum`
 * sidecar as Qdrant keeps one. Names are `{collection}-{peer_id}-{YYYY-MM-DD-HH-MM-SS}.snapshot`.
 */
export class SnapshotStorage {
  private readonly reserved = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly peerId: string,
    private readonly version: string,
    private readonly faults: SnapshotFaults,
  ) {}

  async create(collection: Collection): Promise<SnapshotDescription> {
    const folder = join(this.dir, collection.name);
    await mkdir(folder, { recursive: true });
    const name = await this.freshName(collection.name);
    try {
      await this.faults.duringSnapshot?.(collection.name);
      const archive = buildSnapshotTar(collection, this.version);
      const path = join(folder, name);
      await writeFile(`${path}.checksum`, sha256Hex(archive));
      await writeFile(`${path}.tmp`, archive);
      await rename(`${path}.tmp`, path);
    } finally {
      this.reserved.delete(join(folder, name));
    }
    return this.describe(collection.name, name);
  }

  /**
   * Two snapshots in the same second would share a name; the later one moves its timestamp on
   * by a second, so names keep Qdrant's pattern and still sort by creation.
   */
  private async freshName(collection: string): Promise<string> {
    for (let at = Date.now(); ; at += 1000) {
      const stamp = new Date(at).toISOString().slice(0, 19).replace('T', '-').replace(/:/g, '-');
      const name = `${collection}-${this.peerId}-${stamp}.snapshot`;
      const path = join(this.dir, collection, name);
      if (this.reserved.has(path)) continue;
      // Reserve before the await, so a concurrent create cannot pick the same name meanwhile.
      this.reserved.add(path);
      if (!(await exists(path))) return name;
      this.reserved.delete(path);
    }
  }

  async list(collection: string): Promise<SnapshotDescription[]> {
    const names = await readdir(join(this.dir, collection)).catch(() => [] as string[]);
    return Promise.all(names.filter((n) => n.endsWith('.snapshot')).sort().map((n) => this.describe(collection, n)));
  }

  async describe(collection: string, name: string): Promise<SnapshotDescription> {
    const path = this.pathOf(collection, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw snapshotNotFound(name);
    const checksum = await readFile(`${path}.checksum`, 'utf8').catch(async () => sha256Hex(await readFile(path)));
    return {
      name,
      creation_time: info.mtime.toISOString().slice(0, 19),
      size: info.size,
      checksum: this.faults.corruptChecksum.has(collection) ? sha256Hex(Buffer.from(`corrupt:${checksum}`)) : checksum,
    };
  }

  async delete(collection: string, name: string): Promise<true> {
    const path = this.pathOf(collection, name);
    await unlink(path).catch(() => {
      throw snapshotNotFound(name);
    });
    await unlink(`${path}.checksum`).catch(() => undefined);
    return true;
  }

  /** GET .../snapshots/{name}: the file as octet-stream, honouring a single `Range: bytes=` range. */
  async download(collection: string, name: string, rangeHeader: string | undefined): Promise<RawReply> {
    const path = this.pathOf(collection, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new QdrantError(404, `Not found: Snapshot ${name} not found`, {}, true);
    const size = info.size;
    const range = parseRange(rangeHeader, size);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="${name}"`,
      'accept-ranges': 'bytes',
      'last-modified': info.mtime.toUTCString(),
    };
    if (range === 'unsatisfiable') {
      const rangeHeaders = { ...headers, 'content-range': `bytes */${size}`, 'content-type': 'text/plain' };
      return new RawReply(416, rangeHeaders, 'Requested Range Not Satisfiable');
    }
    const [start, end] = range ?? [0, size - 1];
    const length = size === 0 ? 0 : end - start + 1;
    headers['content-length'] = length;
    if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    const body = length === 0 ? Buffer.alloc(0) : createReadStream(path, { start, end });
    // A cut-short download: the headers promise the full length, the connection drops halfway.
    const cut = this.faults.truncateDownloads.has(collection) ? Math.floor(length / 2) : undefined;
    return new RawReply(range ? 206 : 200, headers, body, cut);
  }

  /** Absolute path of a snapshot; names that could leave the collection's folder are not found. */
  pathOf(collection: string, name: string): string {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw snapshotNotFound(name);
    return join(this.dir, collection, name);
  }
}

const snapshotNotFound = (name: string) => notFound(`Snapshot ${name} not found`);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else (several ranges, junk) is ignored as RFC 9110 allows. */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [first, last] = [match[1] ?? '', match[2] ?? ''];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}
