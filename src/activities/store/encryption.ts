import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { resolveSecret } from '../../config/secrets.js';
import {
  CLIENT_SIDE_SCHEME,
  type ArtifactEncryption,
  type ClientSideEncryption,
  type EncryptionConfig,
} from '../../config/stacks/encryption.js';
import type { ArtifactStore } from './types.js';

// Client-side encryption of artifacts: a stream in chunks, each sealed with AES-256-GCM, so
// memory stays bounded whatever the size and the store never sees plaintext.
//
// Layout (version 1):
//   header  "RAGOPSE1" (8) | version 1 (1) | key id length n (1) | key id (n, UTF-8)
//           | wrap nonce (12) | wrapped data key (32) | wrap tag (16) | nonce prefix (7)
//   chunks  AES-256-GCM(data key, nonce = prefix (7) | counter (4, big-endian) | last (1),
//           aad = header) of up to 64 KiB of plaintext, then its 16-byte tag
//
// A random data key per artifact is wrapped (AES-256-GCM, aad = magic, version, key id) by the
// stack's key. Every chunk but the last carries exactly 64 KiB, and only the last has `last` = 1
// in its nonce: a dropped or reordered chunk fails its tag (counter), a stream cut at a chunk
// boundary fails too (the chunk read as last was sealed as not last), and an empty artifact is
// one empty last chunk. The header is every chunk's aad, so it cannot be altered either.

export const ENCRYPTION_CHUNK_BYTES = 64 * 1024;
const MAGIC = Buffer.from('RAGOPSE1', 'latin1');
const VERSION = 1;
const TAG_BYTES = 16;
const NONCE_BYTES = 12;
const PREFIX_BYTES = 7;
const KEY_BYTES = 32;
const SEALED_CHUNK_BYTES = ENCRYPTION_CHUNK_BYTES + TAG_BYTES;
/** Magic, version, key id length. */
const FIXED_HEADER_BYTES = MAGIC.length + 2;
/** Chunks per artifact before the 32-bit counter would wrap: 256 TiB. */
const MAX_CHUNKS = 2 ** 32;

/** The key could not open the artifact's data key: the wrong key for this key id. */
export class EncryptionKeyMismatch extends Error {
  constructor(readonly keyId: string, detail: string) {
    super(`the key "${keyId}" cannot decrypt this artifact (${detail}): the stack's key for key id "${keyId}" is not the one it was encrypted with`);
    this.name = 'EncryptionKeyMismatch';
  }
}

/** The ciphertext is not whole or not as written: tampered, truncated, reordered, or not ours. */
export class EncryptedStreamCorrupt extends Error {
  constructor(detail: string) {
    super(`encrypted artifact is corrupt: ${detail}`);
    this.name = 'EncryptedStreamCorrupt';
  }
}

/** The artifact names a key id the stack has no key for. */
export class EncryptionKeyUnknown extends Error {
  constructor(readonly keyId: string, known: readonly string[]) {
    super(
      `the artifact was encrypted with key id "${keyId}", which the stack does not have (its keys: ${known.map((id) => `"${id}"`).join(', ')}); add it to encryption.clientSide.previousKeys`,
    );
    this.name = 'EncryptionKeyUnknown';
  }
}

/**
 * Errors that say the artifact is not as written (a drill fails). A key that does not open it
 * (EncryptionKeyMismatch, EncryptionKeyUnknown) is not among them: that may be the stack's
 * configuration, not the backup, and a failed drill would let retention delete a good backup.
 */
export const isArtifactDecryptionError = (error: unknown): boolean => error instanceof EncryptedStreamCorrupt;

/** Parses a 32-byte key given as 64 hex digits or base64 (standard or URL-safe). */
export function parseEncryptionKey(text: string, keyId: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new Error(`the key for key id "${keyId}" must be 32 bytes written as base64 (openssl rand -base64 32) or 64 hex digits`);
}

function keyIdBytes(keyId: string): Buffer {
  const bytes = Buffer.from(keyId, 'utf8');
  if (bytes.length === 0 || bytes.length > 255) throw new Error(`key id "${keyId}" must be 1 to 255 bytes`);
  return bytes;
}

function wrapAad(keyId: Buffer): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([VERSION, keyId.length]), keyId]);
}

function chunkNonce(prefix: Buffer, counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(counter, PREFIX_BYTES);
  nonce[NONCE_BYTES - 1] = last ? 1 : 0;
  return nonce;
}

