// A minimal OpenAPI v3 tree: just enough for kubectl's check that the server does field
// validation itself (the PATCH operation of each kind lists the `fieldValidation` query
// parameter), so `kubectl create -f` sends `?fieldValidation=Strict` instead of downloading
// schemas to validate client-side. There are no schemas: kubectl falls back to its built-in
// types where it wants them (apply's strategic merge patches).
import { createHash } from 'node:crypto';
import { groupVersions, RESOURCES } from './resources.js';

const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);
const QUERY = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });

function groupVersionDocument(group: string, version: string): object {
  const paths: Record<string, object> = {};
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    const gvk = { 'x-kubernetes-group-version-kind': { group, version, kind: r.kind } };
    const base = `/${gvPath(group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}`;
    const operation = (id: string, params: string[]) => ({
      operationId: `${id}${r.kind}`,
      parameters: params.map(QUERY),
      responses: { '200': { description: 'OK' } },
      'x-kubernetes-action': id.startsWith('patch') ? 'patch' : id.startsWith('create') ? 'post' : id.startsWith('replace') ? 'put' : 'get',
      ...gvk,
    });
    paths[base] = { post: operation('create', ['dryRun', 'fieldManager', 'fieldValidation']) };
    paths[`${base}/{name}`] = {
      get: operation('read', []),
      put: operation('replace', ['dryRun', 'fieldManager', 'fieldValidation']),
      patch: operation('patch', ['dryRun', 'fieldManager', 'fieldValidation', 'force']),
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas: {} },
  };
}

const hashOf = (doc: object) => createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 128).toUpperCase();

/** GET /openapi/v3: where each group version's document lives. */
export function openApiRoot(): object {
  const paths: Record<string, object> = {};
  for (const { group, version } of groupVersions()) {
    const path = gvPath(group, version);
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hashOf(groupVersionDocument(group, version))}` };
  }
  return { paths };
}

/** GET /openapi/v3/<api/v1 | apis/group/version>, or undefined for one not served. */
export function openApiDocument(path: string): object | undefined {
  const gv = groupVersions().find(({ group, version }) => `/openapi/v3/${gvPath(group, version)}` === path);
  return gv ? groupVersionDocument(gv.group, gv.version) : undefined;
}
