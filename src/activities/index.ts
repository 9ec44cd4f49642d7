import type { StacksFile } from '../config/stacks.js';
import { createPlanActivities } from './plan.js';
import { createPostgresActivities } from './postgres.js';
import { createQdrantActivities } from './qdrant.js';
import { createRetentionActivities } from './retention.js';
import { createStoreActivities } from './store.js';

export interface ActivityDeps {
  /** Where the stacks file comes from; defaults to RAGOPS_CONFIG / ./ragops.yaml. */
  loadStacks?: () => Promise<StacksFile>;
  pgBinDir?: string;
}

/** All activities, built from their dependencies so tests and the worker can inject them. */
export function createActivities(deps: ActivityDeps = {}) {
  const qdrant = createQdrantActivities();
  return {
    ...createPlanActivities({ loadStacks: deps.loadStacks, listQdrantCollections: qdrant.listQdrantCollections }),
    ...createPostgresActivities({ pgBinDir: deps.pgBinDir }),
    ...qdrant,
    ...createStoreActivities(),
    ...createRetentionActivities({ loadStacks: deps.loadStacks }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
