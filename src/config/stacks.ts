import { z } from 'zod';
import { collectionName, componentLabel, databaseName, hostName, roleName, stackName } from './names.js';
import { deploySchema } from './deploy.js';
import { secretRef } from './secretRef.js';

export const sanityCheckSchema = z
  .object({
    name: z.string().min(1),
    /** Runs read-only in the restored scratch database; the first column of the first row is compared. */
    sql: z.string().min(1),
    expect: z.union([z.string(), z.number(), z.boolean()]),
  })
  .strict();
export type SanityCheck = z.infer<typeof sanityCheckSchema>;

export const postgresTargetSchema = z
  .object({
    name: componentLabel.describe('label used in manifests and artifact keys'),
    host: hostName.default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    database: databaseName,
    user: roleName.default('postgres'),
    password: secretRef.optional(),
    sslmode: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
    sanityChecks: z.array(sanityCheckSchema).default([]),
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
    partSizeMiB: z.number().int().min(5).max(512).default(8),
    uploadConcurrency: z.number().int().min(1).max(16).default(2),
  })
  .strict();

export const storeSchema = z.discriminatedUnion('type', [fsStoreSchema, s3StoreSchema]);
export type StoreConfig = z.infer<typeof storeSchema>;
export type FsStoreConfig = z.infer<typeof fsStoreSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreSchema>;

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

export const stackSchema = z
  .object({
    postgres: z.array(postgresTargetSchema).default([]),
    qdrant: qdrantTargetSchema.optional(),
    store: storeSchema,
    retention: retentionSchema.optional(),
    drill: drillSchema.optional(),
    deploy: deploySchema.optional(),
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
