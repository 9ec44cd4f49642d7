// Server-side printing: when kubectl asks for `as=Table` (plain `kubectl get`, no -o json), a
// meta.k8s.io/v1 Table with the columns the real server prints for each kind.
import { apiVersionOf, type ResourceType } from './resources.js';

type Column = [name: string, type: string, cell: (obj: any, now: number) => string | number, priority?: number];

export const wantsTable = (accept: string | undefined) => (accept ?? '').includes('as=Table');

/** kubectl's short durations: 45s, 3m20s, 25m, 5h, 3d. */
function age(since: string | undefined, now: number): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 3 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function podStatus(pod: any): string {
  for (const c of pod.status?.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) return c.state.waiting.reason;
    if (c.state?.terminated?.reason) return c.state.terminated.reason;
  }
  return pod.status?.phase ?? 'Pending';
}

function jobStatus(job: any): string {
  const active = (type: string) => (job.status?.conditions ?? []).some((c: any) => c.type === type && c.status === 'True');
  return active('Complete') ? 'Complete' : active('Failed') ? 'Failed' : job.spec?.suspend ? 'Suspended' : 'Running';
}

const NAME: Column = ['Name', 'string', (o) => o.metadata.name];
const AGE: Column = ['Age', 'string', (o, now) => age(o.metadata.creationTimestamp, now)];
const images = (o: any) => (o.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(',');

const COLUMNS: Record<string, Column[]> = {
  Deployment: [
    NAME,
    ['Ready', 'string', (d) => `${d.status?.readyReplicas ?? 0}/${d.spec.replicas ?? 0}`],
    ['Up-to-date', 'integer', (d) => d.status?.updatedReplicas ?? 0],
    ['Available', 'integer', (d) => d.status?.availableReplicas ?? 0],
    AGE,
    ['Images', 'string', images, 1],
  ],
  ReplicaSet: [
    NAME,
    ['Desired', 'integer', (r) => r.spec.replicas ?? 0],
    ['Current', 'integer', (r) => r.status?.replicas ?? 0],
    ['Ready', 'integer', (r) => r.status?.readyReplicas ?? 0],
    AGE,
    ['Images', 'string', images, 1],
  ],
  Pod: [
    NAME,
    ['Ready', 'string', (p) => `${(p.status?.containerStatuses ?? []).filter((c: any) => c.ready).length}/${p.spec.containers.length}`],
    ['Status', 'string', podStatus],
    ['Restarts', 'string', (p) => String((p.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0))],
    AGE,
    ['IP', 'string', (p) => p.status?.podIP ?? '<none>', 1],
  ],
  Service: [
    NAME,
    ['Type', 'string', (s) => s.spec.type],
    ['Cluster-IP', 'string', (s) => s.spec.clusterIP ?? '<none>'],
    ['External-IP', 'string', () => '<none>'],
    ['Port(s)', 'string', (s) => (s.spec.ports ?? []).map((p: any) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>'],
    AGE,
  ],
  Job: [
    NAME,
    ['Status', 'string', jobStatus],
    ['Completions', 'string', (j) => `${j.status?.succeeded ?? 0}/${j.spec.completions ?? 1}`],
    AGE,
  ],
  ConfigMap: [NAME, ['Data', 'integer', (c) => Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length], AGE],
  Ingress: [
    NAME,
    ['Class', 'string', (i) => i.spec?.ingressClassName ?? '<none>'],
    ['Hosts', 'string', (i) => (i.spec?.rules ?? []).map((r: any) => r.host ?? '*').join(',') || '*'],
    AGE,
  ],
  Namespace: [NAME, ['Status', 'string', (n) => n.status?.phase ?? 'Active'], AGE],
  HTTPRoute: [NAME, ['Hostnames', 'string', (h) => JSON.stringify(h.spec?.hostnames ?? [])], AGE],
};

/** The Table for one object or a list body; `includeObject` None | Object | PartialObjectMetadata (default). */
export function asTable(r: ResourceType, body: any, includeObject: string | null): object {
  const columns = COLUMNS[r.kind] ?? [NAME, AGE];
  const items: any[] = body.items ?? [body];
  const now = Date.now();
  const withObject = (obj: any) => {
    if (includeObject === 'None') return {};
    if (includeObject === 'Object') return { object: { apiVersion: apiVersionOf(r), kind: r.kind, ...obj } };
    return { object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata } };
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: body.metadata?.resourceVersion ?? '', ...(body.metadata?.continue ? { continue: body.metadata.continue } : {}) },
    columnDefinitions: columns.map(([name, type, , priority]) => ({
      name, type, format: name === 'Name' ? 'name' : '', description: name, priority: priority ?? 0,
    })),
    rows: items.map((obj) => ({ cells: columns.map(([, , cell]) => cell(obj, now)), ...withObject(obj) })),
  };
}
