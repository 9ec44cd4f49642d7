import { ApplicationFailure } from '@temporalio/activity';
import type { BackupOptions } from '../config/inputs.js';
import { loadStacksFile, stackOrThrow } from '../config/load.js';
import type { BackupPlan } from '../config/plan.js';
import type { SecretRef } from '../config/secrets.js';
import type { StacksFile } from '../config/stacks.js';
import { openStore } from './store/open.js';

export interface PlanDeps {
  /** Loads the stacks file; read at each plan so an edited file applies to the next run. */
  loadStacks?: () => Promise<StacksFile>;
  listQdrantCollections(qdrant: { url: string; apiKey?: SecretRef }): Promise<string[]>;
}

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidInput');
}

export function createPlanActivities(deps: PlanDeps) {
  const loadStacks = deps.loadStacks ?? (() => loadStacksFile());
  return {
    /** Resolves a stack into the non-secret plan of one backup run; nothing is written. */
    async resolveBackupPlan({ options, backupId }: { options: BackupOptions; backupId: string }): Promise<BackupPlan> {
      const stacks = await loadStacks();
      let stack;
      try {
        stack = stackOrThrow(stacks, options.stack);
      } catch (error) {
        throw invalid(`stack: ${(error as Error).message}`);
      }
      const configured = [...(stack.postgres.length > 0 ? ['postgres' as const] : []), ...(stack.qdrant ? ['qdrant' as const] : [])];
      const components = options.components ?? configured;
      const missing = components.filter((component) => !configured.includes(component));
      if (missing.length > 0) {
        throw invalid(`components: stack "${options.stack}" has no ${missing.join(' or ')} configured`);
      }
      if (components.length === 0) throw invalid(`components: stack "${options.stack}" configures neither postgres nor qdrant`);
      if (options.collections && !components.includes('qdrant')) {
        throw invalid('collections: given, but qdrant is not among the components of this backup');
      }

      let qdrant: BackupPlan['qdrant'];
      if (stack.qdrant && components.includes('qdrant')) {
        const onNode = await deps.listQdrantCollections(stack.qdrant);
        const wanted = options.collections ?? stack.qdrant.collections;
        const collections = wanted.includes('*') ? onNode : [...new Set(wanted)];
        const absent = collections.filter((name) => !onNode.includes(name));
        if (absent.length > 0) {
          throw invalid(`collections: ${absent.map((name) => `"${name}"`).join(', ')} not found on Qdrant at ${stack.qdrant.url}`);
        }
        qdrant = { url: stack.qdrant.url, apiKey: stack.qdrant.apiKey, collections };
      }
      const store = await openStore(stack.store);
      const storeLocation = store.location;
      store.close();
      return {
        stack: options.stack,
        backupId,
        store: stack.store,
        storeLocation,
        components,
        postgres: components.includes('postgres') ? stack.postgres : [],
        qdrant,
        retention: stack.retention,
      };
    },
  };
}
