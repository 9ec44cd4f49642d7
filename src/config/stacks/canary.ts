import { z } from 'zod';
import { DURATION } from '../../core/duration.js';
import { metricSchema } from './metrics.js';
import { trafficShifterSchema } from './traffic.js';
import { shifterWeightRefusal } from './trafficKubernetes.js';

export const durationText = z.string().regex(DURATION, 'a duration like 90s, 30m, 2h or 1d');

const weight = z.number().int().min(0).max(100);

/** An analysis: named metrics (from the canary's `metrics`), measured every `interval`, `count` times. */
export const analysisSchema = z
  .object({
    metrics: z.array(z.string().min(1)).min(1),
    interval: durationText.default('1m'),
    count: z.number().int().min(1).default(5),
  })
  .strict();
export type AnalysisConfig = z.infer<typeof analysisSchema>;

/** The steps of a canary, Argo Rollouts' model: data, interpreted by one loop. */
export const canaryStepSchema = z.union([
  z.object({ setWeight: weight }).strict(),
  z
    .object({
      pause: z
        .object({
          /** Absent: wait for `resume` or `promote`. */
          duration: durationText.optional(),
          /** An indefinite pause gives up after this long (see `pauseTimeoutAction`). */
          timeout: durationText.optional(),
        })
        .strict(),
    })
    .strict(),
  z.object({ analysis: analysisSchema }).strict(),
]);
export type CanaryStep = z.infer<typeof canaryStepSchema>;

export const canarySchema = z
  .object({
    traffic: trafficShifterSchema,
    /** The highest weight a step or `setWeight` may set before promotion. */
    maxWeight: weight.default(100),
    steps: z.array(canaryStepSchema).min(1),
    metrics: z.array(metricSchema).default([]),
    /** Background analysis, from step `startingStep` (0-based) to the end. */
    analysis: analysisSchema.extend({ startingStep: z.number().int().min(0).default(0) }).strict().optional(),
    /** What an indefinite pause does when its `timeout` passes: abort (default) or promote. */
    pauseTimeoutAction: z.enum(['abort', 'promote']).default('abort'),
  })
  .strict()
  .superRefine((canary, ctx) => {
    const names = new Set(canary.metrics.map((metric) => metric.name));
    const check = (metrics: string[], path: (string | number)[]) =>
      metrics.forEach((name, index) => {
        if (!names.has(name)) ctx.addIssue({ code: 'custom', path: [...path, index], message: `"${name}" is not one of the canary's metrics (${[...names].join(', ') || 'none defined'})` });
      });
    canary.steps.forEach((step, index) => {
      if ('analysis' in step) check(step.analysis.metrics, ['steps', index, 'analysis', 'metrics']);
      if ('setWeight' in step && step.setWeight > canary.maxWeight && step.setWeight !== 100) {
        ctx.addIssue({ code: 'custom', path: ['steps', index, 'setWeight'], message: `${step.setWeight} is above maxWeight ${canary.maxWeight}` });
      }
      const refusal = 'setWeight' in step ? shifterWeightRefusal(canary.traffic, step.setWeight) : undefined;
      if (refusal) ctx.addIssue({ code: 'custom', path: ['steps', index, 'setWeight'], message: `${refusal}; a canary over it switches: setWeight 0 or 100` });
    });
    if (canary.analysis) check(canary.analysis.metrics, ['analysis', 'metrics']);
  });
export type CanaryConfig = z.infer<typeof canarySchema>;
