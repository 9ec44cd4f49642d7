import { z } from 'zod';
import { collectionName, stackName } from './names.js';

export const componentKind = z.enum(['postgres', 'qdrant']);
export type ComponentKind = z.infer<typeof componentKind>;

export const backupInputSchema = z
  .object({
    stack: stackName,
    components: z
      .array(componentKind)
      .min(1, 'list at least one component (postgres, qdrant), or leave the field out for all')
      .optional(),
    collections: z.array(collectionName).min(1, 'list at least one collection, or leave the field out').optional(),
    verify: z.enum(['none', 'checksum']).default('none'),
  })
  .strict();
export type BackupInput = z.input<typeof backupInputSchema>;
export type BackupOptions = z.output<typeof backupInputSchema>;
