import { resolve, sep } from 'node:path';
import type { StoreConfig } from '../../config/stacks/index.js';

/** Where a store keeps its objects, as its `location` says it; no credentials needed. */
export function storeLocation(config: StoreConfig): string {
  return config.type === 'fs' ? `${resolve(config.path)}${sep}` : `s3://${config.bucket}/${config.prefix}`;
}
