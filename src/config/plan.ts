import type { DeployConfig, DeployService, DeployTarget, HttpCheck } from './stacks/deploy.js';
import type { DrDependency, DrRestoreKind } from './stacks/dr.js';
import type { TrafficShifter } from './stacks/traffic.js';
import type { CanaryConfig } from './stacks/canary.js';
import type { ComponentKind, NewClusterInput, NewRedisInput } from './inputs.js';
import type { Manifest, PhysicalBackup, QdrantAlias } from './manifest.js';
import type { BackupComponentKind, PhysicalPostgresTarget, ExecDumpComponent, MirrorComponent, PostgresTarget, RedisTarget, RetentionPolicy, StoreConfig } from './stacks/index.js';
import type { SecretRef } from './secretRef.js';
import type { GoldenQuery, ReingestGate, ReingestSource, S3StoreConfig } from './stacks/index.js';
import type { EmbedderConfig } from './stacks/embedders.js';
import type { ReingestOptions } from './inputs.js';
import type { WithNotify } from './stacks/notify.js';

/**
 * What a run will touch, resolved from the stacks file by the run's first step. It holds
 * secret references, never values, and is recorded in history so the run does not drift
 * if the stacks file changes while it runs.
 */
export interface BackupPlan extends WithNotify {
  stack: string;
  /** Made by the plan activity, so a Reset or replay of the run keeps it (see newRunTag). */
  backupId: string;
  runTag: string;
  store: StoreConfig;
  storeLocation: string;
  components: BackupComponentKind[];
  postgres: PostgresTarget[];
  qdrant?: QdrantPlan;
  // Absent from plans recorded before these components existed (histories replay with none).
  redis?: RedisTarget[];
  /** With the entry list of the newest backup that has each mirror: only what changed since is copied. */
  mirrors?: Array<{ component: MirrorComponent; previousKey?: string }>;
  execDumps?: ExecDumpComponent[];
  /** A stack with a dr section: its deploy services, whose running versions the manifest records. */
  deploy?: { target: DeployTarget; services: Array<{ service: string; composeService: string; deployment: string; container: string }> };
  /** Physical backups pgBackRest takes of these targets' clusters, of the plan's type. */
  physical?: Array<{ target: PhysicalPostgresTarget; type: 'full' | 'diff' | 'incr' }>;
  /** The policy pruning after this backup applies: the plan's (else the stack's). */
  retention?: RetentionPolicy;
  /** The stack's named backup plan this run follows, recorded in the manifest. */
  planName?: string;
}

export interface QdrantPlan {
  url: string;
  apiKey?: SecretRef;
  collections: string[];
}

export interface VerifyPlan extends WithNotify {
  stack: string;
  backupId: string;
  /** Names this execution's scratch targets. */
  runTag: string;
  store: StoreConfig;
  storeLocation: string;
  manifest: Manifest;
  /** The stack's current Postgres target for each label in the backup. */
  postgresTargets: Record<string, PostgresTarget>;
  /** The stack's current physical target for each physical backup in the manifest (absent in older plans). */
  physicalTargets?: Record<string, PhysicalPostgresTarget>;
  /** Physical backups are recovered to this time instead of their end. */
  at?: string;
  /** The stack's current mirror and exec dump settings for each label in the backup (their drills use them). */
  mirrors?: Record<string, MirrorComponent>;
  execDumps?: Record<string, ExecDumpComponent>;
  qdrant?: Pick<QdrantPlan, 'url' | 'apiKey'>;
  drill: { localDisk: boolean; tempDir?: string; jobs: number; samplePoints: number; qdrantRecovery: Array<'upload' | 'location'> };
}

export interface PostgresRestoreStep {
  label: string;
  target: PostgresTarget;
  database: string;
  replace: boolean;
}

export interface QdrantRestoreStep {
  source: string;
  collection: string;
  replace: boolean;
}

/** One RDB of the backup: over the stack's Redis in its container (confirmed), or into a new redis-server. */
export type RedisRestoreStep = { label: string; over: RedisTarget } | { label: string; into: NewRedisInput };

/**
 * One mirror of the backup: its objects put back under `component.bucket`/`component.prefix`
 * (the target's own mirror, confirmed; or the operator's new prefix, empty at plan time).
 */
export interface MirrorRestoreStep {
  label: string;
  component: MirrorComponent;
  /** true: the mirror's own bucket and prefix (live data, confirmed); false: a new prefix. */
  over: boolean;
}

/** One exec dump of the backup, restored by the target stack's `restore` command of that dump (confirmed). */
export interface ExecRestoreStep {
  label: string;
  component: ExecDumpComponent & { restore: NonNullable<ExecDumpComponent['restore']> };
}

