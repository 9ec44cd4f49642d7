import { z } from 'zod';
import { stackName } from '../names.js';
import { canarySchema } from './canary.js';
import { deploySchema, serviceName } from './deploy.js';
import { drillSchema } from './drill.js';
import { postgresTargetSchema } from './postgres.js';
import { qdrantTargetSchema } from './qdrant.js';
import { reingestReferenceIssues, reingestSchema } from './reingest.js';
import { retentionSchema } from './retention.js';
import { storeSchema } from './store.js';
import { redisTargetSchema } from './redis.js';
import { mirrorComponentSchema } from './mirror.js';
import { execDumpSchema } from './execdump.js';
import { drSchema } from './dr.js';
import { sloSchema } from './slo.js';
import { notifySchema } from './notify.js';
import { backupPlanName, backupPlanSchema, parseSelectors, pickLabels, type BackupComponentKind } from './plans.js';

export * from './canary.js';
export * from './deploy.js';
export * from './drill.js';
export * from './postgres.js';
export * from './qdrant.js';
export * from './reingest.js';
export * from './embedders.js';
export * from './retention.js';
export * from './store.js';
export * from './redis.js';
export * from './mirror.js';
export * from './execdump.js';
export * from './encryption.js';
export * from './plans.js';
export * from './dr.js';
export * from './slo.js';
export * from './notify.js';

export const stackSchema = z
  .object({
    postgres: z.array(postgresTargetSchema).default([]),
    qdrant: qdrantTargetSchema.optional(),
    /** Redis servers: BGSAVE, then the RDB file streamed into the store. */
    redis: z.array(redisTargetSchema).default([]),
    /** S3 / MinIO buckets (or prefixes) mirrored incrementally into the store. */
    mirrors: z.array(mirrorComponentSchema).default([]),
    /** Commands whose stdout is the artifact: SQLite, Neo4j, Keycloak exports, volume tars. */
    execDumps: z.array(execDumpSchema).default([]),
    store: storeSchema,
    /** The retention of backups made without a plan. */
    retention: retentionSchema.optional(),
    /** Named sets of components, each with its own retention (`ragops backup --plan`, `ragops schedule backup --plan`). */
    plans: z.record(backupPlanName, backupPlanSchema).optional(),
    drill: drillSchema.optional(),
    deploy: deploySchema.optional(),
    /** Per deploy service: how its canary runs (steps, traffic shifter, metrics). */
    canary: z.record(serviceName, canarySchema).optional(),
    /** Blue-green re-ingestion of Qdrant collections: sources, embedders, golden queries and the gate. */
    reingest: reingestSchema.optional(),
    /** Disaster recovery: targets, the writers to stop, the services to bring back, dependencies and validation. */
    dr: drSchema.optional(),
    /** Freshness objectives: the age past which the newest backup, or the newest passing drill, is a breach. */
    slo: sloSchema.optional(),
    /** Webhooks told of failures, inconclusive drills and canaries, approvals waited for and DR results. */
    notify: notifySchema.optional(),
  })
  .strict()
  .superRefine((stack, ctx) => {
    for (const service of Object.keys(stack.canary ?? {})) {
      if (!stack.deploy?.services[service]) ctx.addIssue({ code: 'custom', path: ['canary', service], message: `"${service}" is not a service of this stack's deploy section` });
    }
    for (const kind of ['postgres', 'redis', 'mirrors', 'execDumps'] as const) {
      const seen = new Set<string>();
      stack[kind].forEach((component, index) => {
        if (seen.has(component.name)) ctx.addIssue({ code: 'custom', path: [kind, index, 'name'], message: `duplicate label "${component.name}"` });
        seen.add(component.name);
      });
    }
    for (const [name, plan] of Object.entries(stack.plans ?? {})) {
      const selection = parseSelectors(plan.components);
      const configured = configuredComponents(stack);
      for (const [kind, components] of Object.entries(configured) as Array<[keyof typeof configured, Array<{ name: string }>]>) {
        const { unknown } = pickLabels(selection, kind, components.map((c) => c.name));
        if (selection[kind] !== undefined && components.length === 0) ctx.addIssue({ code: 'custom', path: ['plans', name, 'components'], message: `the stack configures no ${kind}` });
        for (const label of unknown) ctx.addIssue({ code: 'custom', path: ['plans', name, 'components'], message: `${kind}:${label} is not configured on this stack` });
      }
      if (selection.qdrant !== undefined && !stack.qdrant) ctx.addIssue({ code: 'custom', path: ['plans', name, 'components'], message: 'the stack configures no qdrant' });
    }
    for (const [field, services] of [['writers', stack.dr?.writers ?? []], ['services', stack.dr?.services ?? []]] as const) {
      services.forEach((service, index) => {
        if (!stack.deploy?.services[service]) ctx.addIssue({ code: 'custom', path: ['dr', field, index], message: `"${service}" is not a service of this stack's deploy section` });
      });
    }
    if (stack.reingest) {
      const issues = reingestReferenceIssues(stack.reingest, { postgresLabels: stack.postgres.map((target) => target.name), storeType: stack.store.type });
      for (const issue of issues) ctx.addIssue({ code: 'custom', path: ['reingest', ...issue.path], message: issue.message });
      if (!stack.qdrant) ctx.addIssue({ code: 'custom', path: ['reingest'], message: 'reingest needs the stack\'s qdrant (url, apiKey) to create and switch collections' });
    }
  });
export type StackConfig = z.infer<typeof stackSchema>;

/** Each labelled kind's components as configured: pgbackrest is the Postgres targets with a physical section. */
export function configuredComponents(stack: Pick<StackConfig, 'postgres' | 'redis' | 'mirrors' | 'execDumps'>): Record<Exclude<BackupComponentKind, 'qdrant'>, Array<{ name: string }>> {
  return { postgres: stack.postgres, pgbackrest: stack.postgres.filter((target) => target.physical !== undefined), redis: stack.redis, mirror: stack.mirrors, exec: stack.execDumps };
}

export const stacksFileSchema = z
  .object({
    stacks: z.record(stackName, stackSchema).refine((stacks) => Object.keys(stacks).length > 0, 'define at least one stack'),
  })
  .strict();
export type StacksFile = z.infer<typeof stacksFileSchema>;
