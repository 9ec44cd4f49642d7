import type { Schemas } from '@qdrant/js-client-rest';
import { RUN_TAG } from './runNames.js';

// The pure side of the `reingest` runbook: the new collection's name, point ids derived from
// source keys, the new collection's config cloned from the live one, the gate's arithmetic and
// the progress figures. Workflows and activities both use these; nothing here does I/O.

// ---------------------------------------------------------------------------------------------
// Names

/**
 * Collections a re-ingestion creates: `ragops_reingest_<run tag>_<alias>`. Only these are deleted
 * without the operator naming them (a failed gate, a cancel, the new side of a rollback).
 */
export const REINGEST_COLLECTION = /^ragops_reingest_[a-z0-9]{8}_[A-Za-z0-9_-]+$/;

export const isReingestCollection = (name: string): boolean => REINGEST_COLLECTION.test(name);

/** The run's new collection behind `alias`, within Qdrant's 255-character limit. */
export function reingestCollectionName(alias: string, tag: string): string {
  if (!RUN_TAG.test(tag)) throw new Error(`"${tag}" is not a run tag (8 lower-case letters or digits)`);
  const name = `ragops_reingest_${tag}_${alias}`.slice(0, 255);
  if (!isReingestCollection(name)) throw new Error(`"${alias}" is not an alias name a collection can be named after (letters, digits, "-" and "_")`);
  return name;
}

// ---------------------------------------------------------------------------------------------
// Point ids

export type SourceKey = string | number;
export type PointId = string | number;

/** Fixed namespace of ragops' point ids (a random UUID, chosen once): UUIDv5(namespace, key). */
export const POINT_ID_NAMESPACE = '5d0c7c4e-3f0a-4b8e-9a61-7f2e1c9b4a13';

const CANONICAL_UINT = /^(0|[1-9][0-9]*)$/;

/**
 * The point id of a source row: an unsigned integer key (a number, or its canonical decimal
 * spelling — node-pg returns bigint columns as strings) is the point id itself, up to 2^53-1;
 * every other key (text, UUID-looking or not, negative, too big) becomes a UUIDv5 of its text,
 * so the same key always lands on the same point and a retried page overwrites it.
 */
export function pointIdOf(key: SourceKey): PointId {
  if (typeof key === 'number') {
    if (Number.isSafeInteger(key) && key >= 0) return key;
    if (!Number.isFinite(key)) throw new Error(`source key ${key} is not a usable key`);
    return uuidV5(POINT_ID_NAMESPACE, String(key));
  }
  if (CANONICAL_UINT.test(key) && Number.isSafeInteger(Number(key))) return Number(key);
  return uuidV5(POINT_ID_NAMESPACE, key);
}

/** RFC 4122 name-based UUID, version 5 (SHA-1). */
export function uuidV5(namespace: string, name: string): string {
  const ns = namespace.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(ns)) throw new Error(`"${namespace}" is not a UUID`);
  const nsBytes = Array.from({ length: 16 }, (_, i) => parseInt(ns.slice(i * 2, i * 2 + 2), 16));
  const hash = sha1([...nsBytes, ...utf8(name)]);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.slice(0, 16).map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** UTF-8 bytes of a string (lone surrogates as U+FFFD, like TextEncoder). */
export function utf8(text: string): number[] {
  const bytes: number[] = [];
  for (const char of text) {
    let code = char.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    if (code < 0x80) bytes.push(code);
    else if (code < 0x800) bytes.push(0xc0 | (code >> 6), 0x80 | (code & 63));
    else if (code < 0x10000) bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
    else bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
  }
  return bytes;
}