export interface RestorePlan extends WithNotify {
  stack: string;
  /** Names this execution's staging databases and marks what it restored. */
  runTag: string;
  targetStack: string;
  backupId: string;
  store: StoreConfig;
  manifest: Manifest;
  postgres: PostgresRestoreStep[];
  qdrant?: { endpoint: Pick<QdrantPlan, 'url' | 'apiKey'>; collections: QdrantRestoreStep[]; aliases: QdrantAlias[] };
  // Absent from plans recorded before Redis restores (histories replay with none).
  redis?: RedisRestoreStep[];
  /** Mirrors put back into a bucket and prefix, and exec dumps run through their restore command (absent in older plans). */
  mirrors?: MirrorRestoreStep[];
  exec?: ExecRestoreStep[];
  /** Postgres labels recovered from pgBackRest's repository into a new cluster (absent in older plans). */
  physical?: Array<{ label: string; target: PhysicalPostgresTarget; backup: PhysicalBackup; into: NewClusterInput }>;
  /** The time physical restores recover to; absent: each backup's end (or the archive's, with recoverTo). */
  at?: string;
  recoverTo?: 'backup-end' | 'archive-end';
  mode: { localDisk: boolean; tempDir?: string; jobs: number };
}

export interface DeployPlan extends WithNotify {
  stack: string;
  /** Names this execution's migration job. */
  runTag: string;
  service: string;
  image: string;
  target: DeployTarget;
  /** Compose service name, or the Kubernetes Deployment and container. */
  composeService: string;
  deployment: string;
  container: string;
  config: DeployService;
  registry?: DeployConfig['registry'];
}

/** A canary: its service's deploy plan and its canary section, with the run's steps. */
export interface CanaryPlan {
  deploy: DeployPlan;
  canary: CanaryConfig;
}

/** The non-secret part of a stack that pruning needs, recorded in history by the first step. */
export interface PruneTarget extends WithNotify {
  stack: string;
  store: StoreConfig;
  storeLocation: string;
  /** The plan's policy (its own, else the stack's), or the stack's for backups made without a plan. */
  retention: RetentionPolicy;
  /** Only this plan's backups are pruned; undefined: only those made without a plan. */
  plan?: string;
}

/** A re-ingestion, as the plan step resolved it from the stacks file (secrets stay references). */
export interface ReingestPlan extends WithNotify {
  stack: string;
  /** Names the new collection; made once per execution (recorded in history). */
  runTag: string;
  options: ReingestOptions;
  qdrant: Pick<QdrantPlan, 'url' | 'apiKey'>;
  source: ReingestSource;
  /** The stack's database (PostgreSQL source) or S3 store settings (S3 source without its own). */
  connections: { postgres?: PostgresTarget; store?: S3StoreConfig };
  embedder: EmbedderConfig;
  golden: GoldenQuery[];
  gate: ReingestGate;
}

/** A service the recovery brings back, at the version the backup recorded (or the one running now). */
export interface DrService {
  service: string;
  image: string;
  source: 'the backup manifest' | 'running now';
}

/** What a `disasterRecovery` run will do, decided by its assess phase and recorded in history. */
export interface DrPlan extends WithNotify {
  stack: string;
  mode: 'recover' | 'drill' | 'plan';
  /** The stack restored into: the stack itself, or the drill's. */
  targetStack: string;
  runTag: string;
  store: StoreConfig;
  backup: { backupId: string; startedAt: string; finishedAt: string; verified: boolean; why: string };
  /** The newest data the restore brings back: the backup's snapshot time. */
  dataAsOf: string;
  /** Kinds restored one group after another; a group's kinds at the same time. Only those the backup holds. */
  restoreGroups: Array<Array<DrRestoreKind>>;
  /** Per kind, what is restored: Postgres label → database, collections, Redis labels. */
  components: {
    /**
     * `physical`: recovered from the source stack's pgBackRest repository into the target's own
     * data directory and port (to `at`, or the archive's end): in recover mode archiving as
     * before; in a drill into the drill stack's own cluster, archiving off.
     */
    postgres: Array<{ label: string; database: string; physical?: { dataDirectory: string; port: number } }>;
    qdrant: string[];
    redis: string[];
    /** The backup's mirrors and exec dumps (absent in older plans): `why` says why one is not restored. */
    mirror?: Array<{ label: string; restorable: boolean; why?: string }>;
    exec?: Array<{ label: string; restorable: boolean; why?: string }>;
  };
  /** Physical recoveries stop here; absent: at the end of the archive. */
  at?: string;
  /** Deploy services stopped before the restore, in order, as the target stack's deploy target names them. */
  writers: Array<{ service: string; composeService: string; deployment: string; container: string }>;
  deployTarget?: DeployTarget;
  services: DrService[];
  dependencies: DrDependency[];
  traffic?: { shifter: TrafficShifter; weight: number };
  validation: HttpCheck[];
  targets: { rtoMinutes: number; rpoMinutes: number };
  approvalTimeout: string;
  /** mode drill: the drill stack's servers and services, for the teardown of what the drill created. */
  teardown?: {
    postgres: Array<{ label: string; target: PostgresTarget }>;
    /**
     * Clusters the drill recovers from pgBackRest into the drill stack's own (empty) data
     * directory: stopped as `osUser` with the binaries in `binDir`, and their directory removed
     * (absent in plans recorded before drills recovered physical backups).
     */
    clusters?: Array<{ label: string; dataDirectory: string; port: number; binDir: string; osUser?: string }>;
    qdrant?: { url: string; apiKey?: SecretRef };
    redis?: RedisTarget[];
    services: Array<{ service: string; composeService: string; deployment: string; container: string }>;
  };
  /** Which components answered when the run assessed the stack. */
  probes: Array<{ component: string; answers: boolean; detail: string }>;
}
