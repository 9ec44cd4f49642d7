import { ApplicationFailure } from '@temporalio/activity';
import type { Schemas } from '@qdrant/js-client-rest';
import {
  cloneCollectionConfig,
  collectionMismatches,
  isReingestCollection,
  payloadIndexesOf,
  reingestCollectionName,
  type ClonedCollection,
  type CloneOptions,
  type PointId,
} from '../../core/reingest.js';
import { describeFailure, openQdrant, type QdrantEndpoint, type QdrantSession } from './client.js';

// The Qdrant side of the `reingest` runbook: the alias and the live collection it points at,
// the new collection (created idempotently, payload indexes included), its points, the golden
// queries, the one-request alias switch and the deletes that only touch what ragops made or
// what the operator asked for.

/** The HTTP status of a failed client call, when the server answered. */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') return status;
  if ((error as { name?: string }).name === 'QdrantClientResourceExhaustedError' || (error as Error).constructor?.name === 'QdrantClientResourceExhaustedError') return 429;
  return undefined;
}

function adviceFor(status: number): string {
  if (status === 401 || status === 403) return 'check the stack\'s qdrant.apiKey reference (a read-only key cannot write)';
  if (status === 404) return 'check the collection or alias name, and that it was not deleted meanwhile';
  if (status === 409) return 'another run or an operator created it meanwhile';
  return 'Qdrant refused the request as it is; a retry would get the same answer';
}

/**
 * The error of a failed Qdrant call, naming what and where: 4xx (but 408 and 429) fails the
 * step at once, with what to do; 5xx, 429 and connection faults stay retryable.
 */
export function reingestFailure(what: string, endpoint: QdrantEndpoint, error: unknown): Error {
  const described = describeFailure(what, endpoint, error);
  const status = statusOf(error);
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return ApplicationFailure.nonRetryable(`${described.message} (HTTP ${status}; ${adviceFor(status)})`, `Qdrant${status}`);
  }
  return described;
}

export async function reingestCall<T>(what: string, endpoint: QdrantEndpoint, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw reingestFailure(what, endpoint, error);
  }
}

const invalid = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidInput');

