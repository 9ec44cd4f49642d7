import { z } from 'zod';
import { backupId, collectionName, componentLabel, databaseName, s3BucketName, stackName } from './names.js';
import { imageReference, serviceName } from './stacks/deploy.js';
import { canaryStepSchema, durationText } from './stacks/canary.js';
import { embedderName } from './stacks/embedders.js';
import { BACKUP_COMPONENT_KINDS, backupPlanName } from './stacks/plans.js';
import { safeAbsolutePath } from './stacks/postgres.js';

/**
 * The components a restore can put back (a backup holds more kinds: BACKUP_COMPONENT_KINDS).
 * Mirrors and exec dumps replace live data outside ragops' own targets: they are restored only
 * when named in `mirror` and `exec` (and `components`, when given, includes their kind).
 */
export const componentKind = z.enum(['postgres', 'qdrant', 'redis', 'mirror', 'exec']);
export type ComponentKind = z.infer<typeof componentKind>;

const backupComponentsField = z
  .array(z.enum(BACKUP_COMPONENT_KINDS))
  .min(1, 'list at least one component (postgres, qdrant, redis, mirror, exec), or leave the field out for all')
  .optional();

const componentsField = z
  .array(componentKind)
  .min(1, 'list at least one component (postgres, qdrant, redis, mirror, exec), or leave the field out for all')
  .optional();

/** A time to recover to: ISO 8601 with its zone, so it means one instant wherever it is read. */
const pointInTime = z.iso.datetime({ offset: true, error: 'a time in ISO 8601 with its zone, e.g. 2026-12-06T14:05:00Z' });

/** A new PostgreSQL cluster on this worker's host, recovered from the pgBackRest repository and left running. */
const newClusterSchema = z
  .object({
    /** A directory that does not exist yet or is empty: ragops never writes over a data directory. */
    dataDirectory: safeAbsolutePath,
    port: z.number().int().min(1).max(65535),
    /**
     * off (default): the recovered server archives nothing, beside a cluster that still does;
     * preserve: it archives as the original did (a recovery that becomes the cluster).
     */
    archiving: z.enum(['off', 'preserve']).default('off'),
  })
  .strict();
export type NewClusterInput = z.output<typeof newClusterSchema>;

export const backupInputSchema = z
  .object({
    stack: stackName,
    /** One of the stack's named backup plans: its components, recorded in the manifest, pruned by its retention. */
    plan: backupPlanName.optional(),
    components: backupComponentsField,
    collections: z.array(collectionName).min(1, 'list at least one collection, or leave the field out').optional(),
    verify: z.enum(['none', 'checksum']).default('none'),
    /** pgBackRest's backup type for physical backups (default: the plan's, else incr — made full by pgBackRest when there is no full yet). */
    physicalType: z.enum(['full', 'diff', 'incr']).optional(),
    /** Apply the retention policy (the plan's, else the stack's) after the manifest is written (when there is one). */
    prune: z.boolean().default(true),
  })
  .strict()
  .refine((input) => input.plan === undefined || (input.components === undefined && input.collections === undefined), {
    message: 'a plan names its own components: give plan, or components/collections, not both',
    path: ['plan'],
  });
export type BackupInput = z.input<typeof backupInputSchema>;
export type BackupOptions = z.output<typeof backupInputSchema>;

export const verifyInputSchema = z
  .object({
    stack: stackName,
    /** Omitted: the newest complete backup. */
    backupId: backupId.optional(),
    depth: z.enum(['checksum', 'restore']).default('restore'),
    /**
     * Physical backups: recover to this time (ISO 8601 with a zone) instead of the backup's own
     * end. Without backupId, the drill uses the newest backup that ended before it.
     */
    at: pointInTime.optional(),
  })
  .strict();
export type VerifyInput = z.input<typeof verifyInputSchema>;
export type VerifyOptions = z.output<typeof verifyInputSchema>;

const confirmField = z.string().optional().describe('repeat the target name here to replace an existing one');

