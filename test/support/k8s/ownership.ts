// ownerReferences: who controls what, and deletion with the garbage collector's propagation
// policies (Background/Foreground delete dependents, Orphan strips the references).
import { RESOURCES, apiVersionOf, type ResourceType } from './resources.js';
import type { ObjectStore } from './store.js';

export type Propagation = 'Background' | 'Foreground' | 'Orphan';

/** The controller ownerReference an owner puts on what it creates. */
export function controllerRef(r: ResourceType, owner: any): object {
  return {
    apiVersion: apiVersionOf(r),
    kind: r.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** metav1.IsControlledBy: a controller ownerReference with the owner's uid. */
export const isControlledBy = (obj: any, owner: any): boolean =>
  (obj.metadata.ownerReferences ?? []).some((ref: any) => ref.controller && ref.uid === owner.metadata.uid);

const ownedBy = (obj: any, uid: string) => (obj.metadata.ownerReferences ?? []).some((ref: any) => ref.uid === uid);

/** Objects in `namespace` with an ownerReference to `uid`, with their resource types. */
function dependents(store: ObjectStore, namespace: string | undefined, uid: string): { r: ResourceType; obj: any }[] {
  return RESOURCES.flatMap((r) => store.list(r, r.namespaced ? namespace : undefined).filter((obj) => ownedBy(obj, uid)).map((obj) => ({ r, obj })));
}

/** Deletes an object and, unless orphaning, everything it owns (recursively); returns the deleted object. */
export function deleteWithDependents(store: ObjectStore, r: ResourceType, namespace: string, name: string, policy: Propagation): any {
  const gone = store.remove(r, namespace, name);
  if (r.kind === 'Namespace') {
    // A namespace takes everything in it along (the real one after a Terminating phase).
    for (const nr of RESOURCES.filter((x) => x.namespaced)) {
      for (const obj of store.list(nr, name)) store.remove(nr, name, obj.metadata.name);
    }
  }
  for (const dependent of dependents(store, gone.metadata.namespace, gone.metadata.uid)) {
    const { r: dr, obj } = dependent;
    if (store.get(dr, obj.metadata.namespace, obj.metadata.name) === undefined) continue; // gone with another owner
    if (policy === 'Orphan') {
      const refs = obj.metadata.ownerReferences.filter((ref: any) => ref.uid !== gone.metadata.uid);
      store.update(dr, { ...obj, metadata: { ...obj.metadata, ownerReferences: refs.length ? refs : undefined } });
    } else deleteWithDependents(store, dr, obj.metadata.namespace, obj.metadata.name, policy);
  }
  return gone;
}

/** The API server's default when a DELETE names no policy: batch/v1 Jobs orphan, the rest cascade. */
export const defaultPropagation = (r: ResourceType): Propagation => (r.kind === 'Job' ? 'Orphan' : 'Background');
