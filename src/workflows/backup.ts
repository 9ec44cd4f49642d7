import { ApplicationFailure, isCancellation, workflowInfo, type WorkflowInfo } from '@temporalio/workflow';
import { backupInputSchema } from '../config/inputs.js';
import { type Artifact, type Manifest, type PhysicalBackup } from '../config/manifest.js';
import { operatorCommandActivities, quickActivities, streamingActivities } from './lib/activities.js';
import { formatBytes, mibPerSecond } from '../core/format.js';
import { parseInput } from './lib/input.js';
import { StepTracker } from './lib/steps.js';
import { withLeases } from './lib/leases.js';
import { Notifier } from './lib/notify.js';
import { backupClaims } from '../core/leases.js';
import type { BackupOptions } from '../config/inputs.js';
import type { BackupPlan } from '../config/plan.js';
import { runRetentionAfterBackup } from './pruneBackups.js';
import { backupKeys } from '../core/storeKeys.js';
import { artifactEncryptionFor } from '../config/stacks/encryption.js';

export interface BackupReport {
  backupId: string;
  stack: string;
  store: string;
  manifestKey: string;
  artifacts: Array<{ component: string; name: string; key: string; size: number; sha256: string; durationMs: number; mibPerSecond: number }>;
  total: { artifacts: number; bytes: number; durationMs: number; mibPerSecond: number };
  checksumVerified: boolean;
  /** Physical backups pgBackRest made: label, type (and what was asked), what expire removed. */
  physical?: Array<Pick<PhysicalBackup, 'name' | 'label' | 'type' | 'requestedType' | 'expire'>>;
  /** The retention run that followed, when the stack has a policy: its id, or why it failed. */
  retention?: { workflowId: string; deleted: number; kept: number } | { error: string };
}

const describeArtifact = (artifact: Artifact) =>
  `${formatBytes(artifact.size)} in ${(artifact.durationMs / 1000).toFixed(1)} s (${mibPerSecond(artifact.size, artifact.durationMs)} MiB/s), sha256 ${artifact.sha256.slice(0, 12)}…`;

/**
 * One consistent backup set of a stack: every Postgres database and Qdrant collection
 * streamed through SHA-256 into the store, then the manifest — written last, because a
 * backup without a manifest is incomplete.
 */
export async function backup(rawInput: unknown): Promise<BackupReport> {
  const options = parseInput(backupInputSchema, rawInput, 'backup');
  const info = workflowInfo();
  const startedAt = new Date(info.startTime).toISOString();
  const steps = new StepTracker('backup', options.stack);

  const plan = await steps.step(
    'plan',
    'resolve the stack',
    () => quickActivities(`plan backup of ${options.stack}`).resolveBackupPlan({ options }),
    (p) =>
      `${p.planName ? `plan ${p.planName}: ` : ''}${p.postgres.length} database(s), ${p.physical?.length ? `${p.physical.length} physical (pgBackRest), ` : ''}${p.qdrant?.collections.length ?? 0} collection(s), ${p.redis?.length ?? 0} Redis, ${p.mirrors?.length ?? 0} mirror(s), ${p.execDumps?.length ?? 0} exec dump(s) → ${p.storeLocation}`,
  );
  return new Notifier('backup', plan).failures(() => withLeases(steps, 'backup', backupClaims(plan), () => backUp(options, info, startedAt, steps, plan)));
}

