import type { PostgresTarget, StacksFile } from '../config/stacks.js';
import type { QdrantEndpoint } from './qdrant.js';
import { createComposeActivities } from './compose.js';
import { createHttpActivities } from './http.js';
import { createKubernetesActivities } from './kubernetes.js';
import { createDeployPlanActivities } from './plan-deploy.js';
import { createPlanActivities } from './plan.js';
import { createRestorePlanActivities } from './plan-restore.js';
import { createPostgresActivities } from './postgres.js';
import { createPostgresRestoreActivities } from './postgres-restore-activities.js';
import { createQdrantActivities } from './qdrant.js';
import { createQdrantRestoreActivities } from './qdrant-restore-activities.js';
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
  const postgresRestore = createPostgresRestoreActivities({ pgBinDir: deps.pgBinDir });
  const qdrantRestore = createQdrantRestoreActivities();
  const exists = {
    postgres: (target: PostgresTarget, database: string) => postgresRestore.postgresDatabaseExists({ target, database }),
    qdrant: (endpoint: QdrantEndpoint, collection: string) => qdrantRestore.qdrantCollectionExists({ qdrant: endpoint, collection }),
  };
  return {
    ...createPlanActivities({ loadStacks: deps.loadStacks, listQdrantCollections: qdrant.listQdrantCollections }),
    ...createRestorePlanActivities({ loadStacks: deps.loadStacks, exists }),
    ...createDeployPlanActivities({ loadStacks: deps.loadStacks }),
    ...createComposeActivities(),
    ...createKubernetesActivities(),
    ...createHttpActivities(),
    ...createPostgresActivities({ pgBinDir: deps.pgBinDir }),
    ...postgresRestore,
    ...qdrant,
    ...qdrantRestore,
    ...createStoreActivities(),
    ...createRetentionActivities({ loadStacks: deps.loadStacks }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
