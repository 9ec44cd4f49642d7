// Qdrant for the DR benchmark: collections of realistic vectors seeded into the production
// stand-in, and the raw recovery an operator does by hand — each collection's snapshot file
// uploaded with curl to the drill Qdrant's upload endpoint, one after another.
import { QdrantClient } from '@qdrant/js-client-rest';
import { randomBytes } from 'node:crypto';
import { timeCommand } from './pgCommands.js';

export interface SeededCollection {
  name: string;
  points: number;
}

const BATCH = 500;

/** `points` points split over `names`, `dim`-dimensional random unit-ish vectors with a small payload each. */
export async function seedCollections(url: string, names: string[], points: number, dim: number): Promise<SeededCollection[]> {
  const client = new QdrantClient({ url, checkCompatibility: false });
  const seeded: SeededCollection[] = [];
  for (const [index, name] of names.entries()) {
    const count = Math.floor(points / names.length) + (index < points % names.length ? 1 : 0);
    await client.createCollection(name, { vectors: { size: dim, distance: 'Cosine' } });
    for (let start = 0; start < count; start += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, count - start) }, (_, i) => {
        const id = start + i + 1;
        return {
          id,
          vector: Array.from({ length: dim }, () => Math.random() * 2 - 1),
          payload: { document_id: Math.floor(id / 4), ord: id % 4, source: `s3://docs/${Math.floor(id / 4)}.pdf`, tag: randomBytes(6).toString('hex') },
        };
      });
      await client.upsert(name, { wait: true, points: batch });
    }
    seeded.push({ name, points: count });
  }
  return seeded;
}

/** Exact point counts of the collections that exist on `url` (absent ones are left out). */
export async function pointCounts(url: string): Promise<Record<string, number>> {
  const client = new QdrantClient({ url, checkCompatibility: false });
  const counts: Record<string, number> = {};
  for (const { name } of (await client.getCollections()).collections) counts[name] = (await client.count(name, { exact: true })).count;
  return counts;
}

/** Deletes the named collections on `url` that exist; returns those it deleted. */
export async function deleteCollections(url: string, names: string[]): Promise<string[]> {
  const client = new QdrantClient({ url, checkCompatibility: false });
  const existing = new Set((await client.getCollections()).collections.map((c) => c.name));
  const deleted: string[] = [];
  for (const name of names) {
    if (!existing.has(name)) continue;
    await client.deleteCollection(name);
    deleted.push(name);
  }
  return deleted;
}

/**
 * `curl -sS --fail -X POST -F snapshot=@<file> <url>/collections/<name>/snapshots/upload?priority=snapshot&wait=true`,
 * as the operator types it: its wall time. The collection is created from the snapshot.
 */
export function uploadSnapshotWithCurl(url: string, collection: string, file: string): Promise<number> {
  return timeCommand(
    ['curl', '-sS', '--fail', '-o', '/dev/null', '-X', 'POST', '-F', `snapshot=@${file}`, `${url}/collections/${encodeURIComponent(collection)}/snapshots/upload?priority=snapshot&wait=true`],
    ['ignore', 'ignore', 'pipe'],
  );
}
