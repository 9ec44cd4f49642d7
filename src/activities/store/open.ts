import type { StoreConfig } from '../../config/stacks/index.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import { FsStore } from './fs.js';
import { S3Store } from './s3.js';
import type { ArtifactStore } from './types.js';

export { storeLocation } from './location.js';

/** Builds the store a stack names, resolving its credentials at call time. */
export async function openStore(config: StoreConfig): Promise<ArtifactStore> {
  if (config.type === 'fs') return new FsStore(config.path);
  const accessKeyId = await resolveOptionalSecret(config.accessKeyId);
  const secretAccessKey = await resolveOptionalSecret(config.secretAccessKey);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new Error('store.accessKeyId and store.secretAccessKey must be given together, or both left out for the default AWS chain');
  }
  const credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
  return new S3Store(config, credentials);
}

export async function withStore<T>(config: StoreConfig, use: (store: ArtifactStore) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await use(store);
  } finally {
    store.close();
  }
}
