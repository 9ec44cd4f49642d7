import type { Schemas } from '@qdrant/js-client-rest';
import { expectVariant, invalidType, isObject, requireField, type JsonObject } from './body.js';
import type { Collection, PayloadIndex } from './collections.js';
import { formatError } from './protocol.js';

const SCHEMA_TYPES: readonly Schemas['PayloadSchemaType'][] = ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'];

/** PUT /collections/{c}/index `{field_name, field_schema}`: recorded in the collection's payload_schema. */
export function createPayloadIndex(collection: Collection, body: JsonObject, wait: boolean): Schemas['UpdateResult'] {
  const field = requireField(body, 'field_name');
  if (typeof field !== 'string') throw invalidType(field, 'a string');
  const schema = body['field_schema'];
  let index: PayloadIndex;
  if (typeof schema === 'string') index = { data_type: expectVariant(schema, SCHEMA_TYPES) };
  else if (isObject(schema)) {
    index = { data_type: expectVariant(schema['type'], SCHEMA_TYPES), params: schema as Schemas['PayloadSchemaParams'] };
  }
  else throw formatError('data did not match any variant of untagged enum PayloadFieldSchema');
  collection.payloadIndexes[field] = index;
  return { operation_id: collection.nextOperationId(), status: wait ? 'completed' : 'acknowledged' };
}

/** DELETE /collections/{c}/index/{field}. */
export function deletePayloadIndex(collection: Collection, field: string, wait: boolean): Schemas['UpdateResult'] {
  delete collection.payloadIndexes[field];
  return { operation_id: collection.nextOperationId(), status: wait ? 'completed' : 'acknowledged' };
}
