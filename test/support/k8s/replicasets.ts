// The ReplicaSet controller: keeps `spec.replicas` pods (made from the template, owned by the
// ReplicaSet) and reports how many exist, are ready and available.
import { randomBytes } from 'node:crypto';
import { controllerRef, isControlledBy } from './ownership.js';
import { isPodReady, type ControllerContext } from './pods.js';
import { resourceByKind } from './resources.js';
import { selectorMatches } from './selectors.js';

const RS = resourceByKind('ReplicaSet');
const POD = resourceByKind('Pod');

/** Five characters like the API server's generateName suffixes. */
export const nameSuffix = () => {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
};

/** A pod from a template, owned by `owner` of resource kind `ownerKind`. */
export function podFromTemplate(owner: any, ownerKind: string): any {
  const template = owner.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${owner.metadata.name}-${nameSuffix()}`,
      generateName: `${owner.metadata.name}-`,
      namespace: owner.metadata.namespace,
      labels: { ...template.metadata?.labels },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [controllerRef(resourceByKind(ownerKind), owner)],
    },
    spec: { ...structuredClone(template.spec), nodeName: 'standin-node', serviceAccountName: template.spec.serviceAccountName ?? 'default' },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  };
}

/** Pods owned by a controller object, in the owner's namespace. */
export function podsOf(c: ControllerContext, owner: any): any[] {
  return c.store.list(POD, owner.metadata.namespace).filter((pod) => isControlledBy(pod, owner));
}

export function syncReplicaSet(c: ControllerContext, rs: any): void {
  let pods = podsOf(c, rs);
  const desired = rs.spec.replicas ?? 1;
  for (let i = pods.length; i < desired; i++) c.store.create(POD, podFromTemplate(rs, 'ReplicaSet'));
  if (pods.length > desired) {
    // Not-ready pods go first, then the youngest (the real controller's ranking, simplified).
    const ranked = [...pods].sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || c.bornAt(b) - c.bornAt(a));
    for (const pod of ranked.slice(0, pods.length - desired)) c.store.remove(POD, pod.metadata.namespace, pod.metadata.name);
  }
  pods = podsOf(c, rs);
  const ready = pods.filter(isPodReady).length;
  const labelled = pods.filter((pod) => selectorMatches(rs.spec.selector, pod.metadata.labels)).length;
  const status = {
    replicas: pods.length,
    ...(labelled ? { fullyLabeledReplicas: labelled } : {}),
    ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
    observedGeneration: rs.metadata.generation,
  };
  const current = c.store.get(RS, rs.metadata.namespace, rs.metadata.name);
  if (current && JSON.stringify(current.status) !== JSON.stringify(status)) c.store.update(RS, { ...current, status });
}
