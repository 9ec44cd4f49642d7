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
  postgres: Array<{ label: string; database: string; replaced: boolean; tables: Record<string, number> }>;
  qdrant: Array<{ source: string; collection: string; pointsCount: number; replaced: boolean }>;
  aliases: Array<{ alias: string; collection: string }>;
}

/**
 * Restores chosen components of a backup into a stack. Each database is restored into a
 * staging database of this run, checked against the manifest, and only then renamed into
 * place; an existing database or collection is replaced only when the input confirmed it.
 * Aliases, when asked for, switch last and all at once.
 */
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
      for (const step of plan.postgres) {
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
            }),
          (r) => `${Object.keys(r.tables).length} tables, counts equal to the manifest`,
        );
        report.postgres.push({ label: step.label, ...restored });
      }
      if (plan.qdrant) {
        const { endpoint } = plan.qdrant;
        for (const step of plan.qdrant.collections) {
          const artifact = plan.manifest.artifacts.find((a) => a.component === 'qdrant' && a.name === step.source);
          if (artifact?.component !== 'qdrant') continue;
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
              }),
            (r) => `${r.pointsCount} points`,
          );
          report.qdrant.push({ source: step.source, collection: restored.collection, pointsCount: restored.pointsCount, replaced: step.replace });
        }
        if (plan.qdrant.aliases.length > 0) {
          await steps.step('qdrant', `point ${plan.qdrant.aliases.length} alias(es)`, () =>
            quickActivities('switch aliases').applyQdrantAliases({ qdrant: endpoint, aliases: plan.qdrant!.aliases }),
          );
          report.aliases = plan.qdrant.aliases;
        }
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
