import { z } from 'zod';
import { secretRef } from '../secretRef.js';

// Encryption at rest of a stack's artifacts. `clientSide` encrypts every artifact on the worker
// before the store sees a byte (src/activities/store/encryption.ts); `sse` and `objectLock` are
// asked of S3 on upload. A key is only ever a secret reference; the manifest records the scheme
// and the key id, never the key.

/** Names a key in manifests and errors: safe to log, never the key itself. */
export const encryptionKeyId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'a key id is letters, digits, ".", "_", ":", "/" and "-" (max 128)');

const clientSideKeySchema = z
  .object({
    keyId: encryptionKeyId,
    /** 32 bytes, base64 or hex (e.g. `openssl rand -base64 32`). */
    key: secretRef,
  })
  .strict();

export const clientSideEncryptionSchema = clientSideKeySchema
  .extend({
    /** Keys rotated out: still used to read older artifacts (matched by the key id in their header), never to write. */
    previousKeys: z.array(clientSideKeySchema).default([]),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set([config.keyId]);
    config.previousKeys.forEach((previous, index) => {
      if (seen.has(previous.keyId)) ctx.addIssue({ code: 'custom', path: ['previousKeys', index, 'keyId'], message: `duplicate key id "${previous.keyId}"` });
      seen.add(previous.keyId);
    });
  });
export type ClientSideEncryption = z.infer<typeof clientSideEncryptionSchema>;

export const sseSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('AES256') }).strict(),
  z.object({ type: z.literal('aws:kms'), kmsKeyId: z.string().min(1, 'a KMS key id, ARN or alias').optional() }).strict(),
]);
export type ServerSideEncryption = z.infer<typeof sseSchema>;

export const objectLockSchema = z
  .object({
    /** GOVERNANCE: removable by a principal with s3:BypassGovernanceRetention; COMPLIANCE: by nobody until it expires. */
    mode: z.enum(['GOVERNANCE', 'COMPLIANCE']),
    days: z.number().int().min(1).max(36_500),
  })
  .strict();
export type ObjectLockRetention = z.infer<typeof objectLockSchema>;

export const encryptionSchema = z
  .object({
    clientSide: clientSideEncryptionSchema.optional(),
    /** S3 stores only: SSE-S3 (AES256) or SSE-KMS. */
    sse: sseSchema.optional(),
    /** S3 stores only, on a bucket created with Object Lock enabled. */
    objectLock: objectLockSchema.optional(),
  })
  .strict();
export type EncryptionConfig = z.infer<typeof encryptionSchema>;

/** What a manifest records of an encrypted artifact: the scheme and the key id, never the key. */
export const CLIENT_SIDE_SCHEME = 'ragops-aes-256-gcm-stream-v1' as const;
export const artifactEncryptionSchema = z.object({ scheme: z.literal(CLIENT_SIDE_SCHEME), keyId: encryptionKeyId });
export type ArtifactEncryption = z.infer<typeof artifactEncryptionSchema>;

/** What the manifest records of artifacts written to this store: the scheme and current key id, when it encrypts. */
export function artifactEncryptionFor(store: { encryption?: { clientSide?: ClientSideEncryption } }): ArtifactEncryption | undefined {
  const clientSide = store.encryption?.clientSide;
  return clientSide ? { scheme: CLIENT_SIDE_SCHEME, keyId: clientSide.keyId } : undefined;
}

/**
 * The store config to read one artifact with: decrypting exactly when the manifest says the
 * artifact was encrypted (a plaintext backup taken before encryption was turned on stays
 * readable). `refused` when the artifact needs a key id the stack no longer lists.
 */
export function storeForArtifact<S extends { encryption?: { clientSide?: ClientSideEncryption } }>(
  store: S,
  artifact: { key: string; encryption?: ArtifactEncryption },
): { store: S } | { refused: string } {
  const clientSide = store.encryption?.clientSide;
  if (!artifact.encryption) return { store: clientSide ? { ...store, encryption: { ...store.encryption, clientSide: undefined } } : store };
  const known = clientSide ? [clientSide.keyId, ...clientSide.previousKeys.map((previous) => previous.keyId)] : [];
  if (!known.includes(artifact.encryption.keyId)) {
    return {
      refused: `artifact ${artifact.key} is encrypted with key id "${artifact.encryption.keyId}", and the stack's store.encryption.clientSide ${clientSide ? `lists only ${known.map((id) => `"${id}"`).join(', ')}` : 'is not set'}: add that key (as keyId or in previousKeys) to read it`,
    };
  }
  return { store };
}
