import { changeAliases } from './aliases.js';
import type { AuthKeys } from './auth.js';
import { jsonBody } from './body.js';
import type { Store } from './collections.js';
import { parseCreateCollection } from './config.js';
import type { Faults } from './faults.js';
import { createPayloadIndex, deletePayloadIndex } from './payload-index.js';
import { deletePoints, upsertPoints } from './points.js';
import { ACCEPTED, isWaitFalse, isWaitTrue, QdrantError, RawReply, type RequestContext } from './protocol.js';
import { recoverFromLocation, recoverFromUpload } from './recover.js';
import { countPoints, queryPoints, retrievePoints, scrollPoints } from './search.js';
import type { SnapshotStorage } from './snapshots.js';

/** Everything one stand-in instance holds. */
export interface Standin {
  store: Store;
  snapshots: SnapshotStorage;
  faults: Faults;
  keys: AuthKeys;
  version: string;
}

type RouteHandler = (ctx: RequestContext, standin: Standin) => unknown;

export interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler;
}

function route(method: string, template: string, handler: RouteHandler): Route {
  const keys: string[] = [];
  const source = template.replace(/\{(\w+)\}/g, (_, key: string) => {
    keys.push(key);
    return '([^/]+)';
  });
  return { method, pattern: new RegExp(`^${source}$`), keys, handler };
}

const text = (body: string) => new RawReply(200, { 'content-type': 'text/plain; charset=utf-8' }, body);
const collectionOf = (ctx: RequestContext, s: Standin) => s.store.get(ctx.params['collection'] ?? '');
/** Bodies of read requests (count, scroll, query) may be empty. */
const optionalBody = (ctx: RequestContext) => jsonBody(ctx, { optional: true });

/** Runs `work` now, or in the background answering 202 when the caller sent `wait=false`. */
async function maybeInBackground<T>(ctx: RequestContext, work: () => Promise<T>): Promise<T | typeof ACCEPTED> {
  if (!isWaitFalse(ctx)) return work();
  work().catch(() => undefined);
  return ACCEPTED;
}

export const routes: Route[] = [
  route('GET', '/', (_ctx, s) =>
    new RawReply(200, { 'content-type': 'application/json' }, JSON.stringify({
      title: 'qdrant - vector search engine', version: s.version, commit: 'standin0000000000000000000000000000000000',
    }))),
  route('GET', '/healthz', () => text('healthz check passed')),
  route('GET', '/livez', () => text('healthz check passed')),
  route('GET', '/readyz', () => text('all shards are ready')),

  route('GET', '/collections', (_ctx, s) => ({ collections: [...s.store.collections.keys()].map((name) => ({ name })) })),
  route('GET', '/aliases', (_ctx, s) => ({ aliases: s.store.listAliases() })),
  route('POST', '/collections/aliases', (ctx, s) => changeAliases(s.store, jsonBody(ctx))),
  route('GET', '/collections/{collection}', (ctx, s) => collectionOf(ctx, s).info()),
  route('PUT', '/collections/{collection}', (ctx, s) => {
    s.store.create(ctx.params['collection'] ?? '', parseCreateCollection(jsonBody(ctx)));
    return true;
  }),
  route('DELETE', '/collections/{collection}', (ctx, s) => s.store.delete(ctx.params['collection'] ?? '')),
  route('GET', '/collections/{collection}/exists', (ctx, s) =>
    ({ exists: s.store.find(ctx.params['collection'] ?? '') !== undefined })),
  route('GET', '/collections/{collection}/aliases', (ctx, s) => ({ aliases: s.store.listAliases(collectionOf(ctx, s).name) })),
  route('PUT', '/collections/{collection}/index', (ctx, s) =>
    createPayloadIndex(collectionOf(ctx, s), jsonBody(ctx), isWaitTrue(ctx))),
  route('DELETE', '/collections/{collection}/index/{field}', (ctx, s) =>
    deletePayloadIndex(collectionOf(ctx, s), ctx.params['field'] ?? '', isWaitTrue(ctx))),

  route('PUT', '/collections/{collection}/points', (ctx, s) => upsertPoints(collectionOf(ctx, s), jsonBody(ctx), isWaitTrue(ctx))),
  route('POST', '/collections/{collection}/points', (ctx, s) => retrievePoints(collectionOf(ctx, s), jsonBody(ctx))),
  route('POST', '/collections/{collection}/points/delete', (ctx, s) =>
    deletePoints(collectionOf(ctx, s), jsonBody(ctx), isWaitTrue(ctx))),
  route('POST', '/collections/{collection}/points/count', (ctx, s) => countPoints(collectionOf(ctx, s), optionalBody(ctx))),
  route('POST', '/collections/{collection}/points/scroll', (ctx, s) => scrollPoints(collectionOf(ctx, s), optionalBody(ctx))),
  route('POST', '/collections/{collection}/points/query', (ctx, s) => queryPoints(collectionOf(ctx, s), optionalBody(ctx))),

  route('POST', '/collections/{collection}/snapshots', (ctx, s) => {
    const collection = collectionOf(ctx, s);
    return maybeInBackground(ctx, () => s.snapshots.create(collection));
  }),
  route('GET', '/collections/{collection}/snapshots', (ctx, s) => s.snapshots.list(collectionOf(ctx, s).name)),
  route('PUT', '/collections/{collection}/snapshots/recover', (ctx, s) => {
    const body = jsonBody(ctx);
    return maybeInBackground(ctx, async () => {
      await recoverFromLocation(s.store, ctx, body, s.version, s.snapshots.dir, s.faults.locationDownloadStatus);
      return true;
    });
  }),
  route('POST', '/collections/{collection}/snapshots/upload', (ctx, s) =>
    maybeInBackground(ctx, async () => {
      await recoverFromUpload(s.store, ctx, s.version);
      return true;
    })),
  route('GET', '/collections/{collection}/snapshots/{snapshot}', async (ctx, s) => {
    try {
      return await s.snapshots.download(collectionOf(ctx, s).name, ctx.params['snapshot'] ?? '', ctx.headers.range);
    } catch (error) {
      // The download route answers its errors in plain text, not in the JSON envelope.
      if (error instanceof QdrantError) throw new QdrantError(error.status, error.message, error.headers, true);
      throw error;
    }
  }),
  route('DELETE', '/collections/{collection}/snapshots/{snapshot}', (ctx, s) => {
    const collection = collectionOf(ctx, s);
    return maybeInBackground(ctx, () => s.snapshots.delete(collection.name, ctx.params['snapshot'] ?? ''));
  }),
];

/** The route for a request, or whether some route has that path under another method (405). */
export function matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | 'wrong-method' | undefined {
  let pathMatched = false;
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (!match) continue;
    if (candidate.method !== method) {
      pathMatched = true;
      continue;
    }
    const params = Object.fromEntries(candidate.keys.map((key, i) => [key, decodeURIComponent(match[i + 1] ?? '')]));
    return { route: candidate, params };
  }
  return pathMatched ? 'wrong-method' : undefined;
}