function checkKey(key: Buffer, keyId: string): void {
  if (key.length !== KEY_BYTES) throw new Error(`the key for key id "${keyId}" is ${key.length} bytes, not ${KEY_BYTES}`);
}

/**
 * Cuts a byte stream into frames of `size` bytes, holding back the last one (1 to `size`
 * bytes, or none) until the end, since only then is it known to be the last. Full frames are
 * cut from each write without copying it whole; only a frame spanning writes is copied.
 */
class Framer {
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(private readonly size: number) {}

  get bytesHeld(): number {
    return this.heldBytes;
  }

  /** Emits every frame that more data now follows. */
  write(chunk: Buffer, emit: (frame: Buffer) => void): void {
    if (this.heldBytes > 0) {
      const need = this.size - this.heldBytes;
      if (chunk.length <= need) {
        this.held.push(chunk);
        this.heldBytes += chunk.length;
        return;
      }
      if (need > 0) this.held.push(chunk.subarray(0, need));
      emit(this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.size));
      chunk = chunk.subarray(need);
    }
    let offset = 0;
    while (chunk.length - offset > this.size) {
      emit(chunk.subarray(offset, offset + this.size));
      offset += this.size;
    }
    const rest = chunk.subarray(offset);
    this.held = [rest];
    this.heldBytes = rest.length;
  }

  /** The last frame (possibly empty). */
  end(): Buffer {
    const last = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    return last;
  }
}

/**
 * Encrypts a stream: writes the header, then sealed chunks. Holds at most one chunk of
 * plaintext (plus what a single write brings), so memory stays bounded.
 */
