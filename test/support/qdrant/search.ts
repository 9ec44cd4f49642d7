import type { Schemas } from '@qdrant/js-client-rest';
import { isObject, isUint, optionalString, optionalUint, requireField, type JsonObject } from './body.js';
import { comparePointIds, pointKey, type Collection, type PointId, type StoredPoint } from './collections.js';
import { DEFAULT_VECTOR } from './config.js';
import { matchesFilter } from './filter.js';
import { checkVector, parsePointId, projectPayload, projectVectors, toRecord } from './points.js';
import { formatError, notFound, wrongInput } from './protocol.js';
import { compareScores, meetsThreshold, score } from './vectors.js';

/** POST /collections/{c}/points/count: `{exact, filter?}` (counts are always exact here). */
export function countPoints(collection: Collection, body: JsonObject): Schemas['CountResult'] {
  let count = 0;
  for (const point of collection.points.values()) if (matchesFilter(point, body['filter'])) count++;
  return { count };
}

/** POST /collections/{c}/points/scroll: id order, `offset` inclusive, payload on and vectors off by default. */
export function scrollPoints(collection: Collection, body: JsonObject): Schemas['ScrollResult'] {
  const limit = optionalUint(body, 'limit', 1) ?? 10;
  const offset = body['offset'] === undefined || body['offset'] === null ? undefined : parsePointId(body['offset']);
  const matching = collection.sortedPoints().filter((p) => matchesFilter(p, body['filter']));
  let start = offset === undefined ? 0 : matching.findIndex((p) => comparePointIds(p.id, offset) >= 0);
  if (start < 0) start = matching.length;
  const page = matching.slice(start, start + limit);
  return {
    points: page.map((p) => toRecord(collection, p, body['with_payload'], body['with_vector'], true)),
    next_page_offset: matching[start + limit]?.id ?? null,
  };
}

/** POST /collections/{c}/points: the records that exist, in the order asked. */
export function retrievePoints(collection: Collection, body: JsonObject): Schemas['Record'][] {
  const ids = requireField(body, 'ids');
  if (!Array.isArray(ids)) throw formatError('invalid type: map, expected a sequence');
  const seen = new Set<string>();
  const records: Schemas['Record'][] = [];
  for (const id of ids.map(parsePointId)) {
    const point = collection.points.get(pointKey(id));
    if (!point || seen.has(pointKey(id))) continue;
    seen.add(pointKey(id));
    records.push(toRecord(collection, point, body['with_payload'], body['with_vector'], true));
  }
  return records;
}

/**
 * POST /collections/{c}/points/query with `query` as a vector, a point id, or `{nearest: ...}`.
 * Scores use the collection's distance; a point used as the query is left out of its own results.
 */
export function queryPoints(collection: Collection, body: JsonObject): Schemas['QueryResponse'] {
  if (body['prefetch'] !== undefined && body['prefetch'] !== null) throw wrongInput('prefetch is not supported by the Qdrant stand-in');
  const limit = optionalUint(body, 'limit', 1) ?? 10;
  const offset = optionalUint(body, 'offset') ?? 0;
  const using = optionalString(body, 'using') ?? DEFAULT_VECTOR;
  const params = collection.vectors.get(using);
  if (!params) throw wrongInput(`Not existing vector name error: ${using}`);
  const threshold = typeof body['score_threshold'] === 'number' ? body['score_threshold'] : undefined;

  const target = queryTarget(collection, using, body['query']);
  const candidates = collection
    .sortedPoints()
    .filter((p) => p.vectors[using] && matchesFilter(p, body['filter']) && !target?.exclude?.has(pointKey(p.id)));
  const scored = candidates
    .map((point) => ({ point, score: target ? score(params.distance, point.vectors[using] ?? [], target.vector) : 0 }))
    .filter((s) => meetsThreshold(params.distance, s.score, threshold));
  if (target) {
    const byScore = compareScores(params.distance);
    scored.sort((a, b) => byScore(a.score, b.score) || comparePointIds(a.point.id, b.point.id));
  }
  return {
    points: scored.slice(offset, offset + limit).map(({ point, score: value }) => scoredPoint(collection, point, value, body)),
  };
}

interface QueryTarget {
  vector: number[];
  exclude?: Set<string>;
}

function queryTarget(collection: Collection, using: string, query: unknown): QueryTarget | undefined {
  if (query === undefined || query === null) return undefined;
  let input: unknown = query;
  if (isObject(query)) {
    if (!('nearest' in query)) {
      throw wrongInput(`only nearest queries are supported by the Qdrant stand-in, got ${Object.keys(query).join(', ')}`);
    }
    input = query['nearest'];
  }
  if (Array.isArray(input)) return { vector: checkVector(collection, using, input) };
  if (isUint(input) || typeof input === 'string') return pointAsQuery(collection, using, parsePointId(input));
  throw formatError('data did not match any variant of untagged enum QueryInterface');
}

function pointAsQuery(collection: Collection, using: string, id: PointId): QueryTarget {
  const point = collection.points.get(pointKey(id));
  if (!point) throw notFound(`No point with id ${id} found`);
  const vector = point.vectors[using];
  if (!vector) throw wrongInput(`Vector ${using === DEFAULT_VECTOR ? 'default' : using} is not found in point ${id}`);
  return { vector, exclude: new Set([pointKey(id)]) };
}

function scoredPoint(collection: Collection, point: StoredPoint, value: number, body: JsonObject): Schemas['ScoredPoint'] {
  const result: Schemas['ScoredPoint'] = { id: point.id, version: point.version, score: value };
  const payload = projectPayload(point.payload, body['with_payload'], false);
  if (payload !== undefined) result.payload = payload;
  const vector = projectVectors(collection, point, body['with_vector']);
  if (vector !== undefined) result.vector = vector;
  return result;
}
