// The three patch types kubectl sends: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
// and strategic merge patch (lists merged by key, `$patch`/`$setElementOrder`/`$retainKeys`
// directives) with the merge keys of the built-in types the stand-in serves.
import { badRequest, KubeError, unsupportedMediaType } from './status.js';

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

/** Applies a PATCH body of content type `contentType` to `target` (not modified). */
export function applyPatch(contentType: string, target: any, body: string): any {
  const type = contentType.split(';')[0]!.trim();
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch (error) {
    throw badRequest(`error decoding patch: ${(error as Error).message}`);
  }
  if (type === PATCH_TYPES.merge) return mergePatch(target, patch);
  if (type === PATCH_TYPES.strategic) return strategicMerge(target, patch, '');
  if (type === PATCH_TYPES.json) return jsonPatch(target, patch);
  throw unsupportedMediaType(type);
}

export function mergePatch(target: any, patch: any): any {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, any> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- JSON patch ----

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer: ${path}`);
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const unprocessable = (message: string) => new KubeError(422, 'Invalid', message);

function parentOf(doc: any, path: string): { parent: any; key: string } {
  const parts = pointer(path);
  const key = parts.pop();
  if (key === undefined) throw unprocessable(`the JSON patch path "${path}" names the whole document`);
  let parent = doc;
  for (const part of parts) {
    parent = parent?.[Array.isArray(parent) ? Number(part) : part];
    if (typeof parent !== 'object' || parent === null) throw unprocessable(`doc is missing path: "${path}"`);
  }
  return { parent, key };
}

function valueAt(doc: any, path: string): any {
  const { parent, key } = parentOf(doc, path);
  const value = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (value === undefined || (!Array.isArray(parent) && !Object.hasOwn(parent, key))) {
    throw unprocessable(`doc is missing key: ${path}`);
  }
  return value;
}

function put(doc: any, path: string, value: any, mode: 'add' | 'replace'): void {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw unprocessable(`index out of range: ${path}`);
    if (mode === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
    return;
  }
  if (mode === 'replace' && !Object.hasOwn(parent, key)) throw unprocessable(`replace operation does not apply: doc is missing key: ${path}`);
  parent[key] = value;
}

function removeAt(doc: any, path: string): void {
  const { parent, key } = parentOf(doc, path);
  valueAt(doc, path);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
}

export function jsonPatch(target: any, ops: unknown): any {
  if (!Array.isArray(ops)) throw badRequest('a JSON patch must be an array of operations');
  let doc = clone(target);
  for (const op of ops) {
    const { path, value, from } = op as { path: string; value?: unknown; from?: string };
    const whole = path === '';
    switch ((op as { op: string }).op) {
      case 'add':
      case 'replace':
        if (whole) doc = clone(value);
        else put(doc, path, clone(value), (op as { op: 'add' | 'replace' }).op);
        break;
      case 'remove':
        removeAt(doc, path);
        break;
      case 'move':
      case 'copy': {
        const moved = clone(valueAt(doc, from!));
        if ((op as { op: string }).op === 'move') removeAt(doc, from!);
        put(doc, path, moved, 'add');
        break;
      }
      case 'test':
        if (JSON.stringify(valueAt(doc, path)) !== JSON.stringify(value)) throw unprocessable(`testing value ${path} failed`);
        break;
      default:
        throw badRequest(`unexpected JSON patch operation: ${JSON.stringify(op)}`);
    }
  }
  return doc;
}

// ---- strategic merge patch ----

/** Merge keys of the lists merged by key (patchStrategy "merge"); other object lists are replaced. */
function mergeKeyFor(field: string, path: string): string | undefined {
  if (field === 'ports') return /(^|\.)spec$/.test(path) && !path.includes('template') ? 'port' : 'containerPort';
  return ({
    containers: 'name', initContainers: 'name', ephemeralContainers: 'name', volumes: 'name', env: 'name',
    imagePullSecrets: 'name', volumeMounts: 'mountPath', volumeDevices: 'devicePath', conditions: 'type',
    ownerReferences: 'uid', hostAliases: 'ip', secrets: 'name',
  } as Record<string, string>)[field];
}
/** Lists of scalars merged as sets (patchStrategy "merge"). */
const MERGED_SCALAR_LISTS = new Set(['finalizers']);

export function strategicMerge(target: any, patch: any, path: string): any {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'delete') return undefined;
  const replace = patch.$patch === 'replace';
  const out: Record<string, any> = isObject(target) && !replace ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/') || k.startsWith('$deleteFromPrimitiveList/')) continue;
    const childPath = path ? `${path}.${k}` : k;
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(out[k], v, k, path, patch[`$setElementOrder/${k}`]);
    else if (isObject(v)) {
      const merged = strategicMerge(out[k], v, childPath);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    const m = /^\$deleteFromPrimitiveList\/(.+)$/.exec(k);
    if (m && Array.isArray(out[m[1]!])) out[m[1]!] = out[m[1]!].filter((x: unknown) => !(v as unknown[]).includes(x));
    const order = /^\$setElementOrder\/(.+)$/.exec(k);
    if (order && !Array.isArray(patch[order[1]!]) && Array.isArray(out[order[1]!])) {
      out[order[1]!] = reorder(out[order[1]!], v as unknown[], mergeKeyFor(order[1]!, path));
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k)) delete out[k];
  }
  return out;
}

function mergeList(current: unknown, patch: unknown[], field: string, path: string, order: unknown[] | undefined): unknown[] {
  const listPath = path ? `${path}.${field}` : field;
  if (patch.some((item) => isObject(item) && item.$patch === 'replace' && Object.keys(item).length === 1)) {
    return clone(patch.filter((item) => !(isObject(item) && item.$patch === 'replace')));
  }
  const existing = Array.isArray(current) ? clone(current) : [];
  const key = mergeKeyFor(field, path);
  if (!key) {
    if (!MERGED_SCALAR_LISTS.has(field)) return clone(patch);
    const merged = [...existing, ...patch.filter((v) => !existing.includes(v))];
    return order ? reorder(merged, order, undefined) : merged;
  }
  let out = existing as Record<string, any>[];
  for (const item of patch as Record<string, any>[]) {
    const index = out.findIndex((e) => e?.[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) out = out.filter((_, i) => i !== index);
    } else if (index >= 0) out[index] = strategicMerge(out[index], item, listPath);
    else out.push(strategicMerge({}, item, listPath));
  }
  return order ? reorder(out, order, key) : out;
}

/** Puts the listed elements in the listed order; elements not listed keep their place after them. */
function reorder(list: any[], order: unknown[], key: string | undefined): any[] {
  const id = (v: any) => JSON.stringify(key ? v?.[key] : v);
  const rank = new Map(order.map((v, i) => [id(v), i]));
  const listed = list.filter((v) => rank.has(id(v))).sort((a, b) => rank.get(id(a))! - rank.get(id(b))!);
  return [...listed, ...list.filter((v) => !rank.has(id(v)))];
}
