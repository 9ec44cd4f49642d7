import type { BackupOptions } from '../../config/inputs.js';
import type { BackupPlan } from '../../config/plan.js';
import type { SecretRef } from '../../config/secrets.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';
import { storeLocation } from '../store/open.js';
import { backupIdOf, isOwnedCollection } from '../../core/runNames.js';
import { newRunTag } from './runTag.js';

export interface PlanDeps {
  loadStacks?: LoadStacks;
  listQdrantCollections(qdrant: { url: string; apiKey?: SecretRef }): Promise<string[]>;
}

export function createBackupPlanActivities(deps: PlanDeps) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /** Resolves a stack into the non-secret plan of one backup run; nothing is written. */
    async resolveBackupPlan({ options }: { options: BackupOptions }): Promise<BackupPlan> {
      const stack = stackFromInput(await loadStacks(), options.stack);
      const configured = [...(stack.postgres.length > 0 ? ['postgres' as const] : []), ...(stack.qdrant ? ['qdrant' as const] : [])];
      const components = options.components ?? configured;
      const missing = components.filter((component) => !configured.includes(component));
      if (missing.length > 0) {
        throw invalidInput(`components: stack "${options.stack}" has no ${missing.join(' or ')} configured`);
      }
      if (components.length === 0) throw invalidInput(`components: stack "${options.stack}" configures neither postgres nor qdrant`);
      if (options.collections && !components.includes('qdrant')) {
        throw invalidInput('collections: given, but qdrant is not among the components of this backup');
      }

      let qdrant: BackupPlan['qdrant'];
      if (stack.qdrant && components.includes('qdrant')) {
        const onNode = await deps.listQdrantCollections(stack.qdrant);
        const wanted = options.collections ?? stack.qdrant.collections;
        // "*" means the stack's own collections: never the scratch collections of a running drill.
        const collections = wanted.includes('*') ? onNode.filter((name) => !isOwnedCollection(name)) : [...new Set(wanted)];
        const absent = collections.filter((name) => !onNode.includes(name));
        if (absent.length > 0) {
          throw invalidInput(`collections: ${absent.map((name) => `"${name}"`).join(', ')} not found on Qdrant at ${stack.qdrant.url}`);
        }
        qdrant = { url: stack.qdrant.url, apiKey: stack.qdrant.apiKey, collections };
      }
      const runTag = newRunTag();
      return {
        stack: options.stack,
        backupId: backupIdOf(new Date(), runTag),
        runTag,
        store: stack.store,
        storeLocation: storeLocation(stack.store),
        components,
        postgres: components.includes('postgres') ? stack.postgres : [],
        qdrant,
        retention: stack.retention,
      };
    },
  };
}
