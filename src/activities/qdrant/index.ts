import { createQdrantCollectionActivities } from './collections.js';
import { createQdrantDrillActivities } from './drill.js';
import { createQdrantReingestActivities } from './reingest.js';
import { createQdrantSnapshotActivities } from './snapshots.js';

export type { QdrantEndpoint } from './client.js';

export function createQdrantActivities() {
  return {
    ...createQdrantCollectionActivities(),
    ...createQdrantSnapshotActivities(),
    ...createQdrantDrillActivities(),
    ...createQdrantReingestActivities(),
  };
}
