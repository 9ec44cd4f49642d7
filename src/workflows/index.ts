export { backup } from './backup.js';
export { restore } from './restore.js';
export { verifyBackup } from './verifyBackup.js';