/** The backup itself, once its targets are held. */
async function backUp(options: BackupOptions, info: WorkflowInfo, startedAt: string, steps: StepTracker, plan: BackupPlan): Promise<BackupReport> {

  const { backupId } = plan;
  steps.setHeadline(`**backup** of stack \`${options.stack}\`${plan.planName ? ` (plan \`${plan.planName}\`)` : ''} → \`${backupId}\``);

  const artifacts: Artifact[] = [];
  for (const target of plan.postgres) {
    const key = backupKeys.postgresDump(plan.stack, backupId, target.name);
    artifacts.push(
      await steps.step(
        'postgres',
        `pg_dump ${target.name} (${target.database})`,
        () => streamingActivities(`pg_dump ${target.name}`).dumpPostgres({ target, store: plan.store, key }),
        (artifact) => `${describeArtifact(artifact)}, ${Object.keys(artifact.tables).length} tables`,
      ),
    );
  }

  const physical = await backUpPhysical(options, steps, plan);

  let qdrant: Manifest['qdrant'];
  if (plan.qdrant) {
    const endpoint = { url: plan.qdrant.url, apiKey: plan.qdrant.apiKey };
    for (const collection of plan.qdrant.collections) {
      const key = backupKeys.qdrantSnapshot(plan.stack, backupId, collection);
      artifacts.push(
        await steps.step(
          'qdrant',
          `snapshot ${collection}`,
          () => streamingActivities(`snapshot ${collection}`).snapshotQdrantCollection({ qdrant: endpoint, collection, store: plan.store, key }),
          (artifact) => `${describeArtifact(artifact)}, ${artifact.component === 'qdrant' ? artifact.pointsCount : 0} points`,
        ),
      );
    }
    const described = await steps.step(
      'qdrant',
      'record Qdrant version and aliases',
      () => quickActivities('read Qdrant aliases').describeQdrant(endpoint),
      (d) => `Qdrant ${d.version}, ${d.aliases.length} alias(es)`,
    );
    qdrant = { url: plan.qdrant.url, ...described };
  }

  for (const target of plan.redis ?? []) {
    artifacts.push(
      await steps.step(
        'redis',
        `BGSAVE ${target.name}, stream its RDB`,
        () => streamingActivities(`back up Redis ${target.name}`).backupRedis({ target, store: plan.store, key: backupKeys.redisRdb(plan.stack, backupId, target.name) }),
        (artifact) => `${describeArtifact(artifact)}, ${artifact.component === 'redis' ? Object.values(artifact.keyspace).reduce((sum, db) => sum + db.keys, 0) : 0} keys`,
      ),
    );
  }

  for (const { component, previousKey } of plan.mirrors ?? []) {
    artifacts.push(
      await steps.step(
        'mirror',
        `mirror s3://${component.bucket}/${component.prefix}`,
        () =>
          streamingActivities(`mirror ${component.name}`).mirrorBucket({
            component,
            store: plan.store,
            key: backupKeys.mirrorEntries(plan.stack, backupId, component.name),
            objectsPrefix: backupKeys.mirrorObjectsPrefix(plan.stack, backupId, component.name),
            ...(previousKey ? { previousKey } : {}),
          }),
        (artifact) =>
          artifact.component === 'mirror'
            ? `${artifact.objects} objects: ${artifact.copied} copied (${formatBytes(artifact.bytesCopied)}), ${artifact.referenced} unchanged and referenced (${formatBytes(artifact.bytesReferenced)})`
            : '',
      ),
    );
  }

  for (const component of plan.execDumps ?? []) {
    artifacts.push(
      await steps.step(
        'exec',
        `exec dump ${component.name}`,
        () => operatorCommandActivities(`exec dump ${component.name}`).execDump({ component, store: plan.store, key: backupKeys.execDump(plan.stack, backupId, component.name, component.extension) }),
        (artifact) => describeArtifact(artifact),
      ),
    );
  }
  // What the services ran, so a disaster recovery deploys the same versions; a backup never fails for it.
  let services: Manifest['services'];
  if (plan.deploy) {
    const deploy = plan.deploy;
    services = await steps
      .step('services', 'record the versions the services run', () => quickActivities('record service versions').recordServiceVersions(deploy), (v) => v.map((s) => `${s.service} ${s.image ?? 'nothing'}`).join(', '))
      .catch((error: unknown) => {
        if (isCancellation(error)) throw error;
        return undefined;
      });
  }
  // What the manifest says of client-side encryption: the scheme and key id each artifact was written with.
  const encryption = artifactEncryptionFor(plan.store);
  if (encryption) artifacts.forEach((artifact, index) => (artifacts[index] = { ...artifact, encryption }));

  let checksumVerifiedAt: string | undefined;
  if (options.verify === 'checksum') {
    for (const artifact of artifacts) {
      await steps.step(
        'verify',
        `re-read ${artifact.key}`,
        async () => {
          const check = await streamingActivities(`checksum ${artifact.name}`).checkStoredArtifact({ store: plan.store, artifact });
          if (!check.passed) {
            throw ApplicationFailure.nonRetryable(`stored ${artifact.component} artifact "${artifact.name}" does not match: ${check.detail}`, 'ChecksumMismatch');
          }
          return check;
        },
        () => 'sha256 matches',
      );
    }
    checksumVerifiedAt = new Date().toISOString();
  }

  const manifest: Manifest = {
    formatVersion: 1,
    backupId,
    stack: plan.stack,
    workflowId: info.workflowId,
    runId: info.runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    store: plan.storeLocation,
    ...(plan.planName ? { plan: plan.planName } : {}),
    artifacts,
    qdrant,
    checksumVerifiedAt,
    ...(physical.length > 0 ? { physical } : {}),
    ...(services ? { services } : {}),
  };
  const manifestKey = await steps.step('manifest', 'write the manifest', () =>
    quickActivities('write manifest').writeManifest({ store: plan.store, manifest }),
  );

  // A failed prune must not turn a good backup into a failed run: it is reported instead.
  let retention: BackupReport['retention'];
  if (options.prune && plan.retention) {
    retention = await steps
      .step('retention', 'apply the retention policy', () => runRetentionAfterBackup(plan.stack, plan.planName), (r) => `${r.total.deleted} deleted, ${r.total.kept} kept`)
      .then((r) => ({ workflowId: `${info.workflowId}-prune`, deleted: r.total.deleted, kept: r.total.kept }))
      .catch((error: unknown) => {
        if (isCancellation(error)) throw error;
        return { error: error instanceof Error ? error.message : String(error) };
      });
  }

  const bytes = artifacts.reduce((sum, artifact) => sum + artifact.size, 0);
  const durationMs = Date.parse(manifest.finishedAt) - Date.parse(startedAt);
  steps.finish(`complete: ${artifacts.length} artifact(s), ${formatBytes(bytes)}`);
  return {
    backupId,
    stack: plan.stack,
    store: plan.storeLocation,
    manifestKey,
    artifacts: artifacts.map(({ component, name, key, size, sha256, durationMs: ms }) => ({
      component,
      name,
      key,
      size,
      sha256,
      durationMs: ms,
      mibPerSecond: mibPerSecond(size, ms),
    })),
    total: { artifacts: artifacts.length, bytes, durationMs, mibPerSecond: mibPerSecond(bytes, durationMs) },
    checksumVerified: options.verify === 'checksum',
    ...(physical.length > 0 ? { physical: physical.map(({ name, label, type, requestedType, expire }) => ({ name, label, type, requestedType, ...(expire ? { expire } : {}) })) } : {}),
    retention,
  };
}

