import { createCatalogActivities } from './catalog.js';
import { createCleanupActivities } from './cleanup.js';

export function createStoreActivities() {
  return { ...createCatalogActivities(), ...createCleanupActivities() };
}
