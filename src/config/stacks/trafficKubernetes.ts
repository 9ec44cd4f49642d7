import { z } from 'zod';
import { kubeName } from './deploy.js';

// The Kubernetes traffic shifters. They act in the namespace (kubeconfig, context) of the
// service's Kubernetes deploy target: the activities in src/activities/traffic/kubernetes*.ts
// take `{ target, shifter, weight }`, so no shifter repeats the target's fields here.

/** The canary Deployment's default name: `<deployment>-canary` (launchCanary creates it). */
export const canaryDeploymentName = (deployment: string) => `${deployment}-canary`;

/**
 * `kubernetes-replicas`: the canary Deployment is scaled to ceil(weight × total / 100) replicas
 * beside the stable one, total being the stable Deployment's replicas when the canary first
 * takes a weight (recorded on the canary as the annotation `ragops.io/canary-total`).
 */
const kubernetesReplicasSchema = z
  .object({
    type: z.literal('kubernetes-replicas'),
    /** The stable Deployment. */
    deployment: kubeName,
    /** The canary Deployment; `<deployment>-canary` when left out. */
    canaryDeployment: kubeName.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const canary = s.canaryDeployment ?? canaryDeploymentName(s.deployment);
    if (canary.length > 63) {
      ctx.addIssue({ code: 'custom', path: ['canaryDeployment'], message: `"${canary}" is longer than 63 characters: name the canary Deployment (canaryDeployment)` });
    }
    if (canary === s.deployment) ctx.addIssue({ code: 'custom', path: ['canaryDeployment'], message: 'the canary Deployment must not be the stable one' });
  });

/**
 * `ingress-nginx`: the canary Ingress carries `nginx.ingress.kubernetes.io/canary: "true"` and
 * `nginx.ingress.kubernetes.io/canary-weight: "<weight>"`. Given `stableIngress` and
 * `canaryService`, a missing canary Ingress is created from the stable one with every backend
 * service switched to `canaryService`.
 */
const ingressNginxSchema = z
  .object({
    type: z.literal('ingress-nginx'),
    /** The canary Ingress. */
    ingress: kubeName,
    stableIngress: kubeName.optional(),
    canaryService: kubeName.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.stableIngress === undefined) !== (s.canaryService === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.stableIngress === undefined ? 'stableIngress' : 'canaryService'], message: 'stableIngress and canaryService go together: both to create the canary Ingress when absent, neither when it exists already' });
    }
    if (s.stableIngress !== undefined && s.stableIngress === s.ingress) {
      ctx.addIssue({ code: 'custom', path: ['stableIngress'], message: 'the canary Ingress must not be the stable one' });
    }
  });

/**
 * `gateway-api`: the weights of the HTTPRoute's backendRefs, in every rule that refers to
 * `stableBackend`: stable 100 − weight, canary weight (a canary backendRef is added to such a
 * rule, on the stable one's port, when it has none).
 */
const gatewayApiSchema = z
  .object({
    type: z.literal('gateway-api'),
    /** The HTTPRoute (gateway.networking.k8s.io/v1). */
    route: kubeName,
    /** Service names as the route's backendRefs give them. */
    stableBackend: kubeName,
    canaryBackend: kubeName,
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.stableBackend === s.canaryBackend) ctx.addIssue({ code: 'custom', path: ['canaryBackend'], message: 'the canary backend must not be the stable one' });
  });

/** A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const labelKey = z.string().refine((key) => {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  return LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
}, 'a Kubernetes label key: [prefix/]name, the name at most 63 letters, digits, "-", "_" or "." starting and ending alphanumeric, the prefix a DNS subdomain');
/** A label value: empty, or at most 63 letters, digits, "-", "_" or "." starting and ending alphanumeric. */
export const labelValue = z.string().regex(/^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/, 'a Kubernetes label value: at most 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric (or empty)');
const labelSelector = z.record(labelKey, labelValue).refine((selector) => Object.keys(selector).length > 0, 'a selector needs at least one label: an empty one would select no pods');

/** Two selectors are the same when they hold the same labels with the same values, whatever the order. */
export function sameSelector(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  if (a === undefined) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}

/**
 * `kubernetes-service-selector`: the Service's `spec.selector` is `stableSelector` at weight 0
 * and `canarySelector` at weight 100 — all the traffic or none (for disaster recovery, the canary
 * is the recovered side). A Service selector cannot split traffic: any other weight is refused.
 */
const kubernetesServiceSelectorSchema = z
  .object({
    type: z.literal('kubernetes-service-selector'),
    /** The Service whose selector is switched. */
    service: kubeName,
    stableSelector: labelSelector,
    canarySelector: labelSelector,
  })
  .strict()
  .superRefine((s, ctx) => {
    if (sameSelector(s.stableSelector, s.canarySelector)) ctx.addIssue({ code: 'custom', path: ['canarySelector'], message: 'the canary selector must not be the stable one' });
  });

/** The share a switch-only shifter cannot give: a Service selector sends all traffic or none. */
export const SELECTOR_WEIGHT_REFUSAL = 'a Service selector switches all traffic or none; use 0 or 100';

/**
 * Why `weight` cannot be set with this shifter, or undefined when it can: the config-time form
 * of the shifter's InvalidWeight (canary steps, a DR traffic step).
 */
export function shifterWeightRefusal(shifter: { type: string }, weight: number): string | undefined {
  if (shifter.type === 'kubernetes-service-selector' && weight !== 0 && weight !== 100) return `${weight} %: ${SELECTOR_WEIGHT_REFUSAL} (kubernetes-service-selector)`;
  return undefined;
}

/** kubernetes-replicas, ingress-nginx, gateway-api, kubernetes-service-selector: the Kubernetes traffic shifters. */
export const kubernetesShifterSchemas = [kubernetesReplicasSchema, ingressNginxSchema, gatewayApiSchema, kubernetesServiceSelectorSchema] as const;

export type KubernetesReplicasShifter = z.infer<typeof kubernetesReplicasSchema>;
export type IngressNginxShifter = z.infer<typeof ingressNginxSchema>;
export type GatewayApiShifter = z.infer<typeof gatewayApiSchema>;
export type KubernetesServiceSelectorShifter = z.infer<typeof kubernetesServiceSelectorSchema>;
export type KubernetesShifter = KubernetesReplicasShifter | IngressNginxShifter | GatewayApiShifter | KubernetesServiceSelectorShifter;
