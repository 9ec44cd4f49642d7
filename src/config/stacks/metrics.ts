import { z } from 'zod';

// Canary analysis metrics: a provider (prometheus, http-json, probe) and the range a good
// value lies in. Filled in by the metrics work of the canary issue.
export const metricSchema = z
  .object({
    name: z.string().min(1),
  })
  .strict();
export type MetricConfig = z.infer<typeof metricSchema>;
