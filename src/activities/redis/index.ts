import { createRedisBackupActivities, type RedisDeps } from './backup.js';
import { createRedisDrillActivities } from './drill.js';

export type { BackupRedisRequest, RedisArtifact, RedisDeps } from './backup.js';
export type { DrillRedisRequest, RedisDrillCheck } from './drill.js';

/** backupRedis and drillRedis, built from their dependencies. */
export function createRedisActivities(deps: RedisDeps = {}) {
  return {
    ...createRedisBackupActivities(deps),
    ...createRedisDrillActivities(deps),
  };
}