/** A new redis-server on this worker's host, loading the backup's RDB from `dir` and left running. */
const newRedisSchema = z
  .object({
    port: z.number().int().min(1).max(65535),
    dir: z
      .string()
      .regex(/^\/[A-Za-z0-9._/@+-]+$/, 'an absolute path (letters, digits and . _ / @ + -), e.g. /srv/redis-restored')
      .refine((path) => !path.split('/').includes('..'), 'a path without ".." segments'),
    bind: z.string().regex(/^[A-Za-z0-9:][A-Za-z0-9.:-]{0,252}$/, 'an address to listen on, e.g. 127.0.0.1 or 0.0.0.0').default('127.0.0.1'),
  })
  .strict();
export type NewRedisInput = z.output<typeof newRedisSchema>;

/** A bucket and prefix to restore a mirror into, on the mirror's endpoint with its credentials. */
const mirrorTargetSchema = z
  .object({
    bucket: s3BucketName,
    prefix: z.string().regex(/^([^/\0]+\/)*$/, 'a key prefix ending in "/" (or empty)').default(''),
  })
  .strict();
export type MirrorTargetInput = z.output<typeof mirrorTargetSchema>;

export const restoreInputSchema = z
  .object({
    stack: stackName,
    backupId: backupId.optional(),
    /** Restore into this stack's servers instead (e.g. a drill environment). */
    targetStack: stackName.optional(),
    components: componentsField,
    /** Per Postgres label in the backup: the database name to restore into (default: the target's configured one). */
    /**
     * Per Postgres label in the backup: the database name to restore into (default: the target's
     * configured one), or `into` a new cluster from its pgBackRest repository (physical backups).
     */
    postgres: z
      .record(componentLabel, z.object({ database: databaseName.optional(), confirm: confirmField, into: newClusterSchema.optional() }).strict())
      .default({}),
    /** With `postgres.<label>.into`: recover to this time (default: the end of the backup). Without backupId, the newest backup that ended before it. */
    at: pointInTime.optional(),
    /** With `postgres.<label>.into` and no `at`: stop at the backup's end, or replay every archived WAL segment after it. */
    recoverTo: z.enum(['backup-end', 'archive-end']).default('backup-end'),
    /** Per collection in the backup: the name to restore as (default: its own name). */
    qdrant: z.record(collectionName, z.object({ collection: collectionName.optional(), confirm: confirmField }).strict()).default({}),
    /** Per Redis label in the backup: into a new redis-server, or over the stack's running one (confirm: the label). */
    redis: z.record(componentLabel, z.object({ into: newRedisSchema.optional(), confirm: confirmField }).strict()).default({}),
    /**
     * Per mirror in the backup: put its objects back (identical keys and content, checksums
     * verified) into the mirror's own bucket and prefix (confirm: the mirror's name), or `into`
     * a new, empty prefix. Objects the backup does not hold are left in place and counted.
     */
    mirror: z
      .record(componentLabel, z.object({ into: mirrorTargetSchema.optional(), confirm: confirmField }).strict())
      .default({}),
    /** Per exec dump in the backup: run its `restore` command with the artifact on stdin (confirm: the dump's name). */
    exec: z.record(componentLabel, z.object({ confirm: confirmField }).strict()).default({}),
    /** Also point the manifest's aliases at the restored collections. */
    aliases: z.boolean().default(false),
    recovery: z.enum(['upload', 'location']).default('upload'),
    /** Create the backup's roles the target server lacks (no passwords: set them after), before restoring. */
    roles: z.boolean().default(false),
  })
  .strict();
export type RestoreInput = z.input<typeof restoreInputSchema>;
export type RestoreOptions = z.output<typeof restoreInputSchema>;

export const pruneInputSchema = z
  .object({
    stack: stackName,
    /** Prune this backup plan's backups by its retention; without it, the backups made without a plan. */
    plan: backupPlanName.optional(),
    /** Plan only: report what would be deleted and aborted, touch nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict();
export type PruneInput = z.input<typeof pruneInputSchema>;
export type PruneOptions = z.output<typeof pruneInputSchema>;

export const deployInputSchema = z
  .object({
    stack: stackName,
    service: serviceName,
    image: imageReference,
    strategy: z.enum(['rolling', 'blueGreen']).default('rolling'),
    /** Run the backup runbook (as a child workflow) before anything changes. */
    backup: z.boolean().default(false),
    /** Blue-green: how long the old colour stays up, ready for a `rollback` signal. */
    rollbackWindowSeconds: z.number().int().min(0).max(7 * 24 * 3600).default(600),
  })
  .strict();
