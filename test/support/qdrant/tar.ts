// A minimal POSIX ustar writer and reader: regular files and directories, no compression.

const BLOCK = 512;

export interface TarEntry {
  name: string;
  type: 'file' | 'directory';
  data: Buffer;
  /** Seconds since the epoch. */
  mtime?: number;
}

export class TarFormatError extends Error {}

export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === 'directory' ? Buffer.alloc(0) : entry.data;
    parts.push(header(entry, data.length), data, Buffer.alloc(padding(data.length)));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name);
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, 100, 8, entry.type === 'directory' ? 0o755 : 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, entry.mtime ?? Math.floor(Date.now() / 1000));
  block.write(entry.type === 'directory' ? '5' : '0', 156, 1, 'ascii');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  block.write('root', 265, 32, 'ascii');
  block.write('root', 297, 32, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  // The checksum is computed with its own field read as eight spaces, then stored as "0001234\0 ".
  block.fill(0x20, 148, 156);
  block.write(`${checksum(block).toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  const cut = path.lastIndexOf('/', path.length - 2);
  const [prefix, name] = [path.slice(0, cut), path.slice(cut + 1)];
  if (cut <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(name) > 100) {
    throw new TarFormatError(`path too long for ustar: ${path}`);
  }
  return [prefix, name];
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (const byte of block) sum += byte;
  return sum;
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const text = readString(block, offset, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** Reads every entry; throws TarFormatError on a bad header or a file cut short. */
export function readTar(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > archive.length) {
      throw new TarFormatError(offset === archive.length && offset > 0
        ? `truncated tar archive: no end-of-archive marker after ${offset} bytes`
        : `truncated tar archive: incomplete header at byte ${offset} of ${archive.length}`);
    }
    const block = archive.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) return entries;
    const stored = readOctal(block, 148, 8);
    const copy = Buffer.from(block);
    copy.fill(0x20, 148, 156);
    if (stored !== checksum(copy)) throw new TarFormatError(`not a tar archive: bad header checksum at byte ${offset}`);
    if (readString(block, 257, 6).trimEnd() !== 'ustar') throw new TarFormatError(`not a ustar archive: bad magic at byte ${offset}`);

    const prefix = readString(block, 345, 155);
    const name = prefix ? `${prefix}/${readString(block, 0, 100)}` : readString(block, 0, 100);
    const size = readOctal(block, 124, 12);
    const typeflag = readString(block, 156, 1);
    const start = offset + BLOCK;
    if (start + size > archive.length) {
      throw new TarFormatError(`truncated tar archive: "${name}" needs ${size} bytes, ${archive.length - start} left`);
    }
    const type = typeflag === '5' ? 'directory' : 'file';
    if (typeflag === '0' || typeflag === '' || typeflag === '5') {
      entries.push({
        name: type === 'directory' ? name.replace(/\/$/, '') : name,
        type,
        data: archive.subarray(start, start + size),
        mtime: readOctal(block, 136, 12),
      });
    }
    offset = start + size + padding(size);
  }
}