/** SHA-1 (FIPS 180-4) of a byte array: 20 bytes. Small and slow enough for ids, not for files. */
export function sha1(message: number[]): number[] {
  const bitLength = message.length * 8;
  const bytes = [...message, 0x80];
  while (bytes.length % 64 !== 56) bytes.push(0);
  const high = Math.floor(bitLength / 2 ** 32);
  for (const word of [high, bitLength >>> 0]) bytes.push((word >>> 24) & 255, (word >>> 16) & 255, (word >>> 8) & 255, word & 255);
  let [h0, h1, h2, h3, h4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Array<number>(80);
  const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  for (let offset = 0; offset < bytes.length; offset += 64) {
    for (let i = 0; i < 16; i++) {
      const j = offset + i * 4;
      w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
    }
    for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!, 1);
    let [a, b, c, d, e] = [h0, h1, h2, h3, h4];
    for (let i = 0; i < 80; i++) {
      const [f, k] =
        i < 20 ? [(b & c) | (~b & d), 0x5a827999] : i < 40 ? [b ^ c ^ d, 0x6ed9eba1] : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
      const t = (rotl(a, 5) + f + e + k + w[i]!) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  return [h0, h1, h2, h3, h4].flatMap((h) => [(h >>> 24) & 255, (h >>> 16) & 255, (h >>> 8) & 255, h & 255]);
}

// ---------------------------------------------------------------------------------------------
// The new collection's config, cloned from the live one

export type CreateCollectionBody = Schemas['CreateCollection'];
export type CollectionInfo = Schemas['CollectionInfo'];
export type Distance = Schemas['Distance'];

export interface PayloadIndexSpec {
  field_name: string;
  /** A type name (`keyword`), or the full params object (`{type: 'text', tokenizer: ...}`). */
  field_schema: Schemas['PayloadFieldSchema'];
}

export interface ClonedCollection {
  create: CreateCollectionBody;
  payloadIndexes: PayloadIndexSpec[];
  /** The dense vector the embedder fills: undefined for the unnamed vector. */
  vectorName: string | undefined;
  vectorSize: number;
  distance: Distance;
  /** What differs from the live collection, in words, for the plan (empty when it is a pure clone). */
  changes: string[];
}

export interface CloneOptions {
  /** The embedder's dimension (a probe embedding tells it); replaces the live size when it differs. */
  vectorSize?: number;
  distance?: Distance;
  /** With named vectors: the one the embedder fills (required when there are several). */
  vectorName?: string;
}

/** A copy of `value` without its null and undefined members (a Diff's null means "default"). */
function withoutNulls<T extends object>(value: T | null | undefined): Partial<T> | undefined {
  if (value === null || value === undefined || typeof value !== 'object') return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) if (member !== null && member !== undefined) out[key] = member;
  return Object.keys(out).length > 0 ? (out as Partial<T>) : undefined;
}

const OPTIMIZER_FIELDS = [
  'deleted_threshold', 'vacuum_min_vector_number', 'default_segment_number', 'max_segment_size', 'memmap_threshold',
  'indexing_threshold', 'flush_interval_sec', 'max_optimization_threads', 'prevent_unoptimized',
] as const;

type VectorParams = Schemas['VectorParams'];

function isSingle(vectors: Schemas['VectorsConfig'] | undefined): vectors is VectorParams {
  return vectors !== undefined && typeof (vectors as { size?: unknown }).size === 'number';
}

function cloneVectorParams(params: VectorParams): VectorParams {
  const out: VectorParams = { size: params.size, distance: params.distance };
  const hnsw = withoutNulls(params.hnsw_config as Schemas['HnswConfigDiff'] | null);
  if (hnsw) out.hnsw_config = hnsw;
  if (params.quantization_config) out.quantization_config = structuredCloneJson(params.quantization_config);
  if (params.on_disk !== null && params.on_disk !== undefined) out.on_disk = params.on_disk;
  if (params.datatype) out.datatype = params.datatype;
  if (params.multivector_config) out.multivector_config = structuredCloneJson(params.multivector_config);
  return out;
}

const structuredCloneJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * The `PUT /collections/{new}` body and the payload indexes of a collection like `live`: its
 * vectors (named or not, distance, per-vector HNSW/quantization/on_disk/datatype), sparse
 * vectors, sharding, replication, on_disk_payload, HNSW, WAL, optimizers (the fields the
 * create body accepts; nulls are defaults and left out), quantization, strict mode when
 * enabled and the collection's metadata; the embedder's size (and distance) replace the live
 * ones when they differ.
 */
export function cloneCollectionConfig(live: CollectionInfo, options: CloneOptions = {}): ClonedCollection {
  const { config } = live;
  const params = config.params;
  const changes: string[] = [];
  const vectors = params.vectors;
  if (vectors === undefined || (!isSingle(vectors) && Object.keys(vectors).length === 0)) {
    throw new Error('the live collection has no dense vectors to re-embed (sparse-only collections are not supported)');
  }

  let vectorName: string | undefined;
  let target: VectorParams;
  let clonedVectors: Schemas['VectorsConfig'];
  if (isSingle(vectors)) {
    if (options.vectorName !== undefined) throw new Error(`the live collection has one unnamed vector, not a vector named "${options.vectorName}"`);
    target = cloneVectorParams(vectors);
    clonedVectors = target;
  } else {
    const named: Record<string, VectorParams> = {};
    for (const [name, each] of Object.entries(vectors)) if (each) named[name] = cloneVectorParams(each);
    const names = Object.keys(named).sort();
    if (options.vectorName !== undefined) {
      if (!named[options.vectorName]) throw new Error(`the live collection has no vector named "${options.vectorName}" (it has ${names.map((n) => `"${n}"`).join(', ')})`);
      vectorName = options.vectorName;
    } else if (names.length === 1) {
      vectorName = names[0];
    } else {
      throw new Error(`the live collection has several named vectors (${names.map((n) => `"${n}"`).join(', ')}): say which one the embedder fills (vectorName)`);
    }
    target = named[vectorName!]!;
    clonedVectors = named;
  }
  if (options.vectorSize !== undefined) {
    if (!Number.isInteger(options.vectorSize) || options.vectorSize < 1 || options.vectorSize > 65536) throw new Error(`vector size ${options.vectorSize} is not between 1 and 65536`);
    if (options.vectorSize !== target.size) {
      changes.push(`vector size ${target.size} → ${options.vectorSize}${vectorName === undefined ? '' : ` (vector "${vectorName}")`}`);
      target.size = options.vectorSize;
    }
  }
  if (options.distance !== undefined && options.distance !== target.distance) {
    changes.push(`distance ${target.distance} → ${options.distance}`);
    target.distance = options.distance;
  }

  const create: CreateCollectionBody = { vectors: clonedVectors };
  if (params.shard_number !== undefined) create.shard_number = params.shard_number;
  if (params.sharding_method) create.sharding_method = params.sharding_method;
  if (params.replication_factor !== undefined) create.replication_factor = params.replication_factor;
  if (params.write_consistency_factor !== undefined) create.write_consistency_factor = params.write_consistency_factor;
  if (params.on_disk_payload !== undefined) create.on_disk_payload = params.on_disk_payload;
  const sparse = withoutNulls(params.sparse_vectors);
  if (sparse) create.sparse_vectors = structuredCloneJson(sparse) as CreateCollectionBody['sparse_vectors'];
  const hnsw = withoutNulls(config.hnsw_config);
  if (hnsw) create.hnsw_config = hnsw;
  const wal = withoutNulls(config.wal_config as Schemas['WalConfig'] | null);
  if (wal) create.wal_config = wal;
  const optimizer: Record<string, unknown> = {};
  for (const field of OPTIMIZER_FIELDS) {
    const value = (config.optimizer_config as Record<string, unknown>)[field];
    if (value !== null && value !== undefined) optimizer[field] = value;
  }
  if (Object.keys(optimizer).length > 0) create.optimizers_config = optimizer as Schemas['OptimizersConfigDiff'];
  if (config.quantization_config) create.quantization_config = structuredCloneJson(config.quantization_config);
  const strict = config.strict_mode_config as ({ enabled?: boolean | null } & Record<string, unknown>) | null | undefined;
  if (strict?.enabled === true) create.strict_mode_config = withoutNulls(strict) as Schemas['StrictModeConfig'];
  const metadata = withoutNulls(config.metadata as Record<string, unknown> | null | undefined);
  if (metadata) create.metadata = structuredCloneJson(metadata);

  return {
    create,
    payloadIndexes: payloadIndexesOf(live),
    vectorName,
    vectorSize: target.size,
    distance: target.distance,
    changes,
  };
}

/** The payload indexes of a collection, by field name, as `PUT /collections/{c}/index` bodies. */
export function payloadIndexesOf(info: Pick<CollectionInfo, 'payload_schema'>): PayloadIndexSpec[] {
  return Object.entries(info.payload_schema ?? {})
    .filter((entry): entry is [string, Schemas['PayloadIndexInfo']] => entry[1] !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([field_name, index]) => {
      const params = withoutNulls(index.params as Record<string, unknown> | null);
      return { field_name, field_schema: (params ? { ...params, type: (params['type'] as string | undefined) ?? index.data_type } : index.data_type) as Schemas['PayloadFieldSchema'] };
    });
}

/** `{name: size/distance}` of a vectors config, the unnamed vector as `<default>`: to compare two collections. */
export function describeVectors(vectors: Schemas['VectorsConfig'] | undefined): string {
  if (vectors === undefined) return '(none)';
  const entries: Array<[string, VectorParams]> = isSingle(vectors)
    ? [['<default>', vectors]]
    : Object.entries(vectors).filter((e): e is [string, VectorParams] => e[1] !== undefined).sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([name, p]) => `${name}: ${p.size}/${p.distance}`).join(', ');
}

