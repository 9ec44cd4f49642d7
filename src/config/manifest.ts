import { z } from 'zod';
import { backupId, collectionName, componentLabel, stackName } from './names.js';
import { artifactEncryptionSchema } from './stacks/encryption.js';
import { execDumpArtifactSchema } from './stacks/execdump.js';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

const artifactBase = {
  name: z.string(),
  key: z.string(),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  durationMs: z.number().nonnegative(),
  /** Client-side encryption (scheme and key id, never the key); size and sha256 are then the plaintext's. */
  encryption: artifactEncryptionSchema.optional(),
};

const databasePrivilege = z.enum(['CREATE', 'TEMPORARY', 'CONNECT']);

export const postgresArtifactSchema = z.object({
  component: z.literal('postgres'),
  ...artifactBase,
  name: componentLabel,
  database: z.string(),
  serverVersion: z.string(),
  pgDumpVersion: z.string(),
  /** "schema.table" → exact row count inside the dump's snapshot. */
  tables: z.record(z.string(), z.number().int().nonnegative()),
  /** The database as it was created, for a faithful restore (absent in older manifests). */
  databaseSettings: z
    .object({
      owner: z.string(),
      encoding: z.string(),
      collate: z.string(),
      ctype: z.string(),
      /** Per-database settings ("name=value", from pg_db_role_setting), as ALTER DATABASE … SET made them. */
      config: z.array(z.string()),
      /** PostgreSQL 15+ (datlocprovider): the collation provider; absent from older manifests and servers (libc). */
      localeProvider: z.enum(['libc', 'icu', 'builtin']).optional(),
      /** The ICU (or, from 17, builtin) locale of the database: daticulocale / datlocale. */
      locale: z.string().optional(),
      /** PostgreSQL 16+: the database's ICU tailoring rules (daticurules). */
      icuRules: z.string().optional(),
      /**
       * Database privileges (datacl) in order, one entry per grantee and grantor; a null grantee
       * is PUBLIC. null: the defaults (never granted or revoked); absent from older manifests.
       */
      acl: z
        .array(
          z.object({
            grantee: z.string().nullable(),
            grantor: z.string(),
            privileges: z.array(databasePrivilege),
            /** Those of `privileges` held WITH GRANT OPTION. */
            grantable: z.array(databasePrivilege),
          }),
        )
        .nullable()
        .optional(),
    })
    .optional(),
  /**
   * The cluster's roles and role grants (`pg_dumpall --globals-only --no-role-passwords`), stored
   * beside the dump; `skipped` says why not when the connecting role could not read them.
   */
  globals: z.union([z.object({ key: z.string(), size: z.number().int().nonnegative(), sha256: sha256Hex }), z.object({ skipped: z.string() })]).optional(),
});
export type PostgresArtifact = z.infer<typeof postgresArtifactSchema>;

export const qdrantArtifactSchema = z.object({
  component: z.literal('qdrant'),
  ...artifactBase,
  name: collectionName,
  /** Exact count right before the snapshot (older manifests: collection info's approximate count). */
  pointsCount: z.number().int().nonnegative(),
  /** Exact counts right before and after the snapshot; the snapshot holds a count in between. */
  pointsCountBefore: z.number().int().nonnegative().optional(),
  pointsCountAfter: z.number().int().nonnegative().optional(),
  vectors: z.unknown(),
  snapshotName: z.string(),
  qdrantChecksum: sha256Hex.optional(),
});
export type QdrantArtifact = z.infer<typeof qdrantArtifactSchema>;

const keyCount = z.number().int().nonnegative();

export const redisArtifactSchema = z.object({
  component: z.literal('redis'),
  ...artifactBase,
  name: componentLabel,
  /** Keys and expiring keys per database ("db0") at the fork of the BGSAVE that wrote this RDB. */
  keyspace: z.record(z.string(), z.object({ keys: keyCount, expires: keyCount })),
  /** The server's clock at the fork: the RDB's point in time. */
  savedAt: z.iso.datetime(),
  redisVersion: z.string(),
  rdbVersion: z.number().int().nonnegative(),
  /** Where the bytes were read: "host path /data/dump.rdb", "container …", "pod …". */
  source: z.string(),
});
export type RedisArtifact = z.infer<typeof redisArtifactSchema>;

/** A bucket mirror: `key`, `size` and `sha256` are its entry list's, which says where each object's bytes live. */
export const mirrorArtifactSchema = z.object({
  component: z.literal('mirror'),
  ...artifactBase,
  name: componentLabel,
  bucket: z.string(),
  prefix: z.string(),
  objects: keyCount,
  copied: keyCount,
  referenced: keyCount,
  bytesCopied: keyCount,
  bytesReferenced: keyCount,
  previousKey: z.string().optional(),
  previousUnusable: z.string().optional(),
  resumed: keyCount,
});
export type MirrorArtifact = z.infer<typeof mirrorArtifactSchema>;

export const execArtifactSchema = execDumpArtifactSchema.extend(artifactBase).extend({ component: z.literal('exec'), name: componentLabel });

export const artifactSchema = z.discriminatedUnion('component', [postgresArtifactSchema, qdrantArtifactSchema, redisArtifactSchema, mirrorArtifactSchema, execArtifactSchema]);
export type Artifact = z.infer<typeof artifactSchema>;

const walSegment = z.string().regex(/^[0-9A-F]{24}$/);
const lsn = z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/);
const pgbackrestType = z.enum(['full', 'diff', 'incr']);

