import { z } from 'zod';

/** kubernetes-replicas, ingress-nginx, gateway-api: the Kubernetes traffic shifters. */
export const kubernetesShifterSchemas = [
  z.object({ type: z.literal('kubernetes-replicas') }).strict(),
] as const;
