// Discovery documents: legacy (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`) and the
// aggregated form (apidiscovery.k8s.io/v2) kubectl 1.30+ asks for first, plus `/version`.
import { apiVersionOf, groupVersions, RESOURCES, type ResourceType } from './resources.js';

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const RESOURCE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Whether the Accept header asks for the aggregated discovery document (v2). */
export const wantsAggregated = (accept: string | undefined) =>
  (accept ?? '').split(',').some((part) => part.includes('g=apidiscovery.k8s.io') && part.includes('v=v2') && !part.includes('v2beta1'));

export function versionInfo(): object {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-ragops-standin',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2024-12-11T00:00:00Z',
    goVersion: 'go1.23.3',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/** GET /api */
export function coreVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

/** GET /apis */
export function groupList(): object {
  const groups = groupVersions()
    .filter((gv) => gv.group !== '')
    .map(({ group, version }) => {
      const gv = { groupVersion: `${group}/${version}`, version };
      return { name: group, versions: [gv], preferredVersion: gv };
    });
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** GET /api/v1, /apis/<group>/<version>; undefined for a group version not served. */
export function resourceList(group: string, version: string): object | undefined {
  const served = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (served.length === 0) return undefined;
  const resources = served.flatMap((r) => [
    {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: RESOURCE_VERBS,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    },
    ...r.subresources.map((s) => ({
      name: `${r.plural}/${s.name}`,
      singularName: '',
      namespaced: r.namespaced,
      ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
      kind: s.kind || r.kind,
      verbs: s.verbs,
    })),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(served[0]!), resources };
}

function discoveredResource(r: ResourceType): object {
  return {
    resource: r.plural,
    responseKind: { group: '', version: '', kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: RESOURCE_VERBS,
    ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length ? { categories: r.categories } : {}),
    subresources: r.subresources.map((s) => ({
      subresource: s.name,
      responseKind: { group: s.group ?? '', version: s.version ?? '', kind: s.kind || r.kind },
      verbs: s.verbs,
    })),
  };
}

/** GET /api (core: true) or /apis with the aggregated Accept header. */
export function aggregatedDiscovery(core: boolean): object {
  const items = groupVersions()
    .filter((gv) => (gv.group === '') === core)
    .map(({ group, version }) => ({
      metadata: { ...(group ? { name: group } : {}), creationTimestamp: null },
      versions: [
        {
          version,
          resources: RESOURCES.filter((r) => r.group === group && r.version === version).map(discoveredResource),
          freshness: 'Current',
        },
      ],
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}