/**
 * What an existing collection (left by an earlier attempt of this run) lacks of the planned one:
 * its vectors (names, sizes, distances) and the payload indexes by field and type. Empty means it
 * is the planned collection and creating it again may be skipped.
 */
export function collectionMismatches(planned: Pick<ClonedCollection, 'create' | 'payloadIndexes'>, existing: CollectionInfo): string[] {
  const problems: string[] = [];
  const want = describeVectors(planned.create.vectors);
  const have = describeVectors(existing.config.params.vectors);
  if (want !== have) problems.push(`vectors are ${have}, the plan says ${want}`);
  const indexes = new Map(payloadIndexesOf(existing).map((index) => [index.field_name, index.field_schema]));
  for (const index of planned.payloadIndexes) {
    const found = indexes.get(index.field_name);
    const wantType = typeof index.field_schema === 'string' ? index.field_schema : (index.field_schema as { type: string }).type;
    const haveType = found === undefined ? undefined : typeof found === 'string' ? found : (found as { type: string }).type;
    if (haveType === undefined) problems.push(`payload index on "${index.field_name}" is missing`);
    else if (haveType !== wantType) problems.push(`payload index on "${index.field_name}" is ${haveType}, the plan says ${wantType}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The gate

/** recall@k: the share of the expected ids among the first k results (of at most k of them, when more are expected). */
export function recallAtK(expected: readonly PointId[], results: readonly PointId[], k: number): number {
  if (expected.length === 0) throw new Error('recall@k of a query that expects nothing is undefined');
  const top = new Set(results.slice(0, k).map(String));
  const wanted = new Set(expected.map(String));
  let found = 0;
  for (const id of wanted) if (top.has(id)) found += 1;
  // With more expected ids than k, the best possible is k of them.
  return found / Math.min(wanted.size, k);
}

/** overlap@k: the share of the live collection's top k that the new collection's top k also holds. */
export function overlapAtK(results: readonly PointId[], live: readonly PointId[], k: number): number | undefined {
  const liveTop = new Set(live.slice(0, k).map(String));
  if (liveTop.size === 0) return undefined;
  const newTop = new Set(results.slice(0, k).map(String));
  let shared = 0;
  for (const id of liveTop) if (newTop.has(id)) shared += 1;
  return shared / liveTop.size;
}

export interface GateThresholds {
  k: number;
  minRecall: number;
  minOverlapWithLive?: number;
}

export interface GoldenResult {
  query: string;
  expected: PointId[];
  /** The new collection's top k. */
  results: PointId[];
  /** The live collection's top k, when it could be queried with the same embedding. */
  live?: PointId[];
}

export interface GateFigures {
  k: number;
  queries: number;
  /** Mean recall@k over the golden queries. */
  recall: number;
  /** Mean overlap@k with the live collection over the queries it answered; undefined when none did. */
  overlapWithLive: number | undefined;
  perQuery: Array<{ query: string; recall: number; overlapWithLive?: number; missing: PointId[] }>;
  passed: boolean;
  /** Why it failed, one line each; empty when passed. */
  failures: string[];
}

const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

/**
 * The golden set scored against the thresholds. No golden queries is not a pass: the gate has
 * nothing to check and says so (fail closed). The overlap threshold applies only when set, and
 * fails when no live result could be compared.
 */
export function judgeGate(results: readonly GoldenResult[], gate: GateThresholds): GateFigures {
  const failures: string[] = [];
  const raw: Array<{ recall: number; overlap: number | undefined }> = [];
  const perQuery = results.map((result) => {
    const recall = recallAtK(result.expected, result.results, gate.k);
    const overlap = result.live === undefined ? undefined : overlapAtK(result.results, result.live, gate.k);
    const top = new Set(result.results.slice(0, gate.k).map(String));
    raw.push({ recall, overlap });
    return {
      query: result.query,
      recall: round4(recall),
      ...(overlap === undefined ? {} : { overlapWithLive: round4(overlap) }),
      missing: result.expected.filter((id) => !top.has(String(id))),
    };
  });
  const mean = (values: number[]) => (values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length);
  const recall = mean(raw.map((q) => q.recall));
  const overlaps = raw.flatMap((q) => (q.overlap === undefined ? [] : [q.overlap]));
  const overlap = mean(overlaps);
  if (recall === undefined) failures.push('the golden set is empty: nothing to judge the new collection by');
  else if (recall < gate.minRecall) failures.push(`recall@${gate.k} ${round4(recall)} is below ${gate.minRecall}`);
  if (gate.minOverlapWithLive !== undefined) {
    if (overlap === undefined) failures.push(`overlap@${gate.k} with the live collection could not be measured (no live results)`);
    else if (overlap < gate.minOverlapWithLive) failures.push(`overlap@${gate.k} with the live collection ${round4(overlap)} is below ${gate.minOverlapWithLive}`);
  }
  return {
    k: gate.k,
    queries: perQuery.length,
    recall: round4(recall ?? 0),
    overlapWithLive: overlap === undefined ? undefined : round4(overlap),
    perQuery,
    passed: failures.length === 0,
    failures,
  };
}

/** Count parity: the source's rows and the new collection's points, compared exactly. */
export function countParity(sourceRows: number, points: number): { passed: boolean; detail: string } {
  return {
    passed: sourceRows === points,
    detail: sourceRows === points ? `${points} points for ${sourceRows} source rows (exact)` : `${points} points for ${sourceRows} source rows: ${points > sourceRows ? points - sourceRows + ' more' : sourceRows - points + ' missing'}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Progress

export interface Progress {
  rowsDone: number;
  /** Rows per second since the start, one decimal. */
  rowsPerSecond: number;
  /** Seconds left at that rate; undefined while the rate or the total is unknown. */
  etaSeconds: number | undefined;
  /** 0–100, one decimal; undefined without a total. */
  percent: number | undefined;
}

export function progressOf(rowsDone: number, elapsedMs: number, totalRows?: number): Progress {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const rate = rowsDone / seconds;
  const rowsPerSecond = Math.round(rate * 10) / 10;
  const remaining = totalRows === undefined ? undefined : Math.max(totalRows - rowsDone, 0);
  const etaSeconds = remaining === undefined ? undefined : remaining === 0 ? 0 : rate > 0 ? Math.ceil(remaining / rate) : undefined;
  const percent = totalRows === undefined ? undefined : totalRows === 0 ? 100 : Math.round((Math.min(rowsDone, totalRows) / totalRows) * 1000) / 10;
  return { rowsDone, rowsPerSecond, etaSeconds, percent };
}

/** "1 h 02 min", "4 min 05 s", "12 s": an ETA for the UI. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined) return 'unknown';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
