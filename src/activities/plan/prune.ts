import type { PruneTarget } from '../../config/plan.js';
import { notifyOf } from '../../config/stacks/notify.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';
import { storeLocation } from '../store/open.js';

export function createPrunePlanActivities(deps: { loadStacks?: LoadStacks }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /**
     * The stack's store and the retention policy of the backups to prune: the plan's (its own,
     * else the stack's), or the stack's for backups made without a plan. No policy is bad input.
     */
    async resolvePruneTarget({ stack: name, plan }: { stack: string; plan?: string }): Promise<PruneTarget> {
      const stack = stackFromInput(await loadStacks(), name);
      const target = { stack: name, store: stack.store, storeLocation: storeLocation(stack.store), ...notifyOf(stack) };
      if (plan !== undefined) {
        const configured = stack.plans?.[plan];
        if (!configured) throw invalidInput(`plan: stack "${name}" has no backup plan "${plan}"${stack.plans ? ` (it has ${Object.keys(stack.plans).join(', ')})` : ''}`);
        const retention = configured.retention ?? stack.retention;
        if (!retention) throw invalidInput(`retention: neither plan "${plan}" nor stack "${name}" has a retention policy; add one (e.g. plans.${plan}.retention: { keepLast: 24 })`);
        return { ...target, retention, plan };
      }
      if (!stack.retention) {
        throw invalidInput(`retention: stack "${name}" has no retention policy; add one to the stacks file (e.g. retention: { keepDaily: 7, keepWeekly: 4 })`);
      }
      return { ...target, retention: stack.retention };
    },
  };
}
