import type { ReingestOptions } from '../../config/inputs.js';
import { notifyOf } from '../../config/stacks/notify.js';
import type { ReingestPlan } from '../../config/plan.js';
import { newRunTag } from './runTag.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';

const known = (names: string[]) => names.join(', ') || 'none defined';

export function createReingestPlanActivities(deps: { loadStacks?: LoadStacks }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /**
     * A re-ingestion's plan from the stacks file: the source, the embedder, the golden set and
     * the gate, checked before anything is created. The Qdrant side (the alias's live collection,
     * the clone of its config) is planned by planReingestTarget once the embedder's size is known.
     */
    async resolveReingestPlan({ options }: { options: ReingestOptions }): Promise<ReingestPlan> {
      const stack = stackFromInput(await loadStacks(), options.stack);
      const section = stack.reingest;
      if (!section) throw invalidInput(`stack "${options.stack}" has no reingest section (sources, embedders, golden queries, gate)`);
      if (!stack.qdrant) throw invalidInput(`stack "${options.stack}" has no qdrant: there is no collection to re-ingest`);
      const source = section.sources[options.source];
      if (!source) throw invalidInput(`source: "${options.source}" is not one of stack "${options.stack}"'s reingest.sources (${known(Object.keys(section.sources))})`);
      const embedder = section.embedders[options.embedder];
      if (!embedder) throw invalidInput(`embedder: "${options.embedder}" is not one of stack "${options.stack}"'s reingest.embedders (${known(Object.keys(section.embedders))})`);
      const postgres = source.kind === 'postgres' ? stack.postgres.find((target) => target.name === source.postgres) : undefined;
      if (source.kind === 'postgres' && !postgres) throw invalidInput(`source "${options.source}" reads database "${source.postgres}", which is not in stack "${options.stack}"'s postgres list`);
      const store = stack.store.type === 's3' ? stack.store : undefined;
      return {
        stack: options.stack,
        runTag: newRunTag(),
        options,
        qdrant: { url: stack.qdrant.url, ...(stack.qdrant.apiKey ? { apiKey: stack.qdrant.apiKey } : {}) },
        source,
        connections: { ...(postgres ? { postgres } : {}), ...(store ? { store } : {}) },
        embedder,
        golden: section.golden,
        gate: section.gate,
        ...notifyOf(stack),
      };
    },
  };
}
