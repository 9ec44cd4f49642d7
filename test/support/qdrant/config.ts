import type { Schemas } from '@qdrant/js-client-rest';
import { expectObject, isObject, isUint, optionalBool, optionalUint, type JsonObject } from './body.js';
import { formatError, rangeIssue, validationError } from './protocol.js';
import { DISTANCES, type Distance } from './vectors.js';

export type CollectionConfig = Schemas['CollectionConfig'];
export type VectorParams = Schemas['VectorParams'];

/** The name under which an unnamed (single) vector is kept; Qdrant uses "" too. */
export const DEFAULT_VECTOR = '';

// Qdrant 1.19's defaults, as GET /collections/{c} reports them on a fresh single node.
const defaultHnsw = (): Schemas['HnswConfig'] => ({
  m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false,
});
const defaultOptimizer = (): Schemas['OptimizersConfig'] => ({
  deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, max_segment_size: null,
  memmap_threshold: null, indexing_threshold: 10000, flush_interval_sec: 5, max_optimization_threads: null,
});
const defaultWal = (): Schemas['WalConfig'] => ({ wal_capacity_mb: 32, wal_segments_ahead: 0, wal_retain_closed: 1 });

/** Builds a collection's config from a `PUT /collections/{c}` body (Schemas['CreateCollection']). */
export function parseCreateCollection(body: JsonObject): CollectionConfig {
  return {
    params: {
      vectors: parseVectorsConfig(body['vectors']),
      shard_number: optionalUint(body, 'shard_number', 1) ?? 1,
      replication_factor: optionalUint(body, 'replication_factor', 1) ?? 1,
      write_consistency_factor: optionalUint(body, 'write_consistency_factor', 1) ?? 1,
      on_disk_payload: optionalBool(body, 'on_disk_payload') ?? true,
    },
    hnsw_config: { ...defaultHnsw(), ...diff(body, 'hnsw_config') },
    optimizer_config: { ...defaultOptimizer(), ...diff(body, 'optimizers_config') },
    wal_config: { ...defaultWal(), ...diff(body, 'wal_config') },
    quantization_config: body['quantization_config'] === undefined ? null : diff(body, 'quantization_config'),
    strict_mode_config: { enabled: false },
  };
}

function diff(body: JsonObject, key: string): JsonObject | null {
  const value = body[key];
  if (value === undefined || value === null) return null;
  return expectObject(value, `struct ${key}`);
}

// VectorsConfig is an untagged enum in Qdrant: serde reports a shape mismatch without details.
const untaggedVectorsError = () => formatError('data did not match any variant of untagged enum VectorsConfig');

function parseVectorsConfig(value: unknown): Schemas['VectorsConfig'] {
  if (value === undefined) return {};
  if (!isObject(value)) throw untaggedVectorsError();
  if ('size' in value || 'distance' in value) return parseVectorParams(value, 'vectors');
  const named: Record<string, VectorParams> = {};
  for (const [name, params] of Object.entries(value)) {
    if (!isObject(params)) throw untaggedVectorsError();
    named[name] = parseVectorParams(params, `vectors.${name}`);
  }
  return named;
}

function parseVectorParams(value: JsonObject, path: string): VectorParams {
  const { size, distance, ...rest } = value;
  if (!isUint(size) || !(DISTANCES as readonly unknown[]).includes(distance)) throw untaggedVectorsError();
  if (size < 1 || size > 65536) throw validationError([rangeIssue(`${path}.size`, size, 1, 65536)]);
  const params: VectorParams = { size, distance: distance as Distance };
  for (const key of ['hnsw_config', 'quantization_config', 'on_disk', 'datatype', 'multivector_config'] as const) {
    if (rest[key] !== undefined) Object.assign(params, { [key]: rest[key] });
  }
  return params;
}

/** The vectors of a config by name, the unnamed one under DEFAULT_VECTOR. */
export function vectorParamsOf(config: CollectionConfig): Map<string, VectorParams> {
  const vectors = config.params.vectors ?? {};
  if (isSingleVector(vectors)) return new Map([[DEFAULT_VECTOR, vectors]]);
  const named = new Map<string, VectorParams>();
  for (const [name, params] of Object.entries(vectors)) if (params) named.set(name, params);
  return named;
}

export function isSingleVector(vectors: Schemas['VectorsConfig']): vectors is VectorParams {
  return typeof (vectors as { size?: unknown }).size === 'number';
}

/** `{name: size/distance}` in a stable form, to compare a snapshot with an existing collection. */
export function describeVectors(config: CollectionConfig): string {
  const entries = [...vectorParamsOf(config)].sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([name, p]) => `${name === DEFAULT_VECTOR ? '<default>' : name}: ${p.size}/${p.distance}`).join(', ');
}
