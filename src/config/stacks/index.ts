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

export * from './canary.js';
export * from './deploy.js';
export * from './drill.js';
export * from './postgres.js';
export * from './qdrant.js';
export * from './reingest.js';
export * from './embedders.js';
export * from './retention.js';
export * from './store.js';

export const stackSchema = z
  .object({
    postgres: z.array(postgresTargetSchema).default([]),
    qdrant: qdrantTargetSchema.optional(),
    store: storeSchema,
    retention: retentionSchema.optional(),
    drill: drillSchema.optional(),
    deploy: deploySchema.optional(),
    /** Per deploy service: how its canary runs (steps, traffic shifter, metrics). */
    canary: z.record(serviceName, canarySchema).optional(),
    /** Blue-green re-ingestion of Qdrant collections: sources, embedders, golden queries and the gate. */
    reingest: reingestSchema.optional(),
  })
  .strict()
  .superRefine((stack, ctx) => {
    for (const service of Object.keys(stack.canary ?? {})) {
      if (!stack.deploy?.services[service]) ctx.addIssue({ code: 'custom', path: ['canary', service], message: `"${service}" is not a service of this stack's deploy section` });
    }
    const seen = new Set<string>();
    stack.postgres.forEach((target, index) => {
      if (seen.has(target.name)) {
        ctx.addIssue({ code: 'custom', path: ['postgres', index, 'name'], message: `duplicate label "${target.name}"` });
      }
      seen.add(target.name);
    });
    if (stack.reingest) {
      const issues = reingestReferenceIssues(stack.reingest, { postgresLabels: stack.postgres.map((target) => target.name), storeType: stack.store.type });
      for (const issue of issues) ctx.addIssue({ code: 'custom', path: ['reingest', ...issue.path], message: issue.message });
      if (!stack.qdrant) ctx.addIssue({ code: 'custom', path: ['reingest'], message: 'reingest needs the stack\'s qdrant (url, apiKey) to create and switch collections' });
    }
  });
export type StackConfig = z.infer<typeof stackSchema>;

export const stacksFileSchema = z
  .object({
    stacks: z.record(stackName, stackSchema).refine((stacks) => Object.keys(stacks).length > 0, 'define at least one stack'),
  })
  .strict();
export type StacksFile = z.infer<typeof stacksFileSchema>;
