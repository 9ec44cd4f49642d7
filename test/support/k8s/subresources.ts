// Subresources other than `status` (which rest.ts handles): `scale` (an autoscaling/v1 Scale
// view of spec.replicas, as `kubectl scale` reads and patches it) and `pods/log` (plain text).
import { applyPatch } from './patch.js';
import { podLogLines } from './pods.js';
import { jsonBody, type ApiRequest, type Reply } from './rest.js';
import { selectorString } from './selectors.js';
import { badRequest, conflict, methodNotAllowed } from './status.js';
import type { ObjectStore } from './store.js';

/** The Scale object of a Deployment or ReplicaSet. */
function scaleOf(obj: any): object {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: obj.spec.replicas ?? 0 },
    status: { replicas: obj.status?.replicas ?? 0, selector: selectorString(obj.spec.selector) },
  };
}

export function scale(store: ObjectStore, req: ApiRequest): Reply {
  const old = store.mustGet(req.r, req.namespace ?? '', req.name!);
  if (req.method === 'GET') return { status: 200, body: scaleOf(old) };
  let wanted: any;
  if (req.method === 'PUT') wanted = jsonBody(req);
  else if (req.method === 'PATCH') wanted = applyPatch(req.headers['content-type'] ?? '', scaleOf(old), req.body.toString('utf8'));
  else throw methodNotAllowed();
  const replicas = wanted.spec?.replicas;
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw badRequest(`Scale.autoscaling "${old.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`);
  }
  const rv = wanted.metadata?.resourceVersion;
  if (rv && rv !== old.metadata.resourceVersion) throw conflict(req.r, old.metadata.name);
  const updated = store.update(req.r, { ...old, spec: { ...old.spec, replicas } });
  return { status: 200, body: scaleOf(updated) };
}

/** GET pods/<name>/log: `container`, `tailLines`, `limitBytes`, `timestamps` (follow ends at once). */
export function podLog(store: ObjectStore, req: ApiRequest): { status: number; text: string } {
  if (req.method !== 'GET') throw methodNotAllowed();
  const pod = store.mustGet(req.r, req.namespace ?? '', req.name!);
  let lines = podLogLines(pod, req.query.get('container'));
  const tail = req.query.get('tailLines');
  if (tail !== null && Number(tail) >= 0) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail));
  if (req.query.get('timestamps') === 'true') {
    const at = pod.status?.startTime ?? pod.metadata.creationTimestamp;
    lines = lines.map((line) => `${at.replace('Z', '.000000000Z')} ${line}`);
  }
  let text = lines.map((line) => `${line}\n`).join('');
  const limit = req.query.get('limitBytes');
  if (limit !== null) text = Buffer.from(text).subarray(0, Number(limit)).toString('utf8');
  return { status: 200, text };
}
