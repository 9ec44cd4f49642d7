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

/** kubernetes-replicas, ingress-nginx, gateway-api: the Kubernetes traffic shifters. */
export const kubernetesShifterSchemas = [kubernetesReplicasSchema, ingressNginxSchema, gatewayApiSchema] as const;

export type KubernetesReplicasShifter = z.infer<typeof kubernetesReplicasSchema>;
export type IngressNginxShifter = z.infer<typeof ingressNginxSchema>;
export type GatewayApiShifter = z.infer<typeof gatewayApiSchema>;
export type KubernetesShifter = KubernetesReplicasShifter | IngressNginxShifter | GatewayApiShifter;
