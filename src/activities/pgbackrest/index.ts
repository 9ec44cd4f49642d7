import { createPgbackrestBackupActivities } from './backup.js';
import { createPgbackrestDrillActivities } from './drill.js';
import { createPgbackrestRestoreActivities } from './restoreAt.js';

export function createPgbackrestActivities() {
  return { ...createPgbackrestBackupActivities(), ...createPgbackrestDrillActivities(), ...createPgbackrestRestoreActivities() };
}