export type DeployInput = z.input<typeof deployInputSchema>;
export type DeployOptions = z.output<typeof deployInputSchema>;

export const canaryInputSchema = z
  .object({
    stack: stackName,
    service: serviceName,
    image: imageReference,
    /** Overrides the steps of the stack's `canary.<service>`. */
    steps: z.array(canaryStepSchema).min(1).optional(),
  })
  .strict();
export type CanaryInput = z.input<typeof canaryInputSchema>;
export type CanaryOptions = z.output<typeof canaryInputSchema>;

export const reingestInputSchema = z
  .object({
    stack: stackName,
    /** The alias queries go through; it points at the live collection and is switched to the new one. */
    alias: collectionName,
    /** A source of the stack's `reingest.sources`. */
    source: componentLabel,
    /** An embedder of the stack's `reingest.embedders`. */
    embedder: embedderName,
    /** Source rows read per page (one checkpoint per page). */
    pageSize: z.number().int().min(1).max(10_000).default(500),
    /** Texts per embedding request. */
    batchSize: z.number().int().min(1).max(2048).default(64),
    /** Embedding requests in flight at once. */
    concurrency: z.number().int().min(1).max(32).default(2),
    /** `manual`: the switch waits for the `approve` update. */
    approve: z.enum(['auto', 'manual']).default('auto'),
    /** How long a manual approval is waited for before the run gives up (the new collection is deleted). */
    approveTimeout: durationText.default('24h'),
    /** After the switch: how long `rollback` can switch back before the old collection is deleted. */
    window: durationText.default('24h'),
    /** When the model changes: the new collection's vector size (default: the probe embedding's) and distance. */
    vectorSize: z.number().int().min(1).max(65_536).optional(),
    distance: z.enum(['Cosine', 'Euclid', 'Dot', 'Manhattan']).optional(),
    /** With named vectors: the one the embedder fills. */
    vectorName: z.string().min(1).max(255).optional(),
    /** Keep the new collection when the gate fails (for a look), instead of deleting it. */
    keepOnFailure: z.boolean().default(false),
  })
  .strict();
export type ReingestInput = z.input<typeof reingestInputSchema>;
export type ReingestOptions = z.output<typeof reingestInputSchema>;

export const disasterRecoveryInputSchema = z
  .object({
    stack: stackName,
    /** recover: the stack itself; drill: into another stack, production untouched; plan: assess only, change nothing. */
    mode: z.enum(['recover', 'drill', 'plan']),
    /** Recover data as of this time: the newest backup that finished by then. */
    at: pointInTime.optional(),
    /** mode drill: the stack restored into (default the stack's dr.drillStack). */
    into: stackName.optional(),
    /** When the incident began: RTO runs from it, and RPO is measured to it (default the run's start). */
    incidentAt: pointInTime.optional(),
    /** This backup instead of the assessed choice. */
    backupId: backupId.optional(),
    /** auto: no approval gate (drills, rehearsed runbooks). */
    approve: z.enum(['auto', 'manual']).default('manual'),
    /** Use a backup no restore drill has passed (never drilled); one whose last drill failed is never used. */
    allowUnverified: z.boolean().default(false),
    /** mode drill: leave what the drill created (databases, collections, services) for a look. */
    keep: z.boolean().default(false),
  })
  .strict()
  .refine((input) => input.mode === 'drill' || input.into === undefined, { message: 'into is for mode drill', path: ['into'] })
  .refine((input) => input.into === undefined || input.into !== input.stack, { message: 'a drill restores into another stack, never the one it drills', path: ['into'] });
export type DisasterRecoveryInput = z.input<typeof disasterRecoveryInputSchema>;
export type DisasterRecoveryOptions = z.output<typeof disasterRecoveryInputSchema>;
