// The resource types the stand-in serves, described once: discovery, routing, storage and
// the `get(kind, ...)` helpers all read this table.

export interface Subresource {
  name: string;
  /** The kind the subresource answers with (Scale is autoscaling/v1, whatever the parent). */
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
}

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  categories: string[];
  subresources: Subresource[];
  /** Has a `status` subresource: writes to the main resource keep the stored status. */
  hasStatus: boolean;
  /** `metadata.generation` is set at 1 and bumped on every spec change. */
  hasGeneration: boolean;
}

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS: Subresource = { name: 'status', kind: '', verbs: ['get', 'patch', 'update'] };
const SCALE: Subresource = { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] };
const LOG: Subresource = { name: 'log', kind: 'Pod', verbs: ['get'] };

function resource(
  group: string,
  kind: string,
  plural: string,
  extra: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    version: 'v1',
    kind,
    plural,
    singular: kind.toLowerCase(),
    shortNames: [],
    namespaced: true,
    categories: [],
    subresources: [],
    hasStatus: false,
    hasGeneration: false,
    ...extra,
  };
}

export const RESOURCES: ResourceType[] = [
  resource('', 'Namespace', 'namespaces', { namespaced: false, shortNames: ['ns'], subresources: [STATUS], hasStatus: true }),
  resource('', 'ConfigMap', 'configmaps', { shortNames: ['cm'] }),
  resource('', 'Secret', 'secrets'),
  resource('', 'ServiceAccount', 'serviceaccounts', { shortNames: ['sa'] }),
  resource('', 'Pod', 'pods', { shortNames: ['po'], categories: ['all'], subresources: [LOG, STATUS], hasStatus: true }),
  resource('', 'Service', 'services', { shortNames: ['svc'], categories: ['all'], subresources: [STATUS], hasStatus: true }),
  resource('apps', 'Deployment', 'deployments', {
    shortNames: ['deploy'], categories: ['all'], subresources: [SCALE, STATUS], hasStatus: true, hasGeneration: true,
  }),
  resource('apps', 'ReplicaSet', 'replicasets', {
    shortNames: ['rs'], categories: ['all'], subresources: [SCALE, STATUS], hasStatus: true, hasGeneration: true,
  }),
  resource('batch', 'Job', 'jobs', { categories: ['all'], subresources: [STATUS], hasStatus: true, hasGeneration: true }),
  resource('networking.k8s.io', 'Ingress', 'ingresses', { shortNames: ['ing'], subresources: [STATUS], hasStatus: true, hasGeneration: true }),
  // RBAC: stored and served, not enforced (every request with the token is allowed).
  resource('rbac.authorization.k8s.io', 'Role', 'roles'),
  resource('rbac.authorization.k8s.io', 'RoleBinding', 'rolebindings'),
  // Gateway API (a CRD in a real cluster; served here like the built-in types).
  resource('gateway.networking.k8s.io', 'HTTPRoute', 'httproutes', { categories: ['gateway-api'], subresources: [STATUS], hasStatus: true, hasGeneration: true }),
];

export const apiVersionOf = (r: ResourceType) => (r.group ? `${r.group}/${r.version}` : r.version);

/** `deployments.apps`, `pods`: how Kubernetes names a resource in messages (and our storage key). */
export const qualifiedName = (r: ResourceType) => (r.group ? `${r.plural}.${r.group}` : r.plural);

/** The group versions served, core first: `v1`, `apps/v1`, ... */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

export function resourceByPath(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/** By kind, plural, singular or short name, case-insensitive: `Deployment`, `deployments`, `deploy`. */
export function resourceByKind(kind: string): ResourceType {
  const k = kind.toLowerCase();
  const found = RESOURCES.find((r) => r.kind.toLowerCase() === k || r.plural === k || r.singular === k || r.shortNames.includes(k));
  if (!found) throw new Error(`the Kubernetes stand-in serves no kind "${kind}" (it has ${RESOURCES.map((r) => r.kind).join(', ')})`);
  return found;
}

/** The resource of an object, from its `apiVersion` and `kind`. */
export function resourceOfObject(obj: { apiVersion?: string; kind?: string }): ResourceType | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === obj.apiVersion && r.kind === obj.kind);
}
