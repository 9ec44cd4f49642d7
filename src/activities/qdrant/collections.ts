import type { QdrantAlias } from '../../config/manifest.js';
import { isOwnedCollection } from '../../core/runNames.js';
import { openQdrant, qdrantCall, type QdrantEndpoint, type QdrantSession } from './client.js';

export async function deleteOwnedCollection(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<boolean> {
  if (!isOwnedCollection(collection)) throw new Error(`refusing to delete "${collection}": not a collection ragops created`);
  const { exists } = await qdrantCall(`checking "${collection}"`, endpoint, () => session.client.collectionExists(collection));
  if (!exists) return false;
  await qdrantCall(`deleting "${collection}"`, endpoint, () => session.client.deleteCollection(collection));
  return true;
}

/** Collection names on the node, sorted; aliases are not collections. */
export async function listCollectionNames(qdrant: QdrantEndpoint): Promise<string[]> {
  const { client } = await openQdrant(qdrant);
  const { collections } = await qdrantCall('listing collections', qdrant, () => client.getCollections());
  return collections.map((collection) => collection.name).sort();
}

export async function collectionExists(qdrant: QdrantEndpoint, collection: string): Promise<boolean> {
  const { client } = await openQdrant(qdrant);
  return (await qdrantCall(`checking "${collection}"`, qdrant, () => client.collectionExists(collection))).exists;
}

export function createQdrantCollectionActivities() {
  return {

    /** Server version and the alias map, which collection snapshots do not carry. */
    async describeQdrant(qdrant: QdrantEndpoint): Promise<{ version: string; aliases: QdrantAlias[] }> {
      const { client } = await openQdrant(qdrant);
      const [info, { aliases }] = await Promise.all([
        qdrantCall('reading the version', qdrant, () => client.versionInfo()),
        qdrantCall('listing aliases', qdrant, () => client.getAliases()),
      ]);
      return {
        version: info.version,
        aliases: aliases
          .map((alias) => ({ alias: alias.alias_name, collection: alias.collection_name }))
          .sort((a, b) => a.alias.localeCompare(b.alias)),
      };
    },

    async deleteRunCollection({ qdrant, collection }: { qdrant: QdrantEndpoint; collection: string }): Promise<boolean> {
      return deleteOwnedCollection(await openQdrant(qdrant), qdrant, collection);
    },


    /** Points every alias at its collection in one all-or-nothing request. */
    async applyQdrantAliases({ qdrant, aliases }: { qdrant: QdrantEndpoint; aliases: QdrantAlias[] }): Promise<number> {
      if (aliases.length === 0) return 0;
      const session = await openQdrant(qdrant);
      await qdrantCall('switching aliases', qdrant, () =>
        session.client.updateCollectionAliases({
          actions: aliases.map(({ alias, collection }) => ({ create_alias: { alias_name: alias, collection_name: collection } })),
        }),
      );
      return aliases.length;
    },
  };
}
