import { z } from 'zod';
import { backupId, collectionName, componentLabel, stackName } from './names.js';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

const artifactBase = {
  name: z.string(),
  key: z.string(),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  durationMs: z.number().nonnegative(),
};

export const postgresArtifactSchema = z.object({
  component: z.literal('postgres'),
  ...artifactBase,
  name: componentLabel,
  database: z.string(),
  serverVersion: z.string(),
  pgDumpVersion: z.string(),
  /** "schema.table" → exact row count inside the dump's snapshot. */
  tables: z.record(z.string(), z.number().int().nonnegative()),
});
export type PostgresArtifact = z.infer<typeof postgresArtifactSchema>;

export const qdrantArtifactSchema = z.object({
  component: z.literal('qdrant'),
  ...artifactBase,
  name: collectionName,
  pointsCount: z.number().int().nonnegative(),
  vectors: z.unknown(),
  snapshotName: z.string(),
  qdrantChecksum: sha256Hex.optional(),
});
export type QdrantArtifact = z.infer<typeof qdrantArtifactSchema>;

export const artifactSchema = z.discriminatedUnion('component', [postgresArtifactSchema, qdrantArtifactSchema]);
export type Artifact = z.infer<typeof artifactSchema>;

export const qdrantAliasSchema = z.object({ alias: z.string(), collection: z.string() });
export type QdrantAlias = z.infer<typeof qdrantAliasSchema>;

export const manifestSchema = z.object({
  formatVersion: z.literal(1),
  backupId,
  stack: stackName,
  workflowId: z.string(),
  runId: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  store: z.string(),
  artifacts: z.array(artifactSchema),
  qdrant: z.object({ url: z.string(), version: z.string(), aliases: z.array(qdrantAliasSchema) }).optional(),
  checksumVerifiedAt: z.iso.datetime().optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const verificationCheckSchema = z.object({
  name: z.string(),
  component: z.enum(['postgres', 'qdrant', 'store']),
  artifact: z.string(),
  passed: z.boolean(),
  detail: z.string(),
  figures: z.record(z.string(), z.unknown()).default({}),
  durationMs: z.number().nonnegative(),
});
export type VerificationCheck = z.infer<typeof verificationCheckSchema>;

/** Evidence of one drill, written beside the manifest (which is never rewritten). */
export const verificationSchema = z.object({
  formatVersion: z.literal(1),
  backupId,
  stack: stackName,
  depth: z.enum(['checksum', 'restore']),
  workflowId: z.string(),
  runId: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  passed: z.boolean(),
  checks: z.array(verificationCheckSchema),
});
export type Verification = z.infer<typeof verificationSchema>;

/** Marks a backup as in use by a running restore or drill, so retention leaves it alone. */
export const backupLockSchema = z.object({
  workflowId: z.string(),
  runbook: z.string(),
  since: z.iso.datetime(),
});
export type BackupLock = z.infer<typeof backupLockSchema>;
