// The Kubernetes traffic shifters, keyed by shifter type, and the canary Deployment's launch
// and removal. Every driver takes `{ target, shifter, weight }` (read: `{ target, shifter }`):
// `target` is the service's Kubernetes deploy target (kubeconfig, context, namespace), which
// the shifter configs do not repeat; an optional `signal` cancels kubectl.
//   set  → { weight: the canary's share now in effect, detail }; the same weight twice writes nothing.
//   read → { weight: the share the cluster's objects give, or null when they do not tell one, detail }.
// A canary Ingress, HTTPRoute, stable Deployment or switched Service that does not exist fails
// with a non-retryable ConfigError naming it; a weight that is not a whole 0–100 with
// InvalidWeight, and so does one other than 0 or 100 for kubernetes-service-selector.
import type { DeployTarget, KubernetesTarget } from '../../config/stacks/deploy.js';
import { configError, type KubernetesShifterDriver } from './kubernetesCommon.js';
import { gatewayApiDriver } from './kubernetesGateway.js';
import { ingressNginxDriver } from './kubernetesIngress.js';
import { kubernetesReplicasDriver } from './kubernetesReplicas.js';
import { kubernetesServiceSelectorDriver } from './kubernetesSelector.js';

export const kubernetesDrivers = {
  'kubernetes-replicas': kubernetesReplicasDriver,
  'ingress-nginx': ingressNginxDriver,
  'gateway-api': gatewayApiDriver,
  'kubernetes-service-selector': kubernetesServiceSelectorDriver,
} as const;

export { launchCanary, removeCanary, type LaunchCanaryRequest, type RemoveCanaryRequest } from './kubernetesCanary.js';
export type { KubernetesReadRequest, KubernetesShiftRequest, KubernetesShifterDriver, ReadResult, ShiftResult } from './kubernetesCommon.js';

/**
 * The same drivers with the target bound, in the `set(shifter, weight, ctx)` /
 * `read(shifter, ctx)` form the traffic registry calls (only `ctx.signal` is used).
 */
export function kubernetesDriversFor(target: KubernetesTarget) {
  const bind = <S>(driver: KubernetesShifterDriver<S>) => ({
    set: (shifter: S, weight: number, ctx?: { signal?: AbortSignal }) => driver.set({ target, shifter, weight, signal: ctx?.signal }),
    read: (shifter: S, ctx?: { signal?: AbortSignal }) => driver.read({ target, shifter, signal: ctx?.signal }),
  });
  return {
    'kubernetes-replicas': bind(kubernetesReplicasDriver),
    'ingress-nginx': bind(ingressNginxDriver),
    'gateway-api': bind(gatewayApiDriver),
    'kubernetes-service-selector': bind(kubernetesServiceSelectorDriver),
  };
}

/**
 * The drivers in the registry's form, finding the target in `ctx.target` (the service's deploy
 * target): `...kubernetesContextDrivers` can go straight into the registry. A target that is
 * missing or not Kubernetes is a ConfigError naming the shifter type.
 */
function fromContext<K extends keyof typeof kubernetesDrivers>(type: K) {
  type S = Parameters<(typeof kubernetesDrivers)[K]['read']>[0]['shifter'];
  const driver = kubernetesDrivers[type] as unknown as KubernetesShifterDriver<S>;
  const targetOf = (ctx: ShifterContextLike): KubernetesTarget => {
    if (ctx.target?.type === 'kubernetes') return ctx.target;
    throw configError(`the ${type} shifter acts on the service's Kubernetes deploy target, and this service's target is ${ctx.target ? ctx.target.type : 'not given'}`);
  };
  return {
    set: async (shifter: S, weight: number, ctx: ShifterContextLike) => driver.set({ target: targetOf(ctx), shifter, weight, signal: ctx.signal }),
    read: async (shifter: S, ctx: ShifterContextLike) => driver.read({ target: targetOf(ctx), shifter, signal: ctx.signal }),
  };
}
interface ShifterContextLike {
  signal?: AbortSignal;
  target?: DeployTarget;
}

export const kubernetesContextDrivers = {
  'kubernetes-replicas': fromContext('kubernetes-replicas'),
  'ingress-nginx': fromContext('ingress-nginx'),
  'gateway-api': fromContext('gateway-api'),
  'kubernetes-service-selector': fromContext('kubernetes-service-selector'),
};
