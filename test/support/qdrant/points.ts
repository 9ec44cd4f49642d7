import type { Schemas } from '@qdrant/js-client-rest';
import { expectObject, isObject, isUint, requireField, type JsonObject } from './body.js';
import { pointKey, type Collection, type Payload, type PointId, type StoredPoint } from './collections.js';
import { DEFAULT_VECTOR } from './config.js';
import { matchesFilter } from './filter.js';
import { dimensionError, formatError, validationError, wrongInput } from './protocol.js';
import { toStoredVector } from './vectors.js';

const UUID = /^(?:urn:uuid:)?\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/** Unsigned integers or UUIDs (any common spelling, answered in lower-case hyphenated form). */
export function parsePointId(value: unknown): PointId {
  if (isUint(value)) return value;
  const uuid = typeof value === 'string' ? UUID.exec(value) : null;
  if (!uuid) throw formatError('data did not match any variant of untagged enum ExtendedPointId');
  return uuid.slice(1).join('-').toLowerCase();
}

const isNumberList = (value: unknown): value is number[] =>
  Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Checks a point's vector(s) against the collection and returns them in stored form. */
export function parseVectors(collection: Collection, value: unknown): Record<string, number[]> {
  let given: Record<string, unknown>;
  if (Array.isArray(value)) given = { [DEFAULT_VECTOR]: value };
  else if (isObject(value)) given = value;
  else throw formatError('data did not match any variant of untagged enum VectorStruct');
  const stored: Record<string, number[]> = {};
  for (const [name, vector] of Object.entries(given)) {
    stored[name] = checkVector(collection, name, vector);
  }
  return stored;
}

/** One vector for the vector `name` of the collection, dimension-checked, in stored form. */
export function checkVector(collection: Collection, name: string, vector: unknown): number[] {
  if (!isNumberList(vector)) {
    if (Array.isArray(vector) && vector.every(Array.isArray)) throw wrongInput('multivectors are not supported by the Qdrant stand-in');
    throw formatError('data did not match any variant of untagged enum VectorStruct');
  }
  const params = collection.vectors.get(name);
  if (!params) throw wrongInput(`Not existing vector name error: ${name}`);
  if (vector.length !== params.size) throw dimensionError(params.size, vector.length);
  return toStoredVector(params.distance, vector);
}

function parsePayload(value: unknown): Payload {
  if (value === undefined || value === null) return {};
  return expectObject(value, 'a map');
}

interface NewPoint {
  id: PointId;
  vectors: Record<string, number[]>;
  payload: Payload;
}

/** PUT /collections/{c}/points: the `points` list or the columnar `batch`, validated whole before applying. */
export function upsertPoints(collection: Collection, body: JsonObject, wait: boolean): Schemas['UpdateResult'] {
  const incoming = Array.isArray(body['points'])
    ? body['points'].map((raw): NewPoint => {
        const point = expectObject(raw, 'struct PointStruct');
        return {
          id: parsePointId(requireField(point, 'id')),
          vectors: parseVectors(collection, requireField(point, 'vector')),
          payload: parsePayload(point['payload']),
        };
      })
    : isObject(body['batch'])
      ? parseBatch(collection, body['batch'])
      : undefined;
  if (!incoming) throw formatError('data did not match any variant of untagged enum PointInsertOperations');
  const version = collection.nextOperationId();
  for (const point of incoming) collection.points.set(pointKey(point.id), { ...point, version });
  return { operation_id: version, status: wait ? 'completed' : 'acknowledged' };
}

function parseBatch(collection: Collection, batch: JsonObject): NewPoint[] {
  const ids = requireField(batch, 'ids');
  const vectors = requireField(batch, 'vectors');
  const payloads = batch['payloads'] ?? undefined;
  if (!Array.isArray(ids)) throw formatError('invalid type: map, expected a sequence');
  const columns = (Array.isArray(vectors) ? { [DEFAULT_VECTOR]: vectors } : expectObject(vectors, 'a map')) as Record<string, unknown[]>;
  for (const column of Object.values(columns)) {
    const count = Array.isArray(column) ? column.length : 0;
    if (count !== ids.length) throw validationError([`batch.batch: number of ids and vectors must be equal (${ids.length} != ${count})`]);
  }
  if (Array.isArray(payloads) && payloads.length !== ids.length) {
    throw validationError([`batch.batch: number of ids and payloads must be equal (${ids.length} != ${payloads.length})`]);
  }
  return ids.map((id, i) => ({
    id: parsePointId(id),
    vectors: parseVectors(collection, Object.fromEntries(Object.entries(columns).map(([name, column]) => [name, column[i]]))),
    payload: parsePayload(Array.isArray(payloads) ? payloads[i] : undefined),
  }));
}

/** POST /collections/{c}/points/delete with `{points: [ids]}` or `{filter}`. */
export function deletePoints(collection: Collection, body: JsonObject, wait: boolean): Schemas['UpdateResult'] {
  if (Array.isArray(body['points'])) {
    for (const id of body['points']) collection.points.delete(pointKey(parsePointId(id)));
  } else if (isObject(body['filter'])) {
    for (const [key, point] of collection.points) if (matchesFilter(point, body['filter'])) collection.points.delete(key);
  } else {
    throw formatError('data did not match any variant of untagged enum PointsSelector');
  }
  return { operation_id: collection.nextOperationId(), status: wait ? 'completed' : 'acknowledged' };
}

/** with_payload: true/false, a list of keys, `{include}` or `{exclude}`. */
export function projectPayload(payload: Payload, selector: unknown, byDefault: boolean): Payload | undefined {
  const wanted = selector === undefined || selector === null ? byDefault : selector;
  if (wanted === false) return undefined;
  if (wanted === true) return structuredClone(payload);
  const include = Array.isArray(wanted) ? wanted : isObject(wanted) && Array.isArray(wanted['include']) ? wanted['include'] : undefined;
  const exclude = isObject(wanted) && Array.isArray(wanted['exclude']) ? wanted['exclude'] : undefined;
  const keep = (key: string) => (include ? include.includes(key) : !exclude?.includes(key));
  return structuredClone(Object.fromEntries(Object.entries(payload).filter(([key]) => keep(key))));
}

/** with_vector: true/false or a list of vector names. Unnamed collections answer a bare array. */
export function projectVectors(
  collection: Collection,
  point: StoredPoint,
  selector: unknown,
): Schemas['VectorStructOutput'] | undefined {
  if (selector === undefined || selector === null || selector === false) return undefined;
  if (!collection.named) return [...(point.vectors[DEFAULT_VECTOR] ?? [])];
  const names = Array.isArray(selector) ? selector.map(String) : Object.keys(point.vectors);
  return Object.fromEntries(names.filter((n) => point.vectors[n]).map((n) => [n, [...(point.vectors[n] ?? [])]]));
}

export function toRecord(
  collection: Collection,
  point: StoredPoint,
  withPayload: unknown,
  withVector: unknown,
  payloadByDefault: boolean,
): Schemas['Record'] {
  const record: Schemas['Record'] = { id: point.id };
  const payload = projectPayload(point.payload, withPayload, payloadByDefault);
  if (payload !== undefined) record.payload = payload;
  const vector = projectVectors(collection, point, withVector);
  if (vector !== undefined) record.vector = vector;
  return record;
}
