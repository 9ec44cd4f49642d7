// ingress-nginx: the canary Ingress's annotations `nginx.ingress.kubernetes.io/canary: "true"`
// and `…/canary-weight: "<n>"` (of `…/canary-weight-total`, 100 unless the Ingress says
// otherwise). A missing canary Ingress is created from the stable one when the shifter names
// `stableIngress` and `canaryService`; otherwise it is a ConfigError.
import type { IngressNginxShifter } from '../../config/stacks/trafficKubernetes.js';
import { CANARY_OF, checkWeight, configError, createObject, findObject, MANAGED_BY, mergePatch, percent, requireObject, where, type KubernetesShifterDriver } from './kubernetesCommon.js';

export const NGINX_CANARY = 'nginx.ingress.kubernetes.io/canary';
export const NGINX_CANARY_WEIGHT = 'nginx.ingress.kubernetes.io/canary-weight';
export const NGINX_CANARY_WEIGHT_TOTAL = 'nginx.ingress.kubernetes.io/canary-weight-total';
/** Not copied from the stable Ingress: its own canary settings, and kubectl's record of its last apply. */
const NOT_COPIED = /^nginx\.ingress\.kubernetes\.io\/canary|^kubectl\.kubernetes\.io\/last-applied-configuration$/;

interface Backend {
  service?: { name: string; port?: unknown };
  [field: string]: unknown;
}
export interface IngressJson {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    defaultBackend?: Backend;
    rules?: Array<{ host?: string; http?: { paths: Array<{ path?: string; pathType?: string; backend: Backend }> } }>;
    [field: string]: unknown;
  };
}

const totalOf = (ingress: IngressJson) => {
  const total = Number(ingress.metadata.annotations?.[NGINX_CANARY_WEIGHT_TOTAL] ?? 100);
  return Number.isInteger(total) && total > 0 ? total : 100;
};

/** The annotations that give the canary `weight` % of the Ingress's traffic (pure). */
export function canaryAnnotations(ingress: IngressJson | undefined, weight: number): Record<string, string> {
  const total = ingress ? totalOf(ingress) : 100;
  return { [NGINX_CANARY]: 'true', [NGINX_CANARY_WEIGHT]: String(Math.round((weight * total) / 100)) };
}

/** The canary's share the annotations give: 0 when it is not a canary or has no weight (nginx's default). */
export function ingressWeight(ingress: IngressJson): number {
  const a = ingress.metadata.annotations ?? {};
  if (a[NGINX_CANARY] !== 'true') return 0;
  const w = Number(a[NGINX_CANARY_WEIGHT] ?? 0);
  return Number.isFinite(w) ? percent(w, totalOf(ingress)) : 0;
}

/** The canary Ingress made from the stable one, every backend switched to `service`, at `weight` (pure). */
export function canaryIngressFrom(stable: IngressJson, name: string, service: string, weight: number): object {
  const spec = structuredClone(stable.spec ?? {});
  const switchBackend = (backend: Backend | undefined) => {
    if (backend?.service) backend.service = { ...backend.service, name: service };
  };
  switchBackend(spec.defaultBackend);
  for (const rule of spec.rules ?? []) for (const path of rule.http?.paths ?? []) switchBackend(path.backend);
  const annotations = Object.fromEntries(Object.entries(stable.metadata.annotations ?? {}).filter(([k]) => !NOT_COPIED.test(k)));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      labels: { ...stable.metadata.labels, [MANAGED_BY]: 'ragops' },
      annotations: { ...annotations, [CANARY_OF]: stable.metadata.name, ...canaryAnnotations(undefined, weight) },
    },
    spec,
  };
}

export const ingressNginxDriver: KubernetesShifterDriver<IngressNginxShifter> = {
  async set({ target, shifter, weight, signal }) {
    checkWeight(weight);
    const ref = `ingress/${shifter.ingress}`;
    const ingress = await findObject<IngressJson>(target, ref, signal);
    if (!ingress) {
      if (!shifter.stableIngress || !shifter.canaryService) {
        throw configError(`${ref} not found in ${where(target)}: create the canary Ingress, or give the shifter stableIngress and canaryService so ragops creates it`);
      }
      const stable = await requireObject<IngressJson>(target, `ingress/${shifter.stableIngress}`, "check the shifter's stableIngress in the stacks file", signal);
      if (await createObject(target, ref, canaryIngressFrom(stable, shifter.ingress, shifter.canaryService, weight), signal)) {
        return { weight, detail: `${ref} created from ingress/${shifter.stableIngress} with backend service ${shifter.canaryService}, canary-weight ${weight}` };
      }
      return ingressNginxDriver.set({ target, shifter, weight, signal }); // made meanwhile
    }
    const wanted = canaryAnnotations(ingress, weight);
    const detail = `${ref}: canary-weight ${wanted[NGINX_CANARY_WEIGHT]} of ${totalOf(ingress)}`;
    const current = ingress.metadata.annotations ?? {};
    if (Object.entries(wanted).every(([k, v]) => current[k] === v)) return { weight: ingressWeight(ingress), detail: `${detail} (unchanged)` };
    const patched = await mergePatch<IngressJson>(target, ref, { metadata: { annotations: wanted } }, signal);
    return { weight: ingressWeight(patched), detail };
  },

  async read({ target, shifter, signal }) {
    const ref = `ingress/${shifter.ingress}`;
    const ingress = await findObject<IngressJson>(target, ref, signal);
    if (!ingress) {
      if (shifter.stableIngress) return { weight: 0, detail: `${ref} absent (created on the first set): no canary traffic` };
      throw configError(`${ref} not found in ${where(target)}: create the canary Ingress, or give the shifter stableIngress and canaryService so ragops creates it`);
    }
    const a = ingress.metadata.annotations ?? {};
    if (a[NGINX_CANARY] !== 'true') return { weight: 0, detail: `${ref} has no ${NGINX_CANARY}: "true" annotation: not a canary` };
    return { weight: ingressWeight(ingress), detail: `${ref}: canary-weight ${a[NGINX_CANARY_WEIGHT] ?? '(none, 0)'} of ${totalOf(ingress)}` };
  },
};
