// The REST verbs on a resource collection or object: get, list, create, update (PUT), patch,
// delete and deletecollection, with the status subresource's write rules.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { applyDefaults, labelNewJob, validate } from './defaults.js';
import { defaultPropagation, deleteWithDependents, type Propagation } from './ownership.js';
import { applyPatch } from './patch.js';
import { apiVersionOf, resourceByKind, type ResourceType } from './resources.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { badRequest, conflict, KubeError, successStatus } from './status.js';
import { clone, type ObjectStore } from './store.js';

export interface ApiRequest {
  method: string;
  r: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Reply {
  status: number;
  body: unknown;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });
const isDryRun = (req: ApiRequest) => req.query.getAll('dryRun').includes('All');

export function jsonBody(req: ApiRequest, { optional = false } = {}): any {
  const text = req.body.toString('utf8').trim();
  if (text === '' && optional) return {};
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed;
  } catch (error) {
    throw badRequest(`the body of the request could not be decoded as JSON: ${(error as Error).message}`);
  }
}

export function getObject(store: ObjectStore, req: ApiRequest): Reply {
  return ok(store.mustGet(req.r, req.namespace ?? '', req.name!));
}

/** The objects a list/deletecollection/watch request selects (namespace, labelSelector, fieldSelector). */
export function selected(store: ObjectStore, req: ApiRequest): any[] {
  const byLabel = labelMatcher(req.query.get('labelSelector'));
  const byField = fieldMatcher(req.query.get('fieldSelector'));
  return store.list(req.r, req.namespace).filter((obj) => byLabel(obj) && byField(obj));
}

/** A typed list: items without kind/apiVersion, as the API server sends them; `limit`/`continue` paging. */
export function listObjects(store: ObjectStore, req: ApiRequest): Reply {
  const all = selected(store, req);
  const rv = String(store.resourceVersion);
  let start = 0;
  const token = req.query.get('continue');
  if (token) {
    try {
      start = JSON.parse(Buffer.from(token, 'base64url').toString()).start;
    } catch {
      throw badRequest('continue key is not valid: illegal base64 data');
    }
  }
  const limit = Number(req.query.get('limit') ?? 0);
  const end = limit > 0 ? Math.min(all.length, start + limit) : all.length;
  const items = all.slice(start, end).map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
  const more = end < all.length;
  const metadata = {
    resourceVersion: rv,
    ...(more ? { continue: Buffer.from(JSON.stringify({ start: end, rv })).toString('base64url'), remainingItemCount: all.length - end } : {}),
  };
  return ok({ kind: `${req.r.kind}List`, apiVersion: apiVersionOf(req.r), metadata, items });
}

function checkIdentity(req: ApiRequest, obj: any): void {
  const r = req.r;
  if (obj.apiVersion !== undefined && (obj.apiVersion !== apiVersionOf(r) || obj.kind !== r.kind)) {
    throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(r)})`);
  }
  obj.metadata ??= {};
  if (r.namespaced) {
    if (obj.metadata.namespace && obj.metadata.namespace !== req.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = req.namespace;
  }
  if (req.name !== undefined && obj.metadata.name !== undefined && obj.metadata.name !== req.name) {
    throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${req.name})`);
  }
}

const NAMESPACE = resourceByKind('Namespace');
/** Top-level fields per kind; `fieldValidation=Strict` rejects others, as the API server does. */
const TOP_LEVEL = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
/** The kinds without spec/status. */
const TOP_LEVEL_OF: Record<string, string[]> = {
  ConfigMap: ['apiVersion', 'kind', 'metadata', 'data', 'binaryData', 'immutable'],
  Secret: ['apiVersion', 'kind', 'metadata', 'data', 'stringData', 'type', 'immutable'],
  ServiceAccount: ['apiVersion', 'kind', 'metadata', 'secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  Role: ['apiVersion', 'kind', 'metadata', 'rules'],
  RoleBinding: ['apiVersion', 'kind', 'metadata', 'roleRef', 'subjects'],
};

function checkStrict(req: ApiRequest, obj: any): void {
  if (req.query.get('fieldValidation') !== 'Strict') return;
  const known = TOP_LEVEL_OF[req.r.kind] ?? TOP_LEVEL;
  const unknown = Object.keys(obj).filter((k) => !known.includes(k));
  if (unknown.length) throw badRequest(`strict decoding error: ${unknown.map((k) => `unknown field "${k}"`).join(', ')}`);
}

/** Namespaces spring into existence when something is created in them (the stand-in is lenient). */
function ensureNamespace(store: ObjectStore, namespace: string): void {
  if (store.get(NAMESPACE, '', namespace) !== undefined) return;
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, uid: randomUUID() } };
  applyDefaults(NAMESPACE, ns);
  store.create(NAMESPACE, ns);
}

