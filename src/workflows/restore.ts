import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { restoreInputSchema } from '../config/inputs.js';
import { quickActivities, streamingActivities } from './lib/activities.js';
import { parseInput } from './lib/input.js';
import { ownedDatabaseName } from '../core/runNames.js';
import { withBackupHeld } from './lib/resources.js';
import { StepTracker } from './lib/steps.js';
import { withLeases } from './lib/leases.js';
import { restoreClaims } from '../core/leases.js';

export interface RestoreReport {
  stack: string;
  targetStack: string;
  backupId: string;
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
}

/**
 * Restores chosen components of a backup into a stack. Each database is restored into a
 * staging database of this run, checked against the manifest, and only then renamed into
 * place; an existing database or collection is replaced only when the input confirmed it.
 * Aliases, when asked for, switch last and all at once.
 */
/** Where each component stands when a restore fails: the operator's first question. */
export type ComponentState = 'restored' | 'untouched' | 'rolled back' | 'failed, original untouched' | 'failed';

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
    (p) => `backup ${p.backupId} → stack ${p.targetStack}: ${p.postgres.length} database(s), ${p.qdrant?.collections.length ?? 0} collection(s)`,
  );
  steps.setHeadline(`**restore** of backup \`${plan.backupId}\` (stack \`${plan.stack}\`) into stack \`${plan.targetStack}\``);
  const stagingDatabaseFor = (label: string) => ownedDatabaseName('restore', plan.runTag, label);

  const report: RestoreReport = { stack: plan.stack, targetStack: plan.targetStack, backupId: plan.backupId, postgres: [], qdrant: [], aliases: [] };
  return withLeases(steps, 'restore', restoreClaims(plan), () => withBackupHeld(
    steps,
    { store: plan.store, stack: plan.stack, backupId: plan.backupId, runbook: 'restore' },
    async () => {
      const states = new Map<string, ComponentState>([
        ...plan.postgres.map((step) => [`postgres ${step.label} → ${step.database}`, 'untouched'] as const),
        ...(plan.qdrant?.collections ?? []).map((step) => [`qdrant ${step.source} → ${step.collection}`, 'untouched'] as const),
      ]);
      let current: string | undefined;
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
                store: plan.store,
                artifact,
                backupId: plan.backupId,
                database: step.database,
                replace: step.replace,
                stagingDatabase: stagingDatabaseFor(step.label),
                oldDatabase: ownedDatabaseName('old', plan.runTag, step.label),
                runTag: plan.runTag,
                mode: plan.mode,
                roles: options.roles,
              }),
            (r) => `${Object.keys(r.tables).length} tables, counts equal to the manifest`,
          );
          report.postgres.push({ label: step.label, ...restored });
          states.set(current, 'restored');
          current = undefined;
        }
        if (plan.qdrant) {
          const { endpoint } = plan.qdrant;
          for (const step of plan.qdrant.collections) {
            const artifact = plan.manifest.artifacts.find((a) => a.component === 'qdrant' && a.name === step.source);
            if (artifact?.component !== 'qdrant') continue;
            current = `qdrant ${step.source} → ${step.collection}`;
            const restored = await steps.step(
              'qdrant',
              `recover ${step.source} as ${step.collection}${step.replace ? ' (replacing it)' : ''}`,
              () =>
                streamingActivities(`recover ${step.source}`).restoreQdrantCollection({
                  qdrant: endpoint,
                  store: plan.store,
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
          const aliases = plan.qdrant.aliases.map((alias) => ({ ...alias, collection: recoveredAs.get(alias.collection) ?? alias.collection }));
          if (aliases.length > 0) {
            await steps.step('qdrant', `point ${plan.qdrant.aliases.length} alias(es)`, () =>
              quickActivities('switch aliases').applyQdrantAliases({ qdrant: endpoint, aliases }),
            );
            report.aliases = aliases;
          }
        }
      } catch (error) {
        if (isCancellation(error)) throw error;
        // A database restore that fails leaves the original in place: before the swap it was
        // never touched, and the swap is one transaction that rolls back.
        if (current?.startsWith('postgres')) states.set(current, failureTypes(error).includes('SwapFailed') ? 'rolled back' : 'failed, original untouched');
        else if (current) states.set(current, 'failed');
        throw failedRestore(error, states);
      }
      steps.finish(`restored ${report.postgres.length} database(s), ${report.qdrant.length} collection(s)`);
      return report;
    },
    async () => {
      // Staging databases are this run's own; a replaced original is never dropped here.
      for (const step of plan.postgres) {
        await quickActivities('drop staging database').dropRunDatabase({ target: step.target, database: stagingDatabaseFor(step.label) });
      }
    },
  ));
}
