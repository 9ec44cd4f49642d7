import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { restoreInputSchema } from '../config/inputs.js';
import { operatorWriteActivities, quickActivities, streamingActivities } from './lib/activities.js';
import { parseInput } from './lib/input.js';
import { ownedDatabaseName, PREVIOUS_COLLECTION_UNKNOWN } from '../core/runNames.js';
import { withBackupHeld } from './lib/resources.js';
import { StepTracker } from './lib/steps.js';
import { withLeases } from './lib/leases.js';
import { Notifier } from './lib/notify.js';
import { restoreClaims } from '../core/leases.js';
import { storeForArtifact } from '../config/stacks/encryption.js';
import type { Artifact } from '../config/manifest.js';
import type { ExecRestoreStep, MirrorRestoreStep, RedisRestoreStep, RestorePlan } from '../config/plan.js';
import type { RestoreAtReport } from '../activities/pgbackrest/restoreAt.js';
import type { RedisRestoreResult } from '../activities/redis/index.js';
import type { MirrorRestoreResult } from '../activities/mirror/index.js';
import type { ExecRestoreResult } from '../activities/execdump/index.js';

export interface RestoreReport {
  stack: string;
  targetStack: string;
  backupId: string;
  /** The run's tag: the marker on each database it restored carries it (a drill's teardown checks it). */
  runTag?: string;
  postgres: Array<{ label: string; database: string; replaced: boolean; tables: Record<string, number>; notKept?: string[]; rolesCreated?: string[] }>;
  qdrant: Array<{
    source: string;
    collection: string;
    pointsCount: number;
    replaced: boolean;
    /** The target was an alias: it now points at `collection`; the collection it pointed at is left in place. */
    alias?: { name: string; previousCollection: string };
    /** The target existed: its snapshot, taken into the store before it was recovered over. */
    safetySnapshotKey?: string;
  }>;
  aliases: Array<{ alias: string; collection: string }>;
  /** Each RDB restored: where, the keys per database, the keys with a TTL that expired since the backup. */
  redis: RedisRestoreResult[];
  /** Clusters recovered from pgBackRest's repository into a new directory and port, left running. */
  physical?: RestoreAtReport[];
  /** Each mirror put back: where, how many objects, and how many the backup does not hold (left in place, not deleted). */
  mirrors?: MirrorRestoreResult[];
  /** Each exec dump run through its restore command. */
  exec?: ExecRestoreResult[];
}

/**
 * Restores chosen components of a backup into a stack. Each database is restored into a
 * staging database of this run, checked against the manifest, and only then renamed into
 * place; an existing database or collection is replaced only when the input confirmed it.
 * Aliases, when asked for, switch last and all at once.
 */
/** Where each component stands when a restore fails: the operator's first question. */
export type ComponentState = 'restored' | 'untouched' | 'rolled back' | 'failed, original untouched' | 'failed' | 'restored, undo failed';

const mirrorComponent = (step: MirrorRestoreStep) => `mirror ${step.label} → s3://${step.component.bucket}/${step.component.prefix}${step.over ? ' (its own prefix)' : ''}`;
const execComponent = (step: ExecRestoreStep) => `exec ${step.label} → ${step.component.restore.argv[0]} on the worker host`;

const physicalComponent = (step: NonNullable<RestorePlan['physical']>[number]) => `postgres ${step.label} → new cluster ${step.into.dataDirectory} :${step.into.port}`;

function failureTypes(error: unknown): string[] {
  const types: string[] = [];
  for (let at = error as { type?: string; cause?: unknown } | undefined; at; at = at.cause as typeof at) if (at.type) types.push(at.type);
  return types;
}

function failedRestore(error: unknown, states: Map<string, ComponentState>): ApplicationFailure {
  const listed = [...states].map(([component, state]) => `${component}: ${state}`).join('; ');
  const cause = error instanceof Error ? error : undefined;
  // An activity's own message, not its wrapper's "Activity task failed".
  let inner = error as { message?: string; cause?: unknown } | undefined;
  while (inner?.message === 'Activity task failed' && inner.cause) inner = inner.cause as typeof inner;
  const reason = inner?.message ?? String(error);
  return ApplicationFailure.create({
    message: `restore failed: ${reason} — components: ${listed}`,
    type: 'RestoreFailed',
    nonRetryable: true,
    details: [Object.fromEntries(states)],
    cause,
  });
}