/**
 * A physical backup pgBackRest made for this backup set: its own account of it (labels, LSN,
 * WAL range, sizes), not bytes of ragops's — they live in pgBackRest's repository.
 */
export const physicalBackupSchema = z.object({
  /** The Postgres target's label. */
  name: componentLabel,
  stanza: z.string(),
  /** Where the repository is, without secrets: "posix /srv/backups/_pgbackrest", "s3 bucket/prefix". */
  repository: z.string(),
  requestedType: pgbackrestType,
  /** What pgBackRest made: a diff or incr without a prior full becomes full. */
  type: pgbackrestType,
  label: z.string(),
  priorLabel: z.string().optional(),
  startedAt: z.iso.datetime(),
  stoppedAt: z.iso.datetime(),
  lsn: z.object({ start: lsn, stop: lsn }),
  wal: z.object({ start: walSegment, stop: walSegment }),
  sizes: z.object({ databaseBytes: keyCount, deltaBytes: keyCount, repositoryBytes: keyCount, repositoryDeltaBytes: keyCount }),
  /** pgBackRest's page checksum verification while copying found errors. */
  pageChecksumErrors: z.boolean(),
  postgresVersion: z.string(),
  durationMs: z.number().nonnegative(),
  /** `pgbackrest verify` of this backup, when the run asked for a checksum check. */
  verify: z.object({ status: z.enum(['ok', 'error']), filesChecked: keyCount, filesValid: keyCount, problems: z.array(z.string()) }).optional(),
  /** pgBackRest's `expire` after the backup: the retention it ran with and what it removed, or why it did not run. */
  expire: z
    .union([
      z.object({ retentionFull: z.number().int().min(1), retentionDiff: z.number().int().min(1).optional(), protecting: z.string().optional(), expired: z.array(z.string()) }),
      z.object({ skipped: z.string() }),
    ])
    .optional(),
});
export type PhysicalBackup = z.infer<typeof physicalBackupSchema>;

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
  /** The stack's backup plan this backup ran (its retention applies); absent: every component, the stack's retention. */
  plan: z.string().optional(),
  artifacts: z.array(artifactSchema),
  qdrant: z.object({ url: z.string(), version: z.string(), aliases: z.array(qdrantAliasSchema) }).optional(),
  checksumVerifiedAt: z.iso.datetime().optional(),
  /** What the stack's deploy services ran when the backup was taken: a recovery deploys these versions. */
  services: z.array(z.object({ service: z.string(), image: z.string().nullable(), digest: z.string().nullable(), pinned: z.string().nullable() })).optional(),
  /** Physical backups pgBackRest made (absent in older manifests and stacks without postgres.physical). */
  physical: z.array(physicalBackupSchema).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

/**
 * passed; failed: the backup is bad (checksum, restore error, count or sanity mismatch);
 * inconclusive: the drill could not run or finish (store or server unreachable, timeout).
 */
export const drillOutcomeSchema = z.enum(['passed', 'failed', 'inconclusive']);
export type DrillOutcome = z.infer<typeof drillOutcomeSchema>;

export const verificationCheckSchema = z.object({
  name: z.string(),
  component: z.enum(['postgres', 'pgbackrest', 'qdrant', 'redis', 'mirror', 'exec', 'store']),
  artifact: z.string(),
  /** True only when the check passed; an inconclusive check has `passed: false`. */
  passed: z.boolean(),
  /** Absent in evidence written before outcomes: then `passed` decides (see checkOutcome). */
  outcome: drillOutcomeSchema.optional(),
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
  /** Absent in evidence written before outcomes: then `passed` decides (see verificationOutcome). */
  outcome: drillOutcomeSchema.optional(),
  checks: z.array(verificationCheckSchema),
});
export type Verification = z.infer<typeof verificationSchema>;

export const checkOutcome = (check: Pick<VerificationCheck, 'passed' | 'outcome'>): DrillOutcome => check.outcome ?? (check.passed ? 'passed' : 'failed');
export const verificationOutcome = (evidence: Pick<Verification, 'passed' | 'outcome'>): DrillOutcome => evidence.outcome ?? (evidence.passed ? 'passed' : 'failed');

/** A drill failed if any check failed; else it is inconclusive if any check could not finish. */
export function outcomeOfChecks(checks: Array<Pick<VerificationCheck, 'passed' | 'outcome'>>): DrillOutcome {
  const outcomes = checks.map(checkOutcome);
  if (outcomes.includes('failed')) return 'failed';
  return outcomes.includes('inconclusive') ? 'inconclusive' : 'passed';
}

/** Marks a backup as in use by a running restore or drill, so retention leaves it alone. */
export const backupLockSchema = z.object({
  workflowId: z.string(),
  runbook: z.string(),
  since: z.iso.datetime(),
});
export type BackupLock = z.infer<typeof backupLockSchema>;

const againstTargetSchema = z.object({ seconds: z.number(), targetSeconds: z.number(), met: z.boolean() });

/** What listings read of a disaster recovery's evidence (the whole report is stored; only this is relied on). */
export const drEvidenceSummarySchema = z.object({
  mode: z.enum(['recover', 'drill', 'plan']),
  outcome: z.string(),
  rto: againstTargetSchema.extend({ to: z.string() }).optional(),
  rpo: againstTargetSchema.optional(),
});
export type DrEvidenceSummary = z.infer<typeof drEvidenceSummarySchema>;
