// The in-process control loop: any change to the store (or a timer the controllers asked for)
// schedules one reconcile pass over Deployments, ReplicaSets, Jobs and Pods. Passes only write
// what changed, so the loop settles; each write schedules the next pass.
import { syncDeployment } from './deployments.js';
import type { ImageRegistry } from './images.js';
import { syncJob } from './jobs.js';
import { syncPod, type ControllerContext } from './pods.js';
import { syncReplicaSet } from './replicasets.js';
import { resourceByKind } from './resources.js';
import type { ObjectStore } from './store.js';

const DEPLOYMENT = resourceByKind('Deployment');
const RS = resourceByKind('ReplicaSet');
const JOB = resourceByKind('Job');
const POD = resourceByKind('Pod');

export class Controller {
  private scheduled = false;
  private stopped = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeTime = Infinity;
  /** When each pod was first seen (ms): creationTimestamp only has whole seconds. */
  private readonly born = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly readyDelayMs: number,
    private readonly images: ImageRegistry,
  ) {
    this.unsubscribe = store.subscribe((event) => {
      if (event.resource === POD) {
        if (event.type === 'ADDED') this.born.set(event.object.metadata.uid, Date.now());
        if (event.type === 'DELETED') this.born.delete(event.object.metadata.uid);
      }
      this.schedule();
    });
  }

  /** Runs a pass soon (after the current request's work), once however many changes asked. */
  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped) this.reconcile();
    });
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
  }

  private wakeAt(ms: number): void {
    if (this.stopped || ms >= this.wakeTime) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTime = ms;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeTime = Infinity;
      this.schedule();
    }, Math.max(0, ms - Date.now()));
  }

  private reconcile(): void {
    const context: ControllerContext = {
      store: this.store,
      now: Date.now(),
      readyDelayMs: this.readyDelayMs,
      images: this.images,
      bornAt: (pod) => this.born.get(pod.metadata.uid) ?? Date.parse(pod.metadata.creationTimestamp),
      wakeAt: (ms) => this.wakeAt(ms),
    };
    const each = (kind: typeof DEPLOYMENT, sync: (c: ControllerContext, obj: any) => void) => {
      for (const obj of this.store.list(kind)) {
        try {
          // Re-read: an earlier sync in this pass may have changed it.
          const fresh = this.store.get(kind, obj.metadata.namespace, obj.metadata.name);
          if (fresh) sync(context, fresh);
        } catch (error) {
          console.error(`k8s stand-in controller: syncing ${kind.kind} ${obj.metadata.namespace}/${obj.metadata.name} failed:`, error);
        }
      }
    };
    each(DEPLOYMENT, syncDeployment);
    each(RS, syncReplicaSet);
    each(JOB, syncJob);
    each(POD, syncPod);
  }
}
