import type { Schemas } from '@qdrant/js-client-rest';
import { isSingleVector, vectorParamsOf, type CollectionConfig, type VectorParams } from './config.js';
import { payloadValues } from './filter.js';
import { collectionAlreadyExists, collectionNotFound, wrongInput } from './protocol.js';

export type PointId = Schemas['ExtendedPointId'];
export type Payload = Record<string, unknown>;
export type PayloadIndex = Omit<Schemas['PayloadIndexInfo'], 'points'>;

export interface StoredPoint {
  id: PointId;
  /** By vector name; an unnamed collection keeps its vector under DEFAULT_VECTOR (""). */
  vectors: Record<string, number[]>;
  payload: Payload;
  /** operation_id of the last write to this point. */
  version: number;
}

/** Map key for a point id: numbers and UUIDs never collide. */
export function pointKey(id: PointId): string {
  return typeof id === 'number' ? `n:${id}` : `u:${id}`;
}

/** Qdrant orders integer ids before UUIDs, each ascending. */
export function comparePointIds(a: PointId, b: PointId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Collection {
  readonly points = new Map<string, StoredPoint>();
  payloadIndexes: Record<string, PayloadIndex> = {};
  private lastOperationId = -1;

  constructor(
    readonly name: string,
    readonly config: CollectionConfig,
  ) {}

  get vectors(): Map<string, VectorParams> {
    return vectorParamsOf(this.config);
  }

  get named(): boolean {
    return !isSingleVector(this.config.params.vectors ?? {});
  }

  nextOperationId(): number {
    return ++this.lastOperationId;
  }

  sortedPoints(): StoredPoint[] {
    return [...this.points.values()].sort((a, b) => comparePointIds(a.id, b.id));
  }

  /** Swaps in a snapshot's contents; versions restart as after a restore. */
  replaceContents(points: StoredPoint[], payloadIndexes: Record<string, PayloadIndex>): void {
    this.points.clear();
    for (const point of points) this.points.set(pointKey(point.id), point);
    this.payloadIndexes = structuredClone(payloadIndexes);
  }

  info(): Schemas['CollectionInfo'] {
    const payloadSchema: Schemas['CollectionInfo']['payload_schema'] = {};
    for (const [field, index] of Object.entries(this.payloadIndexes)) {
      const points = [...this.points.values()].filter((p) => payloadValues(p.payload, field).length > 0).length;
      payloadSchema[field] = { ...index, points };
    }
    return {
      status: 'green',
      optimizer_status: 'ok',
      // Below the indexing threshold nothing is in an HNSW index, as on a real small collection.
      indexed_vectors_count: 0,
      points_count: this.points.size,
      segments_count: 1,
      config: structuredClone(this.config),
      payload_schema: payloadSchema,
    };
  }
}

/** Collections and aliases of one stand-in. */
export class Store {
  readonly collections = new Map<string, Collection>();
  /** alias name → collection name */
  readonly aliases = new Map<string, string>();

  /** The collection a name or alias refers to, if any. */
  find(nameOrAlias: string): Collection | undefined {
    return this.collections.get(nameOrAlias) ?? this.collections.get(this.aliases.get(nameOrAlias) ?? '');
  }

  /** Like find, but 404 with Qdrant's message when missing. */
  get(nameOrAlias: string): Collection {
    const collection = this.find(nameOrAlias);
    if (!collection) throw collectionNotFound(nameOrAlias);
    return collection;
  }

  create(name: string, config: CollectionConfig): Collection {
    if (this.collections.has(name)) throw collectionAlreadyExists(name);
    if (this.aliases.has(name)) {
      throw wrongInput(`Can't create collection with name ${name}. Alias with the same name already exists`);
    }
    const collection = new Collection(name, config);
    this.collections.set(name, collection);
    return collection;
  }

  /** Deletes by real name only (aliases are not resolved); its aliases go with it. */
  delete(name: string): boolean {
    if (!this.collections.delete(name)) return false;
    for (const [alias, target] of this.aliases) if (target === name) this.aliases.delete(alias);
    return true;
  }

  listAliases(collection?: string): Schemas['AliasDescription'][] {
    return [...this.aliases]
      .filter(([, target]) => collection === undefined || target === collection)
      .map(([alias_name, collection_name]) => ({ alias_name, collection_name }))
      .sort((a, b) => a.alias_name.localeCompare(b.alias_name));
  }
}
