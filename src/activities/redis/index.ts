import { createRedisBackupActivities, type RedisDeps } from './backup.js';
import { createRedisDrillActivities } from './drill.js';
import { createRedisRestoreActivities } from './restore.js';

export type { BackupRedisRequest, RedisArtifact, RedisDeps } from './backup.js';
export type { DrillRedisRequest, RedisDrillCheck } from './drill.js';
export type { RedisRestoreResult, RestoreRedisIntoRequest, RestoreRedisOverRequest } from './restore.js';

/** backupRedis, drillRedis and the two restores, built from their dependencies. */
export function createRedisActivities(deps: RedisDeps = {}) {
  return {
    ...createRedisBackupActivities(deps),
    ...createRedisDrillActivities(deps),
    ...createRedisRestoreActivities(deps),
  };
}