export async function restore(rawInput: unknown): Promise<RestoreReport> {
  const options = parseInput(restoreInputSchema, rawInput, 'restore');
  const steps = new StepTracker('restore', options.stack);
  const plan = await steps.step(
    'plan',
    'check the backup and the targets',
    () => quickActivities(`plan restore of ${options.stack}`).resolveRestorePlan({ options }),
    (p) => `backup ${p.backupId} → stack ${p.targetStack}: ${p.postgres.length} database(s), ${p.physical?.length ? `${p.physical.length} new cluster(s) from pgBackRest, ` : ''}${p.qdrant?.collections.length ?? 0} collection(s)${p.redis?.length ? `, ${p.redis.length} Redis` : ''}${p.mirrors?.length ? `, ${p.mirrors.length} mirror(s)` : ''}${p.exec?.length ? `, ${p.exec.length} exec dump(s)` : ''}`,
  );
  steps.setHeadline(`**restore** of backup \`${plan.backupId}\` (stack \`${plan.stack}\`) into stack \`${plan.targetStack}\``);
  // Each artifact is read as it was written (decrypted when its manifest entry says so); a key the stack no longer has stops the run before anything is touched.
  const storeFor = (artifact: Artifact) => {
    const readable = storeForArtifact(plan.store, artifact);
    if ('refused' in readable) throw ApplicationFailure.nonRetryable(readable.refused, 'InvalidInput');
    return readable.store;
  };
  plan.manifest.artifacts.forEach(storeFor);
  const stagingDatabaseFor = (label: string) => ownedDatabaseName('restore', plan.runTag, label);

  const redisSteps = plan.redis ?? [];
  const redisComponent = (step: RedisRestoreStep) =>
    'over' in step ? `redis ${step.label} → ${step.over.host}:${step.over.port} (its container)` : `redis ${step.label} → new redis-server ${step.into.bind}:${step.into.port}`;

  const report: RestoreReport = { stack: plan.stack, targetStack: plan.targetStack, backupId: plan.backupId, runTag: plan.runTag, postgres: [], qdrant: [], aliases: [], redis: [] };
  return new Notifier('restore', plan).failures(() => withLeases(steps, 'restore', restoreClaims(plan), () => withBackupHeld(
    steps,
    { store: plan.store, stack: plan.stack, backupId: plan.backupId, runbook: 'restore' },
    async () => {
      const states = new Map<string, ComponentState>([
        ...plan.postgres.map((step) => [`postgres ${step.label} → ${step.database}`, 'untouched'] as const),
        ...(plan.qdrant?.collections ?? []).map((step) => [`qdrant ${step.source} → ${step.collection}`, 'untouched'] as const),
        ...redisSteps.map((step) => [redisComponent(step), 'untouched'] as const),
        ...(plan.physical ?? []).map((step) => [physicalComponent(step), 'untouched'] as const),
        ...(plan.mirrors ?? []).map((step) => [mirrorComponent(step), 'untouched'] as const),
        ...(plan.exec ?? []).map((step) => [execComponent(step), 'untouched'] as const),
      ]);
      // patched: runs recorded before the undo drop each replaced original as soon as it is swapped.
      const undoable = patched('restore-undo-on-failure');
      const oldDatabaseFor = (label: string) => ownedDatabaseName('old', plan.runTag, label);
      let current: string | undefined;

      const restoreQdrant = async ({ endpoint, collections, aliases: wanted }: NonNullable<typeof plan.qdrant>) => {
        for (const step of collections) {
          const artifact = plan.manifest.artifacts.find((a) => a.component === 'qdrant' && a.name === step.source);
          if (artifact?.component !== 'qdrant') continue;
          current = `qdrant ${step.source} → ${step.collection}`;
          const restored = await steps.step(
            'qdrant',
            `recover ${step.source} as ${step.collection}${step.replace ? ' (replacing it)' : ''}`,
            () =>
              streamingActivities(`recover ${step.source}`).restoreQdrantCollection({
                qdrant: endpoint,
                store: storeFor(artifact),
                artifact,
                collection: step.collection,
                method: options.recovery,
                backupStack: plan.stack,
                backupId: plan.backupId,
                runTag: plan.runTag,
              }),
            (r) =>
              `${r.pointsCount} points` +
              (r.alias ? `, alias ${r.alias.name} switched from ${r.alias.previousCollection} to ${r.collection}` : '') +
              (r.safetySnapshotKey ? `, the replaced collection saved as ${r.safetySnapshotKey}` : ''),
          );
          report.qdrant.push({ source: step.source, replaced: step.replace, ...restored });
          states.set(current, 'restored');
          current = undefined;
        }
        // A target that was an alias was recovered into a new collection: aliases follow it there.
        const recoveredAs = new Map(report.qdrant.map((entry) => [entry.alias?.name ?? entry.collection, entry.collection]));
        const aliases = wanted.map((alias) => ({ ...alias, collection: recoveredAs.get(alias.collection) ?? alias.collection }));
        if (aliases.length > 0) {
          await steps.step('qdrant', `point ${aliases.length} alias(es)`, () =>
            quickActivities('switch aliases').applyQdrantAliases({ qdrant: endpoint, aliases }),
          );
          report.aliases = aliases;
        }
      };

      /** Over a running Redis: stop its container, copy the RDB in, start it; or into a new redis-server, left running. */
      const restoreRedis = async (step: RedisRestoreStep) => {
        const artifact = plan.manifest.artifacts.find((a) => a.component === 'redis' && a.name === step.label);
        if (artifact?.component !== 'redis') return;
        current = redisComponent(step);
        const activities = streamingActivities(`restore Redis ${step.label}`);
        const restored = await steps.step(
          'redis',
          'over' in step
            ? `restore ${step.label} over the running Redis ${step.over.host}:${step.over.port} (replacing its data)`
            : `restore ${step.label} into a new redis-server on ${step.into.bind}:${step.into.port}`,
          () =>
            'over' in step
              ? activities.restoreRedisOverContainer({ artifact, store: storeFor(artifact), target: step.over })
              : activities.restoreRedisIntoNewServer({ artifact, store: storeFor(artifact), into: step.into, runTag: plan.runTag }),
          (r) => `${r.detail}${r.server ? `; it keeps running (pid file ${r.server.pidFile})` : ''}`,
        );
        report.redis.push(restored);
        states.set(current, 'restored');
        current = undefined;
      };

      // Mirrors and exec dumps come only from plans that name them: histories recorded before them replay with none (no patch needed).
      /** A mirror's objects back under their keys, read back against the backup's checksums; objects it does not hold are left. */
      const restoreMirror = async (step: MirrorRestoreStep) => {
        const artifact = plan.manifest.artifacts.find((a) => a.component === 'mirror' && a.name === step.label);
        if (artifact?.component !== 'mirror') return;
        current = mirrorComponent(step);
        const restored = await steps.step(
          'mirror',
          `put ${step.label}'s ${artifact.objects} object(s) back into s3://${step.component.bucket}/${step.component.prefix}${step.over ? ' (its own prefix, confirmed)' : ''}`,
          () => streamingActivities(`restore mirror ${step.label}`).restoreMirror({ component: step.component, store: storeFor(artifact), key: artifact.key }),
          (r) => r.detail,
        );
        (report.mirrors ??= []).push(restored);
        states.set(current, 'restored');
        current = undefined;
      };

      /** An exec dump through its `restore` command (the artifact's SHA-256 checked before it runs). */
      const restoreExec = async (step: ExecRestoreStep) => {
        const artifact = plan.manifest.artifacts.find((a) => a.component === 'exec' && a.name === step.label);
        if (artifact?.component !== 'exec') return;
        current = execComponent(step);
        const restored = await steps.step(
          'exec',
          `restore ${step.label} through ${step.component.restore.argv.join(' ')} (confirmed)`,
          () => operatorWriteActivities(`restore exec dump ${step.label}`).restoreExecDump({ component: step.component, store: storeFor(artifact), artifact }),
          (r) => r.detail,
        );
        (report.exec ??= []).push(restored);
        states.set(current, 'restored');
        current = undefined;
      };

      /**
       * After a failure, puts back what this run replaced so the stack is not left half
       * restored: each restored database swaps back to its original (or, restored under a new
       * name, is removed), each alias switched to a recovered collection points back where it
       * did. A collection recovered over in place stays restored; its safety snapshot is named.
       */
      const undoRestored = async (failedStates: Map<string, ComponentState>) => {
        for (const entry of [...report.postgres].reverse()) {
          const step = plan.postgres.find((p) => p.label === entry.label)!;
          const component = `postgres ${step.label} → ${step.database}`;
          await steps.step('undo', `put back ${step.database}`, () =>
            quickActivities(`undo restore of ${step.label}`).undoPostgresRestore({
              target: step.target,
              backupId: plan.backupId,
              artifactName: step.label,
              runTag: plan.runTag,
              database: step.database,
              stagingDatabase: stagingDatabaseFor(step.label),
              oldDatabase: oldDatabaseFor(step.label),
            }),
            (outcome) => outcome,
          ).then(
            () => failedStates.set(component, 'rolled back'),
            () => failedStates.set(component, 'restored, undo failed'),
          );
        }
        // Keyed as in `states`: by the target the operator named (the alias), not the new collection.
        const switched = report.qdrant.flatMap((entry) => (entry.alias && entry.alias.previousCollection !== PREVIOUS_COLLECTION_UNKNOWN ? [{ alias: entry.alias.name, collection: entry.alias.previousCollection, source: entry.source, target: entry.alias.name }] : []));
        if (plan.qdrant && switched.length > 0) {
          const { endpoint } = plan.qdrant;
          await steps.step('undo', `point ${switched.length} alias(es) back`, () =>
            quickActivities('switch aliases back').applyQdrantAliases({ qdrant: endpoint, aliases: switched.map(({ alias, collection }) => ({ alias, collection })) }),
          ).then(
            () => switched.forEach((entry) => failedStates.set(`qdrant ${entry.source} → ${entry.target}`, 'rolled back')),
            () => undefined,
          );
        }
      };

      try {
        for (const step of plan.postgres) {
          current = `postgres ${step.label} → ${step.database}`;
          const artifact = plan.manifest.artifacts.find((a) => a.component === 'postgres' && a.name === step.label);
          if (artifact?.component !== 'postgres') continue;
          const restored = await steps.step(
            'postgres',
            `restore ${step.label} into ${step.database}${step.replace ? ' (replacing it)' : ''}`,
            () =>
              streamingActivities(`restore ${step.label}`).restorePostgresDatabase({
                target: step.target,
                store: storeFor(artifact),
                artifact,
                backupId: plan.backupId,
                database: step.database,
                replace: step.replace,
                stagingDatabase: stagingDatabaseFor(step.label),
                oldDatabase: oldDatabaseFor(step.label),
                runTag: plan.runTag,
                mode: plan.mode,
                roles: options.roles,
                keepReplaced: undoable,
              }),
            (r) => `${Object.keys(r.tables).length} tables, counts equal to the manifest${r.replaced && undoable ? '; the original kept aside until every component is restored' : ''}`,
          );
          report.postgres.push({ label: step.label, ...restored });
          states.set(current, 'restored');
          current = undefined;
        }
        if (plan.qdrant) await restoreQdrant(plan.qdrant);
        for (const step of redisSteps) await restoreRedis(step);
        for (const step of plan.mirrors ?? []) await restoreMirror(step);
        for (const step of plan.exec ?? []) await restoreExec(step);
        for (const step of plan.physical ?? []) {
          current = physicalComponent(step);
          const recovered = await steps.step(
            'postgres',
            `recover ${step.label} from ${step.backup.label} ${plan.at ? `to ${plan.at}` : plan.recoverTo === 'archive-end' ? 'to the end of the archive' : 'to its end'} into ${step.into.dataDirectory}, port ${step.into.port}`,
            () =>
              streamingActivities(`recover ${step.label} into a new cluster`).restorePgbackrestAt({
                target: step.target,
                store: plan.store,
                backup: step.backup,
                into: step.into,
                ...(plan.at ? { at: plan.at } : {}),
                ...(plan.recoverTo === 'archive-end' ? { toArchiveEnd: true } : {}),
              }),
            (r) => `running on port ${r.port}; the last replayed commit ${r.recoveredPoint ?? 'none'}; ${Object.keys(r.tables).length} table(s)`,
          );
          (report.physical ??= []).push(recovered);
          states.set(current, 'restored');
        }
        current = undefined;
      } catch (error) {
        // A database restore that fails leaves the original in place: before the swap it was
        // never touched, and the swap is one transaction that rolls back.
        if (current?.startsWith('postgres')) states.set(current, failureTypes(error).includes('SwapFailed') ? 'rolled back' : 'failed, original untouched');
        else if (current?.startsWith('redis')) {
          const types = failureTypes(error);
          states.set(current, types.includes('RedisRestoreRefused') || types.includes('ChecksumMismatch') ? 'failed, original untouched' : 'failed');
        } else if (current?.startsWith('exec')) states.set(current, failureTypes(error).includes('ChecksumMismatch') ? 'failed, original untouched' : 'failed');
        else if (current) states.set(current, 'failed');
        if (undoable) await CancellationScope.nonCancellable(() => undoRestored(states));
        if (isCancellation(error)) throw error;
        throw failedRestore(error, states);
      }
      if (undoable) {
        for (const entry of report.postgres.filter((restored) => restored.replaced)) {
          const step = plan.postgres.find((p) => p.label === entry.label)!;
          await steps.step('postgres', `drop the replaced original of ${entry.database}`, () =>
            quickActivities('drop replaced database').dropRunDatabase({ target: step.target, database: oldDatabaseFor(step.label) }),
          );
        }
      }
      steps.finish(`restored ${report.postgres.length + (report.physical?.length ?? 0)} database(s), ${report.qdrant.length} collection(s)${report.redis.length ? `, ${report.redis.length} Redis` : ''}${report.mirrors?.length ? `, ${report.mirrors.length} mirror(s)` : ''}${report.exec?.length ? `, ${report.exec.length} exec dump(s)` : ''}`);
      return report;
    },
    async () => {
      // Staging databases are this run's own; a replaced original is never dropped here.
      for (const step of plan.postgres) {
        await quickActivities('drop staging database').dropRunDatabase({ target: step.target, database: stagingDatabaseFor(step.label) });
      }
    },
  )));
}
