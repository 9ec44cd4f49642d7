import { z } from 'zod';
import { collectionName } from '../names.js';
import { secretRef } from '../secretRef.js';

export const qdrantTargetSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    apiKey: secretRef.optional(),
    collections: z
      .array(z.union([z.literal('*'), collectionName]))
      .min(1, 'list at least one collection, or "*" for all')
      .default(['*']),
  })
  .strict();
export type QdrantTarget = z.infer<typeof qdrantTargetSchema>;
