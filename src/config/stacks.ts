import { z } from 'zod';
import { collectionName, componentLabel, databaseName, hostName, roleName, stackName } from './names.js';
import { secretRef } from './secrets.js';

export const postgresTargetSchema = z
  .object({
    name: componentLabel.describe('label used in manifests and artifact keys'),
    host: hostName.default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    database: databaseName,
    user: roleName.default('postgres'),
    password: secretRef.optional(),
    sslmode: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
  })
  .strict();
export type PostgresTarget = z.infer<typeof postgresTargetSchema>;

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

const fsStoreSchema = z
  .object({
    type: z.literal('fs'),
    path: z.string().min(1),
  })
  .strict();

const s3StoreSchema = z
  .object({
    type: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'a key prefix ending in "/" (or empty)')
      .default(''),
    region: z.string().min(1).default('us-east-1'),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    forcePathStyle: z.boolean().default(false),
    accessKeyId: secretRef.optional(),
    secretAccessKey: secretRef.optional(),
    partSizeMiB: z.number().int().min(5).max(512).default(16),
    uploadConcurrency: z.number().int().min(1).max(16).default(4),
  })
  .strict();

export const storeSchema = z.discriminatedUnion('type', [fsStoreSchema, s3StoreSchema]);
export type StoreConfig = z.infer<typeof storeSchema>;
export type FsStoreConfig = z.infer<typeof fsStoreSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreSchema>;

export const stackSchema = z
  .object({
    postgres: z.array(postgresTargetSchema).default([]),
    qdrant: qdrantTargetSchema.optional(),
    store: storeSchema,
  })
  .strict()
  .superRefine((stack, ctx) => {
    const seen = new Set<string>();
    stack.postgres.forEach((target, index) => {
      if (seen.has(target.name)) {
        ctx.addIssue({ code: 'custom', path: ['postgres', index, 'name'], message: `duplicate label "${target.name}"` });
      }
      seen.add(target.name);
    });
  });
export type StackConfig = z.infer<typeof stackSchema>;

export const stacksFileSchema = z
  .object({
    stacks: z.record(stackName, stackSchema).refine((stacks) => Object.keys(stacks).length > 0, 'define at least one stack'),
  })
  .strict();
export type StacksFile = z.infer<typeof stacksFileSchema>;
