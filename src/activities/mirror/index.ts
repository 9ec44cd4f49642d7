import { createMirrorBackupActivities } from './backup.js';
import { createMirrorDrillActivities } from './drill.js';
import { createMirrorPruneActivities } from './prune.js';
import { createMirrorRestoreActivities } from './restore.js';

export type { MirrorArtifact, MirrorBucketRequest } from './backup.js';
export type { MirrorCheck, MirrorDrillRequest } from './drill.js';
export type { MirrorRestoreRequest, MirrorRestoreResult } from './restore.js';
export type { DeleteMirrorBytesRequest, DeletedMirrorBytes } from './prune.js';

/** The S3 bucket mirror component: backup, restore drill, restore, and retention's byte-level delete. */
export function createMirrorActivities() {
  return {
    ...createMirrorBackupActivities(),
    ...createMirrorDrillActivities(),
    ...createMirrorPruneActivities(),
    ...createMirrorRestoreActivities(),
  };
}
