import type { Schemas } from '@qdrant/js-client-rest';
import { isObject } from './body.js';
import type { Collection, Payload, PayloadIndex, PointId, StoredPoint } from './collections.js';
import { DEFAULT_VECTOR, type CollectionConfig } from './config.js';
import { parsePointId, projectVectors } from './points.js';
import { readTar, TarFormatError, writeTar, type TarEntry } from './tar.js';

/** A point as written to `0/points.jsonl`, one JSON object a line. */
export interface SnapshotPoint {
  id: PointId;
  vector: Schemas['VectorStructOutput'];
  payload: Payload;
}

export interface SnapshotContents {
  /** The collection's config.json: params (vectors...), hnsw_config, optimizer_config, wal_config... */
  config: CollectionConfig;
  points: SnapshotPoint[];
  payloadIndexes: Record<string, PayloadIndex>;
  /** version.info: the server version that wrote it. */
  version: string;
}

export class SnapshotFormatError extends Error {}

const POINTS_FILE = '0/points.jsonl';

/** The snapshot of one collection as an uncompressed tar, laid out like Qdrant's (one shard, `0/`). */
export function buildSnapshotTar(collection: Collection, version: string): Buffer {
  const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  const lines = collection
    .sortedPoints()
    .map((p) => JSON.stringify({ id: p.id, vector: projectVectors(collection, p, true), payload: p.payload }))
    .join('\n');
  const file = (name: string, data: Buffer): TarEntry => ({ name, type: 'file', data });
  return writeTar([
    file('config.json', json(collection.config)),
    file('version.info', Buffer.from(version)),
    file('payload_index.json', json(collection.payloadIndexes)),
    file('shard_key_mapping.json', json({})),
    { name: '0', type: 'directory', data: Buffer.alloc(0) },
    file('0/shard_config.json', json({ type: 'Local' })),
    file(POINTS_FILE, Buffer.from(lines === '' ? '' : `${lines}\n`)),
  ]);
}

/** Parses a snapshot file; throws SnapshotFormatError saying what is wrong with it. */
export function readSnapshotTar(archive: Buffer): SnapshotContents {
  let entries: TarEntry[];
  try {
    entries = readTar(archive);
  } catch (error) {
    if (error instanceof TarFormatError) throw new SnapshotFormatError(error.message);
    throw error;
  }
  const files = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.name.replace(/^\.\//, ''), e.data]));
  const text = (name: string): string => {
    const data = files.get(name);
    if (!data) throw new SnapshotFormatError(`snapshot has no ${name}`);
    return data.toString('utf8');
  };
  const parse = (name: string, source = text(name)): unknown => {
    try {
      return JSON.parse(source);
    } catch (error) {
      throw new SnapshotFormatError(`${name} is not valid JSON: ${(error as Error).message}`);
    }
  };

  const config = parse('config.json');
  if (!isObject(config) || !isObject(config['params'])) throw new SnapshotFormatError('config.json has no collection params');
  const indexes = files.has('payload_index.json') ? parse('payload_index.json') : {};
  const points = text(POINTS_FILE)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const point = parse(`${POINTS_FILE} line ${i + 1}`, line);
      if (!isObject(point) || point['id'] === undefined || point['vector'] === undefined) {
        throw new SnapshotFormatError(`${POINTS_FILE} line ${i + 1} is not a point with id and vector`);
      }
      return point as unknown as SnapshotPoint;
    });
  return {
    config: config as unknown as CollectionConfig,
    points,
    payloadIndexes: isObject(indexes) ? (indexes as Record<string, PayloadIndex>) : {},
    version: text('version.info').trim(),
  };
}

/** Snapshot points back into stored form; vectors are kept as stored (already normalized for Cosine). */
export function toStoredPoints(points: readonly SnapshotPoint[]): StoredPoint[] {
  return points.map((p) => ({
    id: parsePointId(p.id),
    vectors: Array.isArray(p.vector) ? { [DEFAULT_VECTOR]: p.vector as number[] } : (p.vector as Record<string, number[]>),
    payload: p.payload ?? {},
    version: 0,
  }));
}
