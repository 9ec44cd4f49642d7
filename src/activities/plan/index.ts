import type { PostgresTarget } from '../../config/stacks/index.js';
import { collectionExists, listCollectionNames } from '../qdrant/collections.js';
import type { QdrantEndpoint } from '../qdrant/client.js';
import { databaseExists, withPostgresAdmin } from '../postgres/session.js';
import { createBackupPlanActivities } from './backup.js';
import { createDeployPlanActivities } from './deploy.js';
import { createPrunePlanActivities } from './prune.js';
import { createReingestPlanActivities } from './reingest.js';
import { createDrPlanActivities } from './dr.js';
import { createRestorePlanActivities, type ExistenceProbes } from './restore.js';
import type { LoadStacks } from './stacks.js';

/** Each runbook's first step: a stack and an input become the run's non-secret plan. */
export function createPlanActivities(deps: { loadStacks?: LoadStacks } = {}) {
  const exists: ExistenceProbes = {
    postgres: (target: PostgresTarget, database: string) => withPostgresAdmin(target, undefined, ({ admin }) => databaseExists(admin, database)),
    qdrant: (endpoint: QdrantEndpoint, collection: string) => collectionExists(endpoint, collection),
  };
  return {
    ...createBackupPlanActivities({ loadStacks: deps.loadStacks, listQdrantCollections: listCollectionNames }),
    ...createRestorePlanActivities({ loadStacks: deps.loadStacks, exists }),
    ...createDeployPlanActivities({ loadStacks: deps.loadStacks }),
    ...createPrunePlanActivities({ loadStacks: deps.loadStacks }),
    ...createReingestPlanActivities({ loadStacks: deps.loadStacks }),
    ...createDrPlanActivities({ loadStacks: deps.loadStacks }),
  };
}
