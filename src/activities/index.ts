import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { StacksFile } from '../config/stacks/index.js';
import { createComposeActivities } from './compose/index.js';
import { createHttpActivities } from './http/index.js';
import { createJanitorActivities } from './janitor/index.js';
import { createKubernetesActivities } from './kubernetes/index.js';
import { createPlanActivities } from './plan/index.js';
import { createPostgresActivities } from './postgres/index.js';
import { createQdrantActivities } from './qdrant/index.js';
import { createStoreActivities } from './store/index.js';
import { createTemporalActivities } from './temporal/index.js';
import { createTrafficActivities } from './traffic/index.js';
import { createMetricsActivities } from './metrics/index.js';
import { createEmbedderActivities } from './embedders/index.js';
import { createReingestActivities } from './reingest/index.js';
import { createSourceActivities } from './sources/index.js';
import { createRedisActivities } from './redis/index.js';
import { createMirrorActivities } from './mirror/index.js';
import { createExecDumpActivities } from './execdump/index.js';
import { createPgbackrestActivities } from './pgbackrest/index.js';
import { createDrActivities } from './dr/index.js';
import { createDrFreshnessActivities } from './dr/freshness.js';
import { createNotifyActivities } from './notify/index.js';

export interface ActivityDeps {
  /** Where the stacks file comes from; defaults to RAGOPS_CONFIG / ./ragops.yaml. */
  loadStacks?: () => Promise<StacksFile>;
  pgBinDir?: string;
  /** A client of the worker's own server and namespace, for the per-target leases. */
  temporalClient?: () => Promise<Client>;
}

const noTemporalClient = (): Promise<Client> => {
  throw ApplicationFailure.nonRetryable('this worker was built without a Temporal client (ActivityDeps.temporalClient), so runbooks cannot take their leases', 'ConfigError');
};

/** All activities, built from their dependencies so tests and the worker can inject them. */
export function createActivities(deps: ActivityDeps = {}) {
  return {
    ...createPlanActivities({ loadStacks: deps.loadStacks }),
    ...createPostgresActivities({ pgBinDir: deps.pgBinDir }),
    ...createQdrantActivities(),
    ...createStoreActivities(),
    ...createComposeActivities(),
    ...createKubernetesActivities(),
    ...createHttpActivities(),
    ...createTrafficActivities(),
    ...createMetricsActivities(),
    ...createEmbedderActivities(),
    ...createSourceActivities(),
    ...createReingestActivities(),
    ...createRedisActivities(),
    ...createMirrorActivities(),
    ...createExecDumpActivities(),
    ...createPgbackrestActivities(),
    ...createDrActivities(),
    ...createDrFreshnessActivities({ loadStacks: deps.loadStacks }),
    ...createNotifyActivities({ uiUrl: process.env.RAGOPS_UI_URL }),
    ...createTemporalActivities({ temporalClient: deps.temporalClient ?? noTemporalClient, uiUrl: process.env.RAGOPS_UI_URL }),
    ...createJanitorActivities({ loadStacks: deps.loadStacks, temporalClient: deps.temporalClient ?? noTemporalClient }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
