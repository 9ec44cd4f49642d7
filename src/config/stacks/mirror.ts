import { z } from 'zod';
import { componentLabel, s3BucketName } from '../names.js';
import { secretRef } from '../secretRef.js';

/**
 * An S3 (or MinIO) bucket, or a prefix of it, mirrored into the store: every object, copied
 * when it changed since the previous backup (ETag and size), referenced otherwise.
 */
export const mirrorComponentSchema = z
  .object({
    name: componentLabel.describe('label used in manifests and artifact keys'),
    bucket: s3BucketName,
    /** Only the objects under this prefix; keys in the manifest are relative to it. */
    prefix: z
      .string()
      .regex(/^([^/\0]+\/)*$/, 'a key prefix ending in "/" (or empty)')
      .default(''),
    /** MinIO or another S3-compatible server; AWS S3 when left out. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    region: z.string().min(1).default('us-east-1'),
    /** MinIO and most S3-compatible servers need path-style URLs. */
    forcePathStyle: z.boolean().default(false),
    accessKeyId: secretRef.optional(),
    secretAccessKey: secretRef.optional(),
  })
  .strict()
  .refine((mirror) => !mirror.accessKeyId === !mirror.secretAccessKey, {
    message: 'accessKeyId and secretAccessKey go together (or both left out for the default AWS chain)',
    path: ['secretAccessKey'],
  });
export type MirrorComponent = z.infer<typeof mirrorComponentSchema>;
