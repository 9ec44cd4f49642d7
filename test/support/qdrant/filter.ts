import { expectObject, isObject, type JsonObject } from './body.js';
import type { Payload, StoredPoint } from './collections.js';
import { formatError, wrongInput } from './protocol.js';

/**
 * The values at a payload key: `a.b` walks objects, `a[].b` walks arrays of objects, and an
 * array at the end of the path yields its elements (Qdrant matches any of them).
 */
export function payloadValues(payload: Payload, key: string): unknown[] {
  let current: unknown[] = [payload];
  for (const segment of key.split('.')) {
    const name = segment.endsWith('[]') ? segment.slice(0, -2) : segment;
    current = current.flatMap((value) => (isObject(value) && name in value ? [value[name]] : []));
    if (segment.endsWith('[]')) current = current.flatMap((value) => (Array.isArray(value) ? value : []));
  }
  return current.flatMap((value) => (Array.isArray(value) ? value : [value]));
}

const asList = (value: unknown): unknown[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);

/** Qdrant's Filter: `must` all, `should` at least one (when given), `must_not` none. */
export function matchesFilter(point: StoredPoint, filter: unknown): boolean {
  if (filter === undefined || filter === null) return true;
  const f = expectObject(filter, 'struct Filter');
  const must = asList(f['must']);
  const should = asList(f['should']);
  const mustNot = asList(f['must_not']);
  return (
    must.every((c) => matchesCondition(point, c)) &&
    (should.length === 0 || should.some((c) => matchesCondition(point, c))) &&
    !mustNot.some((c) => matchesCondition(point, c))
  );
}

function matchesCondition(point: StoredPoint, condition: unknown): boolean {
  if (!isObject(condition)) throw formatError('data did not match any variant of untagged enum Condition');
  if (typeof condition['key'] === 'string') return matchesField(point.payload, condition['key'], condition);
  if (Array.isArray(condition['has_id'])) {
    const ids = new Set(condition['has_id'].map((id) => (typeof id === 'string' ? id.toLowerCase() : id)));
    return ids.has(point.id);
  }
  if (isObject(condition['is_empty'])) return payloadValues(point.payload, String(condition['is_empty']['key'])).length === 0;
  if (isObject(condition['is_null'])) {
    return payloadValues(point.payload, String(condition['is_null']['key'])).some((v) => v === null);
  }
  if ('must' in condition || 'should' in condition || 'must_not' in condition) return matchesFilter(point, condition);
  throw wrongInput(`condition not supported by the Qdrant stand-in: ${JSON.stringify(condition)}`);
}

function matchesField(payload: Payload, key: string, condition: JsonObject): boolean {
  const values = payloadValues(payload, key);
  const match = condition['match'];
  if (isObject(match)) {
    if ('value' in match) return values.some((v) => v === match['value']);
    if (Array.isArray(match['any'])) return values.some((v) => (match['any'] as unknown[]).includes(v));
    if (Array.isArray(match['except'])) return !values.some((v) => (match['except'] as unknown[]).includes(v));
    if (typeof match['text'] === 'string') return values.some((v) => typeof v === 'string' && v.includes(String(match['text'])));
  }
  const range = condition['range'];
  if (isObject(range)) {
    const bounds = (v: number) =>
      (typeof range['gt'] !== 'number' || v > range['gt']) &&
      (typeof range['gte'] !== 'number' || v >= range['gte']) &&
      (typeof range['lt'] !== 'number' || v < range['lt']) &&
      (typeof range['lte'] !== 'number' || v <= range['lte']);
    return values.some((v) => typeof v === 'number' && bounds(v));
  }
  if (condition['is_empty'] === true) return values.length === 0;
  if (condition['is_null'] === true) return values.some((v) => v === null);
  throw wrongInput(`field condition not supported by the Qdrant stand-in: ${JSON.stringify(condition)}`);
}
