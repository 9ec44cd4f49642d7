import type { StoreConfig } from '../../config/stacks/index.js';
import { resolveOptionalSecret } from '../../config/secrets.js';
import { encryptingStore, loadClientSideKeys } from './encryption.js';
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

/**
 * The store for an artifact's bytes: encrypting and decrypting when the store config carries
 * `encryption.clientSide` (manifests, evidence and locks stay readable through `withStore`).
 * To read a backup, pass the config `storeForArtifact` made from its manifest entry.
 */
export async function withArtifactStore<T>(config: StoreConfig, use: (store: ArtifactStore) => Promise<T>): Promise<T> {
  return withStore(config, async (plain) => use(await artifactView(plain, config)));
}

/** `plain` as artifact bytes are written and read: through the config's client-side encryption, if any. */
export async function artifactView(plain: ArtifactStore, config: StoreConfig): Promise<ArtifactStore> {
  const clientSide = config.encryption?.clientSide;
  return clientSide ? encryptingStore(plain, await loadClientSideKeys(clientSide)) : plain;
}
