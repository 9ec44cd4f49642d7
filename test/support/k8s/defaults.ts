// What the API server fills in on create/update (the defaults kubectl then reads back) and
// the few validations that matter to ragops' use.
import { randomBytes } from 'node:crypto';
import type { ResourceType } from './resources.js';
import { selectorMatches } from './selectors.js';
import { invalid } from './status.js';

const setDefault = (obj: Record<string, any>, key: string, value: unknown) => {
  if (obj[key] === undefined) obj[key] = value;
};

/** Container and pod spec defaults (as in a Deployment's template or a Pod). */
export function defaultPodSpec(spec: any): void {
  if (!spec) return;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const tag = /:([^/:@]+)$/.exec(c.image ?? '')?.[1];
    setDefault(c, 'imagePullPolicy', !tag || tag === 'latest' ? 'Always' : 'IfNotPresent');
    setDefault(c, 'resources', {});
    setDefault(c, 'terminationMessagePath', '/dev/termination-log');
    setDefault(c, 'terminationMessagePolicy', 'File');
    for (const p of c.ports ?? []) setDefault(p, 'protocol', 'TCP');
  }
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
}

function defaultDeployment(obj: any): void {
  const spec = (obj.spec ??= {});
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  setDefault(spec, 'strategy', { type: 'RollingUpdate' });
  if (spec.strategy.type === 'RollingUpdate') {
    spec.strategy.rollingUpdate = { maxUnavailable: '25%', maxSurge: '25%', ...spec.strategy.rollingUpdate };
  }
  defaultPodSpec(spec.template?.spec);
}

function defaultJob(obj: any): void {
  const spec = (obj.spec ??= {});
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'completions', 1);
  setDefault(spec, 'backoffLimit', 6);
  setDefault(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'podReplacementPolicy', 'TerminatingOrFailed');
  defaultPodSpec(spec.template?.spec);
}

/** Called on create only: the Job's generated selector and the labels that match it. */
export function labelNewJob(obj: any): void {
  if (obj.spec?.manualSelector) return;
  const uid = obj.metadata.uid;
  const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': obj.metadata.name, 'controller-uid': uid, 'job-name': obj.metadata.name };
  obj.spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  const meta = (obj.spec.template.metadata ??= {});
  meta.labels = { ...meta.labels, ...labels };
}

function defaultService(obj: any): void {
  const spec = (obj.spec ??= {});
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  setDefault(spec, 'internalTrafficPolicy', 'Cluster');
  if (spec.clusterIP === undefined) {
    const [a, b] = randomBytes(2);
    spec.clusterIP = `10.96.${a}.${Math.max(1, b!)}`;
  }
  setDefault(spec, 'clusterIPs', spec.clusterIP === 'None' ? ['None'] : [spec.clusterIP]);
  setDefault(spec, 'ipFamilies', ['IPv4']);
  setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
  for (const p of spec.ports ?? []) {
    setDefault(p, 'protocol', 'TCP');
    setDefault(p, 'targetPort', p.port);
  }
  setDefault(obj, 'status', { loadBalancer: {} });
}

/** The CRD's schema defaults: a rule matches PathPrefix `/`; a backendRef is a core Service of weight 1. */
function defaultHttpRoute(obj: any): void {
  const spec = (obj.spec ??= {});
  for (const ref of spec.parentRefs ?? []) {
    setDefault(ref, 'group', 'gateway.networking.k8s.io');
    setDefault(ref, 'kind', 'Gateway');
  }
  setDefault(spec, 'rules', [{}]);
  for (const rule of spec.rules ?? []) {
    setDefault(rule, 'matches', [{ path: { type: 'PathPrefix', value: '/' } }]);
    for (const ref of rule.backendRefs ?? []) {
      setDefault(ref, 'group', '');
      setDefault(ref, 'kind', 'Service');
      setDefault(ref, 'weight', 1);
    }
  }
  setDefault(obj, 'status', { parents: [] });
}

/** Fills in defaults in place, for the object's kind. */
export function applyDefaults(r: ResourceType, obj: any): void {
  obj.metadata ??= {};
  switch (r.kind) {
    case 'Deployment':
      return defaultDeployment(obj);
    case 'Job':
      return defaultJob(obj);
    case 'Service':
      return defaultService(obj);
    case 'Pod':
      defaultPodSpec(obj.spec);
      setDefault(obj.spec, 'serviceAccountName', 'default');
      setDefault(obj, 'status', { phase: 'Pending', qosClass: 'BestEffort' });
      return;
    case 'Ingress':
      setDefault(obj, 'status', { loadBalancer: {} });
      return;
    case 'HTTPRoute':
      return defaultHttpRoute(obj);
    case 'Namespace':
      obj.spec = { finalizers: ['kubernetes'], ...obj.spec };
      obj.status = { phase: 'Active' };
      obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name };
  }
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The API server's checks that ragops could trip over; throws 422 Invalid. */
export function validate(r: ResourceType, obj: any): void {
  const name: string = obj.metadata?.name ?? '';
  const causes: { field: string; message: string }[] = [];
  if (!NAME.test(name) || name.length > 253) {
    causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` });
  }
  const podSpec = r.kind === 'Pod' ? obj.spec : obj.spec?.template?.spec;
  const specPath = r.kind === 'Pod' ? 'spec' : 'spec.template.spec';
  if (['Pod', 'Deployment', 'ReplicaSet', 'Job'].includes(r.kind)) {
    const containers = podSpec?.containers ?? [];
    if (containers.length === 0) causes.push({ field: `${specPath}.containers`, message: 'Required value' });
    containers.forEach((c: any, i: number) => {
      if (!c.name) causes.push({ field: `${specPath}.containers[${i}].name`, message: 'Required value' });
      if (!c.image) causes.push({ field: `${specPath}.containers[${i}].image`, message: 'Required value' });
    });
  }
  if (r.kind === 'Deployment' || r.kind === 'ReplicaSet') {
    const labels = obj.spec?.template?.metadata?.labels;
    if (!obj.spec?.selector) causes.push({ field: 'spec.selector', message: 'Required value' });
    else if (!selectorMatches(obj.spec.selector, labels)) {
      causes.push({ field: 'spec.template.metadata.labels', message: `Invalid value: ${JSON.stringify(labels ?? {})}: \`selector\` does not match template \`labels\`` });
    }
    if (obj.spec?.replicas < 0) causes.push({ field: 'spec.replicas', message: `Invalid value: ${obj.spec.replicas}: must be greater than or equal to 0` });
  }
  if (r.kind === 'Job' && !['Never', 'OnFailure'].includes(podSpec?.restartPolicy)) {
    causes.push({ field: 'spec.template.spec.restartPolicy', message: `Unsupported value: "${podSpec?.restartPolicy}": supported values: "OnFailure", "Never"` });
  }
  if (causes.length > 0) throw invalid(r, name, causes);
}
