// Independent checks of what a backup stored: hashes computed here, restores done with
// the real pg_restore, never with ragops' own code paths.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { manifestSchema, type Manifest } from '../../src/config/manifest.js';
import type { TestMoto } from './moto.js';
import { createTestDatabase, exactCounts } from './postgres.js';

export interface StoredObjects {
  read(key: string): Promise<Readable>;
}

export function s3Objects(moto: TestMoto, bucket: string, prefix: string): StoredObjects {
  return {
    async read(key) {
      const response = await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
      return response.Body as Readable;
    },
  };
}

export function fsObjects(root: string): StoredObjects {
  return { read: async (key) => createReadStream(join(root, key)) };
}

export async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function readBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function readManifest(objects: StoredObjects, key: string): Promise<Manifest> {
  return manifestSchema.parse(JSON.parse((await readBuffer(await objects.read(key))).toString('utf8')));
}

/** pg_restore of a stored dump into a fresh database; returns that database's exact counts. */
export async function restoreAndCount(objects: StoredObjects, key: string): Promise<Record<string, number>> {
  const scratch = await createTestDatabase('restore');
  try {
    await execa('pg_restore', ['--no-owner', '--exit-on-error', '-h', '127.0.0.1', '-U', 'postgres', '-d', scratch.name], {
      input: await readBuffer(await objects.read(key)),
    });
    return await exactCounts(scratch.name);
  } finally {
    await scratch.drop();
  }
}

export async function readFileText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** Every store key a complete backup holds: its artifacts, their roles files, and the manifest itself. */
export function keysOfBackup(manifest: Manifest, manifestKey: string): string[] {
  const globals = manifest.artifacts.flatMap((artifact) => (artifact.component === 'postgres' && artifact.globals && 'key' in artifact.globals ? [artifact.globals.key] : []));
  return [...manifest.artifacts.map((artifact) => artifact.key), ...globals, manifestKey].sort();
}