export function encryptStream(key: Buffer, keyId: string): Transform {
  checkKey(key, keyId);
  const id = keyIdBytes(keyId);
  const dataKey = randomBytes(KEY_BYTES);
  const wrapNonce = randomBytes(NONCE_BYTES);
  const wrapper = createCipheriv('aes-256-gcm', key, wrapNonce);
  wrapper.setAAD(wrapAad(id));
  const wrapped = Buffer.concat([wrapper.update(dataKey), wrapper.final()]);
  const prefix = randomBytes(PREFIX_BYTES);
  const header = Buffer.concat([wrapAad(id), wrapNonce, wrapped, wrapper.getAuthTag(), prefix]);

  const framer = new Framer(ENCRYPTION_CHUNK_BYTES);
  let counter = 0;
  let headerSent = false;

  const seal = (plaintext: Buffer, last: boolean): Buffer => {
    if (counter >= MAX_CHUNKS) throw new Error('artifact too large to encrypt (over 2^32 chunks)');
    const cipher = createCipheriv('aes-256-gcm', dataKey, chunkNonce(prefix, counter++, last));
    cipher.setAAD(header);
    const sealed = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([sealed, cipher.getAuthTag()], sealed.length + TAG_BYTES);
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        if (!headerSent) {
          this.push(header);
          headerSent = true;
        }
        framer.write(chunk, (plaintext) => this.push(seal(plaintext, false)));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        if (!headerSent) this.push(header);
        this.push(seal(framer.end(), true));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

/** The size of what encryptStream writes for `plaintextBytes` under `keyId` (a stored object's size, for checks). */
export function encryptedSizeOf(plaintextBytes: number, keyId: string): number {
  const headerBytes = FIXED_HEADER_BYTES + keyIdBytes(keyId).length + NONCE_BYTES + KEY_BYTES + TAG_BYTES + PREFIX_BYTES;
  return headerBytes + plaintextBytes + TAG_BYTES * Math.max(1, Math.ceil(plaintextBytes / ENCRYPTION_CHUNK_BYTES));
}

/** The key for a key id read from an artifact's header; throws (naming the id) when there is none. */
export type KeyResolver = (keyId: string) => Buffer | Promise<Buffer>;


/**
 * Decrypts what encryptStream wrote, verifying every chunk before passing it on; errors name
 * the key id (wrong key) or the chunk (tampered, truncated, reordered). A consumer must treat
 * what it received before an error as untrusted (a drill restores into scratch space only).
 */
export function decryptStream(resolveKey: KeyResolver, options: { artifact?: string } = {}): Transform {
  const named = (error: Error): Error => {
    if (options.artifact && !error.message.startsWith(`${options.artifact}: `)) error.message = `${options.artifact}: ${error.message}`;
    return error;
  };
  /** Bytes before the header is whole (it is small); then the framer holds them. */
  let headerBytesSeen: Buffer[] = [];
  const framer = new Framer(SEALED_CHUNK_BYTES);
  let header: Buffer | undefined;
  let keyId = '';
  let dataKey: Buffer | undefined;
  let prefix: Buffer | undefined;
  let counter = 0;

  const open = (sealed: Buffer, last: boolean): Buffer => {
    if (sealed.length < TAG_BYTES) throw new EncryptedStreamCorrupt(`truncated: chunk ${counter} has ${sealed.length} bytes, less than its tag`);
    const decipher = createDecipheriv('aes-256-gcm', dataKey!, chunkNonce(prefix!, counter, last));
    decipher.setAAD(header!);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      decipher.final(); // GCM returns nothing here; it throws when the tag does not match
      counter += 1;
      return plaintext;
    } catch {
      throw new EncryptedStreamCorrupt(
        last
          ? `the last chunk (${counter}) fails authentication: the artifact is truncated, tampered with or reordered`
          : `chunk ${counter} fails authentication: the artifact is tampered with, reordered or has chunks missing`,
      );
    }
  };

  /** Reads the header once enough bytes are in; returns false while more are needed. */
  const readHeader = async (buffered: Buffer): Promise<number | undefined> => {
    if (buffered.length < FIXED_HEADER_BYTES) return undefined;
    if (!buffered.subarray(0, MAGIC.length).equals(MAGIC)) throw new EncryptedStreamCorrupt('it does not start with the ragops encryption header (not encrypted, or encrypted by something else)');
    if (buffered[MAGIC.length] !== VERSION) throw new EncryptedStreamCorrupt(`unknown format version ${buffered[MAGIC.length]}`);
    const idLength = buffered[MAGIC.length + 1]!;
    const headerBytes = FIXED_HEADER_BYTES + idLength + NONCE_BYTES + KEY_BYTES + TAG_BYTES + PREFIX_BYTES;
    if (buffered.length < headerBytes) return undefined;
    header = Buffer.from(buffered.subarray(0, headerBytes));
    let at = FIXED_HEADER_BYTES;
    keyId = header.subarray(at, (at += idLength)).toString('utf8');
    const wrapNonce = header.subarray(at, (at += NONCE_BYTES));
    const wrapped = header.subarray(at, (at += KEY_BYTES));
    const wrapTag = header.subarray(at, (at += TAG_BYTES));
    prefix = header.subarray(at, (at += PREFIX_BYTES));
    const key = await resolveKey(keyId);
    checkKey(key, keyId);
    const unwrapper = createDecipheriv('aes-256-gcm', key, wrapNonce);
    unwrapper.setAAD(header.subarray(0, FIXED_HEADER_BYTES + idLength));
    unwrapper.setAuthTag(wrapTag);
    try {
      dataKey = Buffer.concat([unwrapper.update(wrapped), unwrapper.final()]);
    } catch {
      throw new EncryptionKeyMismatch(keyId, 'its data key does not unwrap');
    }
    return headerBytes;
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const emit = (sealed: Buffer) => this.push(open(sealed, false));
      if (dataKey) {
        try {
          framer.write(chunk, emit);
          return callback();
        } catch (error) {
          return callback(named(error as Error));
        }
      }
      headerBytesSeen.push(chunk);
      const buffered = Buffer.concat(headerBytesSeen);
      readHeader(buffered).then(
        (used) => {
          if (used === undefined) {
            headerBytesSeen = [buffered];
            return callback();
          }
          headerBytesSeen = [];
          framer.write(buffered.subarray(used), emit);
          callback();
        },
      ).catch((error: Error) => callback(named(error)));
    },
    flush(callback: TransformCallback) {
      try {
        if (!dataKey) throw new EncryptedStreamCorrupt(`truncated: it ends inside its header (${Buffer.concat(headerBytesSeen).length} bytes)`);
        this.push(open(framer.end(), true));
        callback();
      } catch (error) {
        callback(named(error as Error));
      }
    },
  });
}

/** The stack's current key (to write) and every key it can read with, by key id. */
export interface ClientSideKeys {
  keyId: string;
  key: Buffer;
  resolve: KeyResolver;
}

