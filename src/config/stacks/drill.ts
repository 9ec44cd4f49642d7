import { z } from 'zod';

export const drillSchema = z
  .object({
    /** Download dumps to local disk and restore with parallel jobs; otherwise stream from the store. */
    localDisk: z.boolean().default(false),
    tempDir: z.string().min(1).optional(),
    jobs: z.number().int().min(1).max(32).default(2),
    /** How scratch Qdrant collections are recovered; "location" needs an S3 store (presigned URL). */
    qdrantRecovery: z.enum(['upload', 'location', 'both']).optional(),
    /** Points whose own vector is queried back in each restored collection. */
    samplePoints: z.number().int().min(0).max(100).default(5),
  })
  .strict();
export type DrillConfig = z.infer<typeof drillSchema>;
