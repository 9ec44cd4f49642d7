export { backup } from './backup.js';
export { pruneBackups } from './pruneBackups.js';
export { verifyBackup } from './verifyBackup.js';
export { restore } from './restore.js';
export { deploy } from './deploy/index.js';
export { lease } from './lease.js';
export { canary } from './canary/index.js';
export { reingest } from './reingest/index.js';
