import { z } from 'zod';
import { durationMs } from '../../core/duration.js';
import { durationText } from './canary.js';

/**
 * What `ragops status`, the metrics and the alert rules call a breach. `backupMaxAge` defaults to
 * the DR plan's RPO target when the stack has one; `drillMaxAge` to a week.
 */
export const sloSchema = z
  .object({
    /** A stack whose newest complete backup (of any plan) is older than this breaches its RPO. */
    backupMaxAge: durationText.optional(),
    /** A stack with no passing restore drill within this long breaches its drill SLO. */
    drillMaxAge: durationText.default('7d'),
  })
  .strict();
export type SloConfig = z.infer<typeof sloSchema>;

export const DEFAULT_DRILL_MAX_AGE_MS = 7 * 86_400_000;

/** The thresholds in effect for a stack, in seconds; `backupMaxAgeSeconds` absent when neither `slo` nor `dr` says one. */
export function effectiveSlo(stack: { slo?: SloConfig; dr?: { targets: { rpoMinutes: number } } }): { backupMaxAgeSeconds?: number; drillMaxAgeSeconds: number } {
  const backupMaxAgeMs = stack.slo?.backupMaxAge ? durationMs(stack.slo.backupMaxAge) : stack.dr ? stack.dr.targets.rpoMinutes * 60_000 : undefined;
  return {
    ...(backupMaxAgeMs === undefined ? {} : { backupMaxAgeSeconds: backupMaxAgeMs / 1000 }),
    drillMaxAgeSeconds: (stack.slo?.drillMaxAge ? durationMs(stack.slo.drillMaxAge) : DEFAULT_DRILL_MAX_AGE_MS) / 1000,
  };
}