/** Reads the keys a stack's `encryption.clientSide` names (secret references) at call time. */
export async function loadClientSideKeys(config: ClientSideEncryption): Promise<ClientSideKeys> {
  const keys = new Map<string, Buffer>();
  for (const entry of [{ keyId: config.keyId, key: config.key }, ...(config.previousKeys ?? [])]) {
    keys.set(entry.keyId, parseEncryptionKey(await resolveSecret(entry.key), entry.keyId));
  }
  return {
    keyId: config.keyId,
    key: keys.get(config.keyId)!,
    resolve: (keyId) => {
      const key = keys.get(keyId);
      if (!key) throw new EncryptionKeyUnknown(keyId, [...keys.keys()]);
      return key;
    },
  };
}

/** What the manifest records of an artifact written through an encrypting store. */
export const artifactEncryptionOf = (keys: Pick<ClientSideKeys, 'keyId'>): ArtifactEncryption => ({ scheme: CLIENT_SIDE_SCHEME, keyId: keys.keyId });

/**
 * A store that encrypts what is put and decrypts what is read; everything else passes through.
 * Hashing outside it (putHashed, hashStored) sees plaintext, so the manifest's sha256 and size
 * are the plaintext's; the objects (and `list` sizes) are ciphertext. Errors reading an object
 * name its key; a wrong key also names the key id.
 */
export function encryptingStore(inner: ArtifactStore, keys: ClientSideKeys): ArtifactStore {
  return {
    location: inner.location,
    put(key, body, options) {
      const encrypted = encryptStream(keys.key, keys.keyId);
      // As in putHashed: the inner store may attach its reader late; its put reports the error.
      encrypted.on('error', () => undefined);
      body.on('error', (error) => encrypted.destroy(error));
      return inner.put(key, body.pipe(encrypted), options);
    },
    async get(key, options) {
      const body = await inner.get(key, options);
      const decrypted = decryptStream(keys.resolve, { artifact: key });
      body.on('error', (error) => decrypted.destroy(error));
      return body.pipe(decrypted) as Readable;
    },
    exists: (key) => inner.exists(key),
    list: (prefix, options) => inner.list(prefix, options),
    delete: (key) => inner.delete(key),
    // No localPath nor presignedGetUrl: what they give is ciphertext, which no reader of them expects.
    discardUnfinished: (key) => inner.discardUnfinished(key),
    listUnfinishedUploads: (prefix) => inner.listUnfinishedUploads(prefix),
    lastWriteOf: (upload) => inner.lastWriteOf(upload),
    abortUpload: (upload) => inner.abortUpload(upload),
    close: () => inner.close(),
  };
}

/** The store as the stack asks: encrypting when `encryption.clientSide` is set, else as is. */
export async function withClientSideEncryption(store: ArtifactStore, encryption: EncryptionConfig | undefined): Promise<{ store: ArtifactStore; encryption?: ArtifactEncryption }> {
  if (!encryption?.clientSide) return { store };
  const keys = await loadClientSideKeys(encryption.clientSide);
  return { store: encryptingStore(store, keys), encryption: artifactEncryptionOf(keys) };
}

/** S3 parameters for PutObject and CreateMultipartUpload (lib-storage's Upload `params`). */
export interface S3EncryptionParams {
  ServerSideEncryption?: 'AES256' | 'aws:kms';
  SSEKMSKeyId?: string;
  ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  ObjectLockRetainUntilDate?: Date;
}

const DAY_MS = 86_400_000;

/**
 * The upload parameters a stack's `sse` and `objectLock` ask for; `now` is the upload's time,
 * so the retention runs `days` from it. Object Lock needs a bucket created with it enabled
 * (S3 answers InvalidRequest otherwise) and a checksum on PutObject (the SDK sends CRC32).
 */
export function s3EncryptionParams(encryption: Pick<EncryptionConfig, 'sse' | 'objectLock'> | undefined, now: Date): S3EncryptionParams {
  const params: S3EncryptionParams = {};
  if (encryption?.sse) {
    params.ServerSideEncryption = encryption.sse.type;
    if (encryption.sse.type === 'aws:kms' && encryption.sse.kmsKeyId) params.SSEKMSKeyId = encryption.sse.kmsKeyId;
  }
  if (encryption?.objectLock) {
    params.ObjectLockMode = encryption.objectLock.mode;
    params.ObjectLockRetainUntilDate = new Date(now.getTime() + encryption.objectLock.days * DAY_MS);
  }
  return params;
}
