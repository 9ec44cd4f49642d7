export { backup } from './backup.js';
export { pruneBackups } from './pruneBackups.js';
