import { expectObject, invalidType, isObject, requireField, type JsonObject } from './body.js';
import type { Store } from './collections.js';
import { collectionAlreadyExists, collectionNotFound, formatError, notFound } from './protocol.js';

function requireString(body: JsonObject, key: string): string {
  const value = requireField(body, key);
  if (typeof value !== 'string') throw invalidType(value, 'a string');
  return value;
}

/**
 * POST /collections/aliases: the actions run in order on a working copy that replaces the
 * aliases only when every action succeeded, so a batch with one bad action changes nothing.
 */
export function changeAliases(store: Store, body: JsonObject): true {
  const actions = requireField(body, 'actions');
  if (!Array.isArray(actions)) throw invalidType(actions, 'a sequence');
  const aliases = new Map(store.aliases);
  for (const raw of actions) {
    const action = expectObject(raw, 'enum AliasOperations');
    if (isObject(action['create_alias'])) {
      const collection = requireString(action['create_alias'], 'collection_name');
      const alias = requireString(action['create_alias'], 'alias_name');
      if (!store.collections.has(collection)) throw collectionNotFound(collection);
      if (store.collections.has(alias)) throw collectionAlreadyExists(alias);
      aliases.set(alias, collection);
    } else if (isObject(action['delete_alias'])) {
      aliases.delete(requireString(action['delete_alias'], 'alias_name'));
    } else if (isObject(action['rename_alias'])) {
      const from = requireString(action['rename_alias'], 'old_alias_name');
      const to = requireString(action['rename_alias'], 'new_alias_name');
      const target = aliases.get(from);
      if (target === undefined) throw notFound(`Alias \`${from}\` doesn't exist!`);
      if (store.collections.has(to)) throw collectionAlreadyExists(to);
      aliases.delete(from);
      aliases.set(to, target);
    } else {
      throw formatError('data did not match any variant of untagged enum AliasOperations');
    }
  }
  store.aliases.clear();
  for (const [alias, collection] of aliases) store.aliases.set(alias, collection);
  return true;
}
