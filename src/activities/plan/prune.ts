import type { PruneTarget } from '../../config/plan.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';
import { storeLocation } from '../store/open.js';

export function createPrunePlanActivities(deps: { loadStacks?: LoadStacks }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /** The stack's store and retention policy; a stack without `retention` is bad input. */
    async resolvePruneTarget({ stack: name }: { stack: string }): Promise<PruneTarget> {
      const stack = stackFromInput(await loadStacks(), name);
      if (!stack.retention) {
        throw invalidInput(`retention: stack "${name}" has no retention policy; add one to the stacks file (e.g. retention: { keepDaily: 7, keepWeekly: 4 })`);
      }
      return { stack: name, store: stack.store, storeLocation: storeLocation(stack.store), retention: stack.retention };
    },
  };
}