const describePhysical = (b: PhysicalBackup) =>
  `${b.label}: ${b.type}${b.type !== b.requestedType ? ` (asked for ${b.requestedType}; pgBackRest made it full: no full backup to build on)` : ''}, ${formatBytes(b.sizes.deltaBytes)} copied of ${formatBytes(b.sizes.databaseBytes)}, WAL ${b.wal.start}…${b.wal.stop}`;

/**
 * pgBackRest's backups of the clusters with a physical section: the backup, its verify when
 * asked, then pgBackRest's own expire — after the checks, so a bad backup never expires a good
 * one. A failed expire is reported, not a failed backup.
 */
async function backUpPhysical(options: BackupOptions, steps: StepTracker, plan: BackupPlan): Promise<PhysicalBackup[]> {
  const made: PhysicalBackup[] = [];
  for (const { target, type } of plan.physical ?? []) {
    const request = { target, store: plan.store, stack: plan.stack };
    let backup = await steps.step(
      'pgbackrest',
      `pgbackrest backup --type=${type} of ${target.name} (stanza ${target.physical.stanza})`,
      () => streamingActivities(`pgbackrest backup ${target.name}`).pgbackrestBackup({ ...request, type }),
      describePhysical,
    );
    if (options.verify === 'checksum') {
      const verify = await steps.step(
        'verify',
        `pgbackrest verify ${backup.label}`,
        () => streamingActivities(`pgbackrest verify ${target.name}`).pgbackrestVerify({ ...request, label: backup.label, priorLabels: backup.priorLabel ? [backup.priorLabel] : [] }),
        (v) => `${v.status}: ${v.filesValid} of ${v.filesChecked} file(s) valid`,
      );
      backup = { ...backup, verify };
      if (verify.status !== 'ok') {
        throw ApplicationFailure.nonRetryable(`pgbackrest verify of backup ${backup.label} (${target.name}) found problems: ${verify.problems.join('; ') || 'see pgbackrest verify'}`, 'ChecksumMismatch');
      }
    }
    if (backup.pageChecksumErrors) {
      backup = { ...backup, expire: { skipped: 'pgBackRest found page checksum errors while copying: nothing is expired on the strength of this backup' } };
    } else if (options.prune) {
      const expire = await steps
        .step('retention', `pgbackrest expire (${target.physical.stanza})`, () => streamingActivities(`pgbackrest expire ${target.name}`).pgbackrestExpire(request), (e) =>
          'expired' in e ? `kept ${e.retentionFull} full backup(s)${e.protecting ? ` (raised to keep ${e.protecting}, the newest a drill proved good)` : ''}; expired ${e.expired.length ? e.expired.join(', ') : 'nothing'}` : '',
        )
        .catch((error: unknown): NonNullable<PhysicalBackup['expire']> => {
          if (isCancellation(error)) throw error;
          return { skipped: `expire failed: ${error instanceof Error ? error.message : String(error)}` };
        });
      backup = { ...backup, expire };
    }
    made.push(backup);
  }
  return made;
}
