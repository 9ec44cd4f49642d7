import type { ComponentKind } from './inputs.js';
import type { PostgresTarget, StoreConfig } from './stacks.js';
import type { SecretRef } from './secrets.js';

/**
 * What a run will touch, resolved from the stacks file by the run's first step. It holds
 * secret references, never values, and is recorded in history so the run does not drift
 * if the stacks file changes while it runs.
 */
export interface BackupPlan {
  stack: string;
  backupId: string;
  store: StoreConfig;
  storeLocation: string;
  components: ComponentKind[];
  postgres: PostgresTarget[];
  qdrant?: QdrantPlan;
}

export interface QdrantPlan {
  url: string;
  apiKey?: SecretRef;
  collections: string[];
}
