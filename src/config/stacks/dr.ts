import { z } from 'zod';
import { componentLabel, hostName, stackName } from '../names.js';
import { durationText } from './canary.js';
import { httpCheckSchema, serviceName } from './deploy.js';
import { trafficShifterSchema } from './traffic.js';
import { shifterWeightRefusal } from './trafficKubernetes.js';

/** What must answer before services come back: HTTP checks, TCP ports, DNS names. */
export const drDependencySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('http'), name: componentLabel, check: httpCheckSchema }).strict(),
  z.object({ type: z.literal('tcp'), name: componentLabel, host: hostName, port: z.number().int().min(1).max(65535), timeoutSeconds: z.number().positive().max(300).default(10) }).strict(),
  z.object({ type: z.literal('dns'), name: componentLabel, hostname: hostName }).strict(),
]);
export type DrDependency = z.infer<typeof drDependencySchema>;

export const DR_RESTORE_KINDS = ['postgres', 'qdrant', 'redis', 'mirror', 'exec'] as const;
export type DrRestoreKind = (typeof DR_RESTORE_KINDS)[number];

/** The stack's disaster-recovery plan: what the `disasterRecovery` runbook stops, restores, starts and checks. */
export const drSchema = z
  .object({
    targets: z.object({ rtoMinutes: z.number().positive().max(1_000_000), rpoMinutes: z.number().positive().max(1_000_000) }).strict(),
    /** Deploy services that write to the data stores: stopped before the restore, in this order. */
    writers: z.array(serviceName).default([]),
    /** Deploy services brought back after the restore, in this order (default: the writers). */
    services: z.array(serviceName).optional(),
    /** Groups restored one after another; the kinds in one group are restored at the same time. */
    restoreOrder: z.array(z.array(z.enum(DR_RESTORE_KINDS)).min(1)).default([['postgres'], ['qdrant'], ['redis']]),
    dependencies: z.array(drDependencySchema).default([]),
    /**
     * The traffic step: a shifter (the canary's kinds: HAProxy, Caddy, ingress-nginx, Gateway
     * API, an HTTP admin endpoint, Kubernetes replicas, or a Service selector switched to the
     * recovered pods — 0 or 100 only) set so the recovered side gets `weight` %.
     */
    traffic: z.object({ shifter: trafficShifterSchema, weight: z.number().int().min(0).max(100).default(100) }).strict().superRefine((t, ctx) => {
      const refusal = shifterWeightRefusal(t.shifter, t.weight);
      if (refusal) ctx.addIssue({ code: 'custom', path: ['weight'], message: refusal });
    }).optional(),
    /** End-to-end checks through the API once services are back (health, smoke, golden queries). */
    validation: z.object({ checks: z.array(httpCheckSchema).min(1, 'a recovery is only done when something checks it end to end') }).strict(),
    /** How long the `approve` update is waited for before the run ends as not approved. */
    approvalTimeout: durationText.default('4h'),
    /** `mode: drill` restores into this stack (its own databases, collections and services) unless the input says `into`. */
    drillStack: stackName.optional(),
  })
  .strict();
export type DrConfig = z.infer<typeof drSchema>;
