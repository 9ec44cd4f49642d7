import { z } from 'zod';
import { s3BucketName, s3KeyPrefix } from '../names.js';
import { secretRef } from '../secretRef.js';
import { clientSideEncryptionSchema, encryptionSchema } from './encryption.js';

const fsStoreSchema = z
  .object({
    type: z.literal('fs'),
    path: z.string().min(1),
    /** Client-side encryption of every artifact; server-side encryption and Object Lock are S3's. */
    encryption: z.object({ clientSide: clientSideEncryptionSchema.optional() }).strict().optional(),
  })
  .strict();

const s3StoreSchema = z
  .object({
    type: z.literal('s3'),
    bucket: s3BucketName,
    prefix: s3KeyPrefix,
    region: z.string().min(1).default('us-east-1'),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    forcePathStyle: z.boolean().default(false),
    accessKeyId: secretRef.optional(),
    secretAccessKey: secretRef.optional(),
    partSizeMiB: z.number().int().min(5).max(512).default(8),
    uploadConcurrency: z.number().int().min(1).max(16).default(2),
    /** Client-side encryption of every artifact, SSE-S3 / SSE-KMS and Object Lock retention on upload. */
    encryption: encryptionSchema.optional(),
  })
  .strict();

export const storeSchema = z.discriminatedUnion('type', [fsStoreSchema, s3StoreSchema]);
export type StoreConfig = z.infer<typeof storeSchema>;
export type FsStoreConfig = z.infer<typeof fsStoreSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreSchema>;