/** Defaults, validates and stores a new object (also the stand-in's own `apply()` path). */
export function createValidated(store: ObjectStore, r: ResourceType, obj: any, dryRun = false): any {
  const meta = obj.metadata;
  if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
  for (const field of ['resourceVersion', 'creationTimestamp', 'generation', 'deletionTimestamp', 'managedFields']) delete meta[field];
  meta.uid = randomUUID();
  if (r.hasStatus) delete obj.status;
  applyDefaults(r, obj);
  if (r.kind === 'Job') labelNewJob(obj);
  validate(r, obj);
  if (dryRun) return { ...obj, apiVersion: apiVersionOf(r), kind: r.kind };
  if (r.namespaced) ensureNamespace(store, meta.namespace);
  return store.create(r, obj);
}

export function createObject(store: ObjectStore, req: ApiRequest): Reply {
  const obj = jsonBody(req);
  checkIdentity(req, obj);
  checkStrict(req, obj);
  return ok(createValidated(store, req.r, obj, isDryRun(req)), 201);
}

/** Stores `next` over `old`: the main resource keeps the stored status, `status` keeps everything else. */
function write(store: ObjectStore, req: ApiRequest, old: any, next: any): Reply {
  const r = req.r;
  if (next.metadata?.name !== old.metadata.name) throw badRequest(`metadata.name: Invalid value: "${next.metadata?.name}": field is immutable`);
  let stored: any;
  if (req.subresource === 'status') {
    stored = { ...clone(old), status: next.status, metadata: { ...clone(old.metadata), resourceVersion: next.metadata.resourceVersion } };
  } else {
    stored = { ...next, metadata: { ...next.metadata, uid: old.metadata.uid, namespace: old.metadata.namespace } };
    if (r.hasStatus) stored.status = clone(old.status);
    if (stored.status === undefined) delete stored.status;
    applyDefaults(r, stored);
    validate(r, stored);
  }
  if (isDryRun(req)) {
    if (stored.metadata.resourceVersion && stored.metadata.resourceVersion !== old.metadata.resourceVersion) throw conflict(r, old.metadata.name);
    return ok(stored);
  }
  return ok(store.update(r, stored));
}

export function updateObject(store: ObjectStore, req: ApiRequest): Reply {
  const old = store.mustGet(req.r, req.namespace ?? '', req.name!);
  const obj = jsonBody(req);
  checkIdentity(req, obj);
  checkStrict(req, obj);
  return write(store, req, old, obj);
}

export function patchObject(store: ObjectStore, req: ApiRequest): Reply {
  const old = store.mustGet(req.r, req.namespace ?? '', req.name!);
  const patched = applyPatch(req.headers['content-type'] ?? '', old, req.body.toString('utf8'));
  return write(store, req, old, patched);
}

function propagationOf(req: ApiRequest, options: any): Propagation {
  const policy = options.propagationPolicy ?? req.query.get('propagationPolicy') ?? (options.orphanDependents === true ? 'Orphan' : undefined);
  if (policy === undefined) return defaultPropagation(req.r);
  if (!['Background', 'Foreground', 'Orphan'].includes(policy)) throw badRequest(`propagationPolicy: Unsupported value: "${policy}"`);
  return policy as Propagation;
}

export function deleteObject(store: ObjectStore, req: ApiRequest): Reply {
  const old = store.mustGet(req.r, req.namespace ?? '', req.name!);
  const options = jsonBody(req, { optional: true });
  const pre = options.preconditions ?? {};
  if ((pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) || (pre.uid && pre.uid !== old.metadata.uid)) {
    throw new KubeError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid ?? ''}, UID in object meta: ${old.metadata.uid}`);
  }
  const policy = propagationOf(req, options);
  if (!isDryRun(req)) deleteWithDependents(store, req.r, old.metadata.namespace, old.metadata.name, policy);
  return ok(successStatus(req.r, old.metadata.name, old.metadata.uid));
}

export function deleteCollection(store: ObjectStore, req: ApiRequest): Reply {
  const policy = propagationOf(req, jsonBody(req, { optional: true }));
  const items = selected(store, req);
  if (!isDryRun(req)) {
    const stillThere = (obj: any) => store.get(req.r, obj.metadata.namespace, obj.metadata.name) !== undefined;
    for (const obj of items) if (stillThere(obj)) deleteWithDependents(store, req.r, obj.metadata.namespace, obj.metadata.name, policy);
  }
  return ok({ kind: `${req.r.kind}List`, apiVersion: apiVersionOf(req.r), metadata: { resourceVersion: String(store.resourceVersion) }, items });
}
