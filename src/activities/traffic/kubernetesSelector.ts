// kubernetes-service-selector: the Service's spec.selector is switched whole — stableSelector at
// weight 0, canarySelector at 100 (for disaster recovery, the canary is the recovered side). A
// selector cannot split traffic, so any other weight is refused (InvalidWeight, non-retryable).
// The write is one JSON patch: `test` that the Service is still the one read (its
// resourceVersion), then `replace` the selector with exactly the wanted one — labels of the other
// selector do not linger (a merge patch would keep any key it does not null), and a Service edited
// meanwhile fails the patch (retryable: the retry reads it again) instead of being overwritten
// blind. The weight in force writes nothing.
import { ApplicationFailure } from '@temporalio/activity';
import type { KubernetesTarget } from '../../config/stacks/deploy.js';
import { SELECTOR_WEIGHT_REFUSAL, sameSelector, type KubernetesServiceSelectorShifter } from '../../config/stacks/trafficKubernetes.js';
import { checkWeight, configError, jsonPatch, requireObject, where, type KubernetesShifterDriver, type ReadResult } from './kubernetesCommon.js';

export interface ServiceJson {
  metadata: { name: string; resourceVersion?: string };
  spec?: { type?: string; selector?: Record<string, string> };
}

const serviceRef = (s: KubernetesServiceSelectorShifter) => `service/${s.service}`;
const MISSING_SERVICE = "check the shifter's service in the stacks file and the deploy target's namespace";

const show = (selector: Record<string, string> | undefined) =>
  selector === undefined || Object.keys(selector).length === 0 ? '(none)' : Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');

/** The selector a weight asks for: 0 → stable, 100 → canary; anything else is refused (pure). */
export function selectorFor(s: KubernetesServiceSelectorShifter, weight: number): Record<string, string> {
  checkWeight(weight);
  if (weight === 0) return s.stableSelector;
  if (weight === 100) return s.canarySelector;
  throw ApplicationFailure.nonRetryable(`canary weight ${weight} for service/${s.service}: ${SELECTOR_WEIGHT_REFUSAL}`, 'InvalidWeight');
}

/** 100 when the Service selects the canary, 0 the stable side, null (with its selector) otherwise (pure). */
export function selectorWeight(service: ServiceJson, s: KubernetesServiceSelectorShifter): ReadResult {
  const selector = service.spec?.selector;
  const detail = `service/${service.metadata.name} selector ${show(selector)}`;
  if (sameSelector(selector, s.canarySelector)) return { weight: 100, detail };
  if (sameSelector(selector, s.stableSelector)) return { weight: 0, detail };
  return { weight: null, detail: `${detail}: neither the stable (${show(s.stableSelector)}) nor the canary (${show(s.canarySelector)}) selector` };
}

/**
 * The JSON patch from the Service read to `wanted`; [] when it is in force (pure). It is guarded
 * by a `test` of the resourceVersion read (the selector read, when there is none): a Service
 * changed meanwhile fails the patch, and the retry reads it again.
 */
export function selectorOps(service: ServiceJson, wanted: Record<string, string>): object[] {
  const current = service.spec?.selector;
  if (sameSelector(current, wanted)) return [];
  const version = service.metadata.resourceVersion;
  return [
    version !== undefined ? { op: 'test', path: '/metadata/resourceVersion', value: version } : { op: 'test', path: '/spec/selector', value: current },
    { op: 'replace', path: '/spec/selector', value: wanted },
  ];
}

/** A Service the shifter must not take over: one without a selector (its endpoints are kept by hand) or an ExternalName. */
function refuseUnselected(service: ServiceJson, t: KubernetesTarget): void {
  if (service.spec?.type === 'ExternalName') {
    throw configError(`service/${service.metadata.name} in ${where(t)} is an ExternalName Service: it has no selector to switch; point the shifter at the Service that selects the pods`);
  }
  const selector = service.spec?.selector;
  if (selector === undefined || Object.keys(selector).length === 0) {
    throw configError(`service/${service.metadata.name} in ${where(t)} has no selector (its endpoints are managed by hand): ragops will not take it over; give it the stable selector first, or point the shifter at another Service`);
  }
}

export const kubernetesServiceSelectorDriver: KubernetesShifterDriver<KubernetesServiceSelectorShifter> = {
  async set({ target, shifter, weight, signal }) {
    const wanted = selectorFor(shifter, weight);
    const ref = serviceRef(shifter);
    const service = await requireObject<ServiceJson>(target, ref, MISSING_SERVICE, signal);
    refuseUnselected(service, target);
    const ops = selectorOps(service, wanted);
    if (ops.length === 0) return { weight, detail: `${selectorWeight(service, shifter).detail} (unchanged)` };
    const patched = await jsonPatch<ServiceJson>(target, ref, ops, signal);
    const now = selectorWeight(patched, shifter);
    return { weight: now.weight ?? weight, detail: `${now.detail} (was ${show(service.spec?.selector)})` };
  },

  async read({ target, shifter, signal }) {
    const service = await requireObject<ServiceJson>(target, serviceRef(shifter), MISSING_SERVICE, signal);
    return selectorWeight(service, shifter);
  },
};