function requireReingestCollection(collection: string, doing: string): void {
  if (!isReingestCollection(collection)) {
    throw invalid(`refusing to ${doing} "${collection}": not a collection a re-ingestion created (ragops_reingest_<run tag>_<alias>)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

/** The collection `alias` points at; fails at once when it is not an alias (or a collection's own name). */
export async function resolveAlias(session: QdrantSession, endpoint: QdrantEndpoint, alias: string): Promise<string> {
  const { aliases } = await reingestCall('listing aliases', endpoint, () => session.client.getAliases());
  const found = aliases.find((entry) => entry.alias_name === alias);
  if (found) return found.collection_name;
  const { exists } = await reingestCall(`checking "${alias}"`, endpoint, () => session.client.collectionExists(alias));
  throw invalid(
    exists
      ? `Qdrant at ${endpoint.url}: "${alias}" is a collection, not an alias; a blue-green re-ingestion switches an alias: create one pointing at it first (POST /collections/aliases, create_alias) and query through the alias`
      : `Qdrant at ${endpoint.url}: there is no alias "${alias}" (aliases: ${aliases.map((a) => a.alias_name).sort().join(', ') || 'none'})`,
  );
}

export async function collectionInfo(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<Schemas['CollectionInfo']> {
  return reingestCall(`reading collection "${collection}"`, endpoint, () => session.client.getCollection(collection));
}

/** Aliases pointing at `collection` (its real name). */
export async function aliasesOf(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<string[]> {
  const { aliases } = await reingestCall(`listing aliases of "${collection}"`, endpoint, () => session.client.getCollectionAliases(collection));
  return aliases.map((entry) => entry.alias_name).sort();
}

export async function exactCount(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<number> {
  const { count } = await reingestCall(`counting points of "${collection}"`, endpoint, () => session.client.count(collection, { exact: true }));
  return count;
}

export interface SearchHit {
  id: PointId;
  score: number;
  payload?: Record<string, unknown>;
}

/** The top `limit` points by `vector` (named `vectorName` in a named-vector collection). */
export async function searchTopK(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  request: { collection: string; vector: number[]; vectorName?: string; limit: number; withPayload?: boolean },
): Promise<SearchHit[]> {
  const { points } = await reingestCall(`querying "${request.collection}"`, endpoint, () =>
    session.client.query(request.collection, {
      query: request.vector,
      ...(request.vectorName === undefined ? {} : { using: request.vectorName }),
      limit: request.limit,
      with_payload: request.withPayload ?? false,
      with_vector: false,
    }),
  );
  return points.map((point) => ({
    id: point.id,
    score: point.score,
    ...(point.payload ? { payload: point.payload as Record<string, unknown> } : {}),
  }));
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface ReingestPoint {
  id: PointId;
  vector: number[];
  payload?: Record<string, unknown>;
}

/**
 * Upserts a batch into the run's collection with `wait=true`, so a returned call means the points
 * are applied; ids derived from the source keys make a retried batch overwrite, never duplicate.
 */
export async function upsertBatch(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  request: { collection: string; vectorName?: string; points: ReingestPoint[] },
): Promise<number> {
  requireReingestCollection(request.collection, 'write points into');
  if (request.points.length === 0) return 0;
  const points = request.points.map((point) => ({
    id: point.id,
    vector: request.vectorName === undefined ? point.vector : { [request.vectorName]: point.vector },
    payload: point.payload ?? {},
  }));
  const first = request.points[0]!.id;
  const last = request.points[request.points.length - 1]!.id;
  const what = `upserting ${points.length} points (ids ${first}…${last}) into "${request.collection}"`;
  const result = await reingestCall(what, endpoint, () => session.client.upsert(request.collection, { wait: true, points }));
  // wait=true answers once the points are applied; anything else would let a checkpoint run ahead of the data.
  if (result.status !== 'completed') throw new Error(`Qdrant at ${endpoint.url}: ${what} answered "${result.status}", not "completed"`);
  return points.length;
}

export interface CreatedCollection {
  collection: string;
  /** False when an earlier attempt had created it (and it matched the plan). */
  created: boolean;
  /** Payload indexes this call created (the others were there already). */
  indexesCreated: string[];
}

/**
 * Creates the run's collection and its payload indexes, idempotently: a collection left by an
 * earlier attempt (or a create whose answer was lost, 409) is checked against the plan and kept
 * when it matches, refused when it does not; indexes already there are not created again.
 */
export async function createCollectionWithIndexes(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  collection: string,
  plan: Pick<ClonedCollection, 'create' | 'payloadIndexes'>,
): Promise<CreatedCollection> {
  requireReingestCollection(collection, 'create');
  const { client } = session;
  let created = false;
  const { exists } = await reingestCall(`checking "${collection}"`, endpoint, () => client.collectionExists(collection));
  if (!exists) {
    try {
      await client.createCollection(collection, plan.create);
      created = true;
    } catch (error) {
      // 409: it exists after all (an answer lost on the way back); compared with the plan below.
      if (statusOf(error) !== 409) throw reingestFailure(`creating collection "${collection}"`, endpoint, error);
    }
  }
  const info = await collectionInfo(session, endpoint, collection);
  // Vectors here; the indexes below, where a missing one is created rather than refused.
  const mismatches = collectionMismatches({ create: plan.create, payloadIndexes: [] }, info);
  if (mismatches.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `Qdrant at ${endpoint.url}: collection "${collection}" already exists and is not the planned one (${mismatches.join('; ')}); delete it (it is a ragops re-ingestion collection) and run again`,
      'CollectionMismatch',
    );
  }
  const present = new Map(payloadIndexesOf(info).map((index) => [index.field_name, index.field_schema]));
  const indexesCreated: string[] = [];
  for (const index of plan.payloadIndexes) {
    const have = present.get(index.field_name);
    const typeOf = (schema: unknown) => (typeof schema === 'string' ? schema : (schema as { type?: string } | undefined)?.type);
    if (have !== undefined) {
      if (typeOf(have) !== typeOf(index.field_schema)) {
        throw ApplicationFailure.nonRetryable(
          `Qdrant at ${endpoint.url}: collection "${collection}" has a ${typeOf(have)} payload index on "${index.field_name}", the plan says ${typeOf(index.field_schema)}; delete the collection and run again`,
          'CollectionMismatch',
        );
      }
      continue;
    }
    await reingestCall(`creating the payload index on "${index.field_name}" of "${collection}"`, endpoint, () =>
      client.createPayloadIndex(collection, { wait: true, field_name: index.field_name, field_schema: index.field_schema }),
    );
    indexesCreated.push(index.field_name);
  }
  return { collection, created, indexesCreated };
}

export interface AliasSwitch {
  alias: string;
  /** Where the alias pointed before (undefined when it did not exist). */
  from: string | undefined;
  to: string;
  /** False when it already pointed at `to` (an earlier attempt switched it). */
  switched: boolean;
}

/**
 * Points `alias` at `to` in ONE `POST /collections/aliases` request (delete + create), so every
 * query sees the old or the new collection, never none. With `expectFrom`, an alias that points
 * at a third collection (someone else moved it) is refused; one that already points at `to` is
 * left as it is — a retried switch succeeds without a second request.
 */
export async function switchAlias(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  request: { alias: string; to: string; expectFrom?: string },
): Promise<AliasSwitch> {
  const { alias, to, expectFrom } = request;
  const { aliases } = await reingestCall('listing aliases', endpoint, () => session.client.getAliases());
  const current = aliases.find((entry) => entry.alias_name === alias)?.collection_name;
  if (current === to) return { alias, from: current, to, switched: false };
  if (expectFrom !== undefined && current !== expectFrom) {
    throw ApplicationFailure.nonRetryable(
      `Qdrant at ${endpoint.url}: alias "${alias}" points at ${current === undefined ? 'nothing' : `"${current}"`}, not at "${expectFrom}" as planned; someone moved it meanwhile — refusing to switch it to "${to}"; check the alias and run again`,
      'AliasMoved',
    );
  }
  await reingestCall(`switching alias "${alias}" from "${current ?? '(none)'}" to "${to}"`, endpoint, () =>
    session.client.updateCollectionAliases({
      actions: [{ delete_alias: { alias_name: alias } }, { create_alias: { alias_name: alias, collection_name: to } }],
    }),
  );
  return { alias, from: current, to, switched: true };
}

/**
 * Deletes a collection of this runbook. `kind: 'new'` (a failed gate, a cancel, the new side of a
 * rollback) must be a ragops re-ingestion collection; `kind: 'previous'` is the collection the
 * alias pointed at before the switch, deleted when the window has passed because the operator
 * asked for this run. Either way, a collection an alias points at is live and never deleted.
 */
export async function deleteCollectionOf(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  request: { collection: string; kind: 'new' | 'previous' },
): Promise<boolean> {
  const { collection, kind } = request;
  if (kind === 'new') requireReingestCollection(collection, 'delete');
  const { exists } = await reingestCall(`checking "${collection}"`, endpoint, () => session.client.collectionExists(collection));
  if (!exists) return false;
  const pointing = await aliasesOf(session, endpoint, collection);
  if (pointing.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `Qdrant at ${endpoint.url}: refusing to delete "${collection}": alias${pointing.length === 1 ? '' : 'es'} ${pointing.map((a) => `"${a}"`).join(', ')} point${pointing.length === 1 ? 's' : ''} at it, so it is live; switch the alias away first`,
      'CollectionLive',
    );
  }
  await reingestCall(`deleting "${collection}"`, endpoint, () => session.client.deleteCollection(collection));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Activities

export interface ReingestTargetPlan {
  alias: string;
  /** The collection the alias points at now. */
  live: string;
  livePoints: number;
  /** The run's new collection. */
  collection: string;
  clone: ClonedCollection;
}

export function createQdrantReingestActivities() {
  return {
    /**
     * Plan of the Qdrant side, before anything is created: the live collection behind the alias,
     * the new collection's name and its config cloned from the live one (the embedder's size
     * when it differs).
     */
    async planReingestTarget(request: { qdrant: QdrantEndpoint; alias: string; runTag: string } & CloneOptions): Promise<ReingestTargetPlan> {
      const { qdrant, alias, runTag, ...options } = request;
      let collection: string;
      try {
        collection = reingestCollectionName(alias, runTag);
      } catch (error) {
        throw invalid((error as Error).message);
      }
      const session = await openQdrant(qdrant);
      const live = await resolveAlias(session, qdrant, alias);
      const info = await collectionInfo(session, qdrant, live);
      let clone: ClonedCollection;
      try {
        clone = cloneCollectionConfig(info, options);
      } catch (error) {
        throw invalid(`Qdrant at ${qdrant.url}: cloning "${live}" (behind "${alias}"): ${(error as Error).message}`);
      }
      // points_count in the info is an estimate on a big collection; the plan records the exact figure.
      return { alias, live, livePoints: await exactCount(session, qdrant, live), collection, clone };
    },

    async readCollectionInfo({ qdrant, collection }: { qdrant: QdrantEndpoint; collection: string }): Promise<Schemas['CollectionInfo']> {
      return collectionInfo(await openQdrant(qdrant), qdrant, collection);
    },

    async resolveQdrantAlias({ qdrant, alias }: { qdrant: QdrantEndpoint; alias: string }): Promise<string> {
      return resolveAlias(await openQdrant(qdrant), qdrant, alias);
    },

    async createReingestCollection(request: { qdrant: QdrantEndpoint; collection: string; clone: Pick<ClonedCollection, 'create' | 'payloadIndexes'> }): Promise<CreatedCollection> {
      return createCollectionWithIndexes(await openQdrant(request.qdrant), request.qdrant, request.collection, request.clone);
    },

    async upsertReingestPoints(request: { qdrant: QdrantEndpoint; collection: string; vectorName?: string; points: ReingestPoint[] }): Promise<number> {
      return upsertBatch(await openQdrant(request.qdrant), request.qdrant, request);
    },

    async countCollectionPoints({ qdrant, collection }: { qdrant: QdrantEndpoint; collection: string }): Promise<number> {
      return exactCount(await openQdrant(qdrant), qdrant, collection);
    },

    async searchCollection(request: { qdrant: QdrantEndpoint; collection: string; vector: number[]; vectorName?: string; limit: number; withPayload?: boolean }): Promise<SearchHit[]> {
      return searchTopK(await openQdrant(request.qdrant), request.qdrant, request);
    },

    async switchReingestAlias(request: { qdrant: QdrantEndpoint; alias: string; to: string; expectFrom?: string }): Promise<AliasSwitch> {
      return switchAlias(await openQdrant(request.qdrant), request.qdrant, request);
    },

    async deleteReingestCollection(request: { qdrant: QdrantEndpoint; collection: string; kind: 'new' | 'previous' }): Promise<boolean> {
      return deleteCollectionOf(await openQdrant(request.qdrant), request.qdrant, request);
    },
  };
}
