export { backup } from './backup.js';
export { verifyBackup } from './verifyBackup.js';
