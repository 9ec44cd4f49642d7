// Object storage with an etcd-like global resourceVersion, an event history for watches
// resuming from a resourceVersion, and listeners (watch streams, the controller).
import { randomUUID } from 'node:crypto';
import { apiVersionOf, qualifiedName, type ResourceType } from './resources.js';
import { alreadyExists, conflict, notFound } from './status.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  type: EventType;
  resource: ResourceType;
  object: any;
  /** The object before a MODIFIED event (watches with selectors turn it into ADDED/DELETED). */
  previous?: any;
}

/** How many events a watch can resume from; older resourceVersions get 410 Expired. */
const HISTORY_LIMIT = 10_000;

export const clone = <T>(value: T): T => structuredClone(value);
/** RFC 3339 at second precision, as Kubernetes writes timestamps. */
export const timestamp = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<string, Map<string, any>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  get resourceVersion(): number {
    return this.rv;
  }

  get(r: ResourceType, namespace: string, name: string): any | undefined {
    const found = this.table(r).get(key(r, namespace, name));
    return found === undefined ? undefined : clone(found);
  }

  mustGet(r: ResourceType, namespace: string, name: string): any {
    const found = this.get(r, namespace, name);
    if (found === undefined) throw notFound(r, name);
    return found;
  }

  /** Every object of the type (in `namespace` when given), ordered by namespace and name. */
  list(r: ResourceType, namespace?: string): any[] {
    return [...this.table(r).entries()]
      .filter(([, obj]) => namespace === undefined || !r.namespaced || obj.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => clone(obj));
  }

  /** Stores a new object; keeps a `metadata.uid` the caller chose (the Job defaulting needs it first). */
  create(r: ResourceType, obj: any): any {
    const metadata = obj.metadata;
    const k = key(r, metadata.namespace, metadata.name);
    if (this.table(r).has(k)) throw alreadyExists(r, metadata.name);
    const stored = {
      ...clone(obj),
      apiVersion: apiVersionOf(r),
      kind: r.kind,
      metadata: {
        ...clone(metadata),
        uid: metadata.uid ?? randomUUID(),
        resourceVersion: String(++this.rv),
        creationTimestamp: timestamp(),
        ...(r.hasGeneration ? { generation: 1 } : {}),
      },
    };
    delete stored.metadata.deletionTimestamp;
    this.table(r).set(k, stored);
    this.emit({ rv: this.rv, type: 'ADDED', resource: r, object: clone(stored) });
    return clone(stored);
  }

  /**
   * Replaces a stored object. A `metadata.resourceVersion` in `obj` must match the stored one
   * (409 Conflict otherwise); an update that changes nothing writes nothing, like the real one.
   */
  update(r: ResourceType, obj: any): any {
    const { namespace, name, resourceVersion } = obj.metadata;
    const k = key(r, namespace, name);
    const old = this.table(r).get(k);
    if (old === undefined) throw notFound(r, name);
    if (resourceVersion && resourceVersion !== old.metadata.resourceVersion) throw conflict(r, name);
    const next = { ...clone(obj), apiVersion: apiVersionOf(r), kind: r.kind };
    next.metadata = {
      ...next.metadata,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      resourceVersion: old.metadata.resourceVersion,
    };
    if (r.hasGeneration) {
      const specChanged = JSON.stringify(next.spec) !== JSON.stringify(old.spec);
      next.metadata.generation = (old.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    }
    if (JSON.stringify(next) === JSON.stringify(old)) return clone(old);
    next.metadata.resourceVersion = String(++this.rv);
    this.table(r).set(k, next);
    this.emit({ rv: this.rv, type: 'MODIFIED', resource: r, object: clone(next), previous: clone(old) });
    return clone(next);
  }

  /** Removes the object; the DELETED event carries it at a new resourceVersion. */
  remove(r: ResourceType, namespace: string, name: string): any {
    const k = key(r, namespace, name);
    const old = this.table(r).get(k);
    if (old === undefined) throw notFound(r, name);
    this.table(r).delete(k);
    const gone = { ...clone(old), metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ rv: this.rv, type: 'DELETED', resource: r, object: clone(gone) });
    return gone;
  }

  /** Events after `rv` for resource `r`, or undefined when the history no longer reaches back that far. */
  eventsSince(r: ResourceType, rv: number): StoreEvent[] | undefined {
    const oldest = this.history[0]?.rv ?? this.rv + 1;
    if (rv < oldest - 1 && rv < this.rv) return undefined;
    return this.history.filter((event) => event.rv > rv && event.resource === r);
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.splice(0, this.history.length - HISTORY_LIMIT);
    for (const listener of [...this.listeners]) listener(event);
  }

  private table(r: ResourceType): Map<string, any> {
    const name = qualifiedName(r);
    let table = this.objects.get(name);
    if (!table) this.objects.set(name, (table = new Map()));
    return table;
  }
}

const key = (r: ResourceType, namespace: string | undefined, name: string) => (r.namespaced ? `${namespace}/${name}` : name);
