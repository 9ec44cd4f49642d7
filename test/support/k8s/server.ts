// The HTTP side: bearer-token auth, the request log, non-resource paths (discovery, version,
// health, OpenAPI) and the routing of `/api/v1/...` and `/apis/<group>/<version>/...` to verbs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AGGREGATED_CONTENT_TYPE, aggregatedDiscovery, coreVersions, groupList, resourceList, versionInfo, wantsAggregated,
} from './discovery.js';
import { openApiDocument, openApiRoot } from './openapi.js';
import { resourceByPath, type ResourceType } from './resources.js';
import {
  createObject, deleteCollection, deleteObject, getObject, listObjects, patchObject, updateObject, type ApiRequest, type Reply,
} from './rest.js';
import type { Faults } from './faults.js';
import { failureStatus, KubeError, methodNotAllowed, pathNotFound, unauthorized } from './status.js';
import type { ObjectStore } from './store.js';
import { podLog, scale } from './subresources.js';
import { asTable, wantsTable } from './tables.js';
import { serveWatch } from './watch.js';

export interface RequestRecord {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection) of resource requests. */
  verb?: string;
  /** The HTTP status answered, set once the answer is sent (a watch's when its stream ends). */
  status?: number;
  /** True when a fault rule (KubeFaults.failNext) answered instead of the server. */
  injected?: boolean;
}

export interface ServerState {
  store: ObjectStore;
  token: string;
  requests: RequestRecord[];
  faults: Faults;
}

const binaryBody = (type: string) =>
  new KubeError(415, 'UnsupportedMediaType', `the Kubernetes stand-in reads JSON bodies only (got ${type}); use kubectl commands that send JSON: create -f, apply -f, patch, set, scale, rollout`);

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

/** The request handler of a stand-in (served over plain HTTP and HTTPS by listener.ts). */
export function requestHandler(state: ServerState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(state, req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, failureStatus(new KubeError(500, 'InternalError', String(error))));
      else res.destroy();
    });
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': contentType, 'content-length': data.length, 'cache-control': 'no-cache, private' }).end(data);
}

async function handle(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const record: RequestRecord = { method, path };
  state.requests.push(record);
  res.on('finish', () => (record.status = res.statusCode));
  const body = await readBody(req);
  try {
    if (!PUBLIC_PATHS.has(path) && req.headers.authorization !== `Bearer ${state.token}`) throw unauthorized();
    const injected = state.faults.take(method, path + url.search);
    if (injected) {
      record.injected = true;
      throw injected;
    }
    // kubectl's typed clients (`kubectl create deployment ...` generators) send protobuf bodies.
    if (body.length > 0 && /protobuf|cbor/.test(req.headers['content-type'] ?? '')) throw binaryBody(req.headers['content-type']!);
    if (['/healthz', '/livez', '/readyz'].includes(path)) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
      return;
    }
    const nonResource = nonResourceReply(path, req, method);
    if (nonResource) return sendJson(res, 200, nonResource.body, nonResource.contentType);
    const api = parseResourcePath(path, method, url.searchParams, req, body);
    if (!api) throw pathNotFound();
    record.verb = verbOf(api);
    if (record.verb === 'watch') return serveWatch(state.store, api, res);
    if (api.subresource === 'log') {
      const { status, text } = podLog(state.store, api);
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) }).end(text);
      return;
    }
    const reply = dispatch(state.store, api, record.verb);
    const printed = ['get', 'list'].includes(record.verb) && !api.subresource && wantsTable(req.headers.accept);
    sendJson(res, reply.status, printed ? asTable(api.r, reply.body, url.searchParams.get('includeObject')) : reply.body);
  } catch (error) {
    if (!(error instanceof KubeError)) throw error;
    sendJson(res, error.code, failureStatus(error));
  }
}

function nonResourceReply(path: string, req: IncomingMessage, method: string): { body: unknown; contentType?: string } | undefined {
  if (method !== 'GET') return undefined;
  const aggregated = wantsAggregated(req.headers.accept);
  if (path === '/version') return { body: versionInfo() };
  if (path === '/openapi/v3') return { body: openApiRoot() };
  if (path.startsWith('/openapi/v3/')) {
    const doc = openApiDocument(path);
    return doc ? { body: doc } : undefined;
  }
  if (path === '/api') {
    if (aggregated) return { body: aggregatedDiscovery(true), contentType: AGGREGATED_CONTENT_TYPE };
    return { body: coreVersions(req.headers.host ?? '127.0.0.1') };
  }
  if (path === '/apis') {
    if (aggregated) return { body: aggregatedDiscovery(false), contentType: AGGREGATED_CONTENT_TYPE };
    return { body: groupList() };
  }
  const gv = /^\/api\/(v1)$/.exec(path) ?? /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  if (gv) {
    const list = path.startsWith('/api/') ? resourceList('', gv[1]!) : resourceList(gv[1]!, gv[2]!);
    return list ? { body: list } : undefined;
  }
  return undefined;
}

/** `/api/v1/[namespaces/<ns>/]<plural>[/<name>[/<subresource>]]`, same under `/apis/<group>/<version>`. */
function parseResourcePath(path: string, method: string, query: URLSearchParams, req: IncomingMessage, body: Buffer): ApiRequest | undefined {
  const parts = path.split('/').slice(1).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) [group, version, rest] = ['', parts[1]!, parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 4) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  let r: ResourceType | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && resourceByPath(group, version, rest[2]!)?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  r = resourceByPath(group, version, rest[0]!);
  if (!r || rest.length > 3 || (r.namespaced && namespace === undefined && rest.length > 1)) return undefined;
  const [, name, subresource] = rest;
  if (subresource !== undefined && !r.subresources.some((s) => s.name === subresource)) return undefined;
  return { method, r, namespace, name, subresource, query, headers: req.headers, body };
}

function verbOf(api: ApiRequest): string {
  const named = api.name !== undefined;
  switch (api.method) {
    case 'GET':
      if (named) return 'get';
      return ['true', '1'].includes(api.query.get('watch') ?? '') ? 'watch' : 'list';
    case 'POST':
      if (named) throw methodNotAllowed();
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      throw methodNotAllowed();
  }
}

function dispatch(store: ObjectStore, api: ApiRequest, verb: string): Reply {
  if (api.subresource === 'scale') return scale(store, api);
  if (api.subresource !== undefined && !['get', 'update', 'patch'].includes(verb)) throw methodNotAllowed();
  if (!api.name && !['list', 'create', 'deletecollection'].includes(verb)) throw methodNotAllowed();
  switch (verb) {
    case 'get':
      return getObject(store, api);
    case 'list':
      return listObjects(store, api);
    case 'create':
      return createObject(store, api);
    case 'update':
      return updateObject(store, api);
    case 'patch':
      return patchObject(store, api);
    case 'delete':
      return deleteObject(store, api);
    default:
      return deleteCollection(store, api);
  }
}
