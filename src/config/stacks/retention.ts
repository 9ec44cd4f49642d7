import { z } from 'zod';

export const retentionSchema = z
  .object({
    keepLast: z.number().int().min(0).default(0),
    keepDaily: z.number().int().min(0).default(0),
    keepWeekly: z.number().int().min(0).default(0),
    keepMonthly: z.number().int().min(0).default(0),
    /** Nothing older is kept by the keep rules (the protections below still apply). */
    maxAgeDays: z.number().positive().optional(),
    /** The newest N backups whose last restore drill passed are never deleted. */
    minVerified: z.number().int().min(1).default(1),
    /** Incomplete backups and unfinished uploads younger than this may still be in progress. */
    leftoverGraceHours: z.number().positive().default(24),
  })
  .strict();
export type RetentionPolicy = z.infer<typeof retentionSchema>;
