// Client-side encryption of artifacts (chunked AES-256-GCM streams), the encrypting store, and
// the S3 server-side encryption / Object Lock upload parameters.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { encryptionSchema } from '../src/config/stacks/encryption.js';
import {
  ENCRYPTION_CHUNK_BYTES,
  encryptedSizeOf,
  decryptStream,
  encryptStream,
  encryptingStore,
  loadClientSideKeys,
  parseEncryptionKey,
  s3EncryptionParams,
  withClientSideEncryption,
} from '../src/activities/store/encryption.js';
import { FsStore } from '../src/activities/store/fs.js';
import { S3Store } from '../src/activities/store/s3.js';
import { hashStored, putHashed } from '../src/activities/store/hashing.js';
import { startMoto, type TestMoto } from './support/moto.js';
import { tempDir } from './support/ragops.js';

const KEY = randomBytes(32);
const KEY_ID = 'stack-key-2026';
const SEALED = ENCRYPTION_CHUNK_BYTES + 16;

/** Feeds `data` in pieces of `piece` bytes, so chunk boundaries never line up with writes. */
function source(data: Buffer, piece = 10_007): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) return this.push(null);
      this.push(data.subarray(offset, offset + piece));
      offset += piece;
    },
  });
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

const encrypt = (plaintext: Buffer, key = KEY, keyId = KEY_ID) => collect(source(plaintext).pipe(encryptStream(key, keyId)));
async function decrypt(ciphertext: Buffer, key = KEY): Promise<Buffer> {
  const out = decryptStream(() => key);
  const input = source(ciphertext, 65_000);
  input.pipe(out);
  return collect(out);
}

function headerLength(ciphertext: Buffer): number {
  return 8 + 2 + ciphertext[9]! + 12 + 32 + 16 + 7;
}

describe('chunked AES-256-GCM streams', () => {
  for (const size of [0, 1, ENCRYPTION_CHUNK_BYTES, ENCRYPTION_CHUNK_BYTES + 1, 10 * 1024 * 1024]) {
    test(`round trip of ${size} bytes`, async () => {
      const plaintext = randomBytes(size);
      const ciphertext = await encrypt(plaintext);
      const chunks = Math.max(1, Math.ceil(size / ENCRYPTION_CHUNK_BYTES));
      assert.equal(ciphertext.length, headerLength(ciphertext) + size + 16 * chunks);
      assert.equal(ciphertext.length, encryptedSizeOf(size, KEY_ID));
      assert.ok((await decrypt(ciphertext)).equals(plaintext));
    });
  }

  test('writes of any size, around chunk boundaries, come back the same', async () => {
    let seed = 7;
    const next = (limit: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % limit;
    const sizes = [ENCRYPTION_CHUNK_BYTES - 1, 2 * ENCRYPTION_CHUNK_BYTES, 3 * ENCRYPTION_CHUNK_BYTES + 17];
    for (const size of sizes) {
      const plaintext = randomBytes(size);
      const pieces: Buffer[] = [];
      for (let at = 0; at < size; ) {
        const length = [0, 1, ENCRYPTION_CHUNK_BYTES, ENCRYPTION_CHUNK_BYTES + 16, next(3 * ENCRYPTION_CHUNK_BYTES)][next(5)]!;
        pieces.push(plaintext.subarray(at, at + length));
        at += length;
      }
      const ciphertext = await collect(Readable.from(pieces, { objectMode: false }).pipe(encryptStream(KEY, KEY_ID)));
      const cut: Buffer[] = [];
      for (let at = 0; at < ciphertext.length; ) {
        const length = [1, 16, ENCRYPTION_CHUNK_BYTES + 16, next(3 * ENCRYPTION_CHUNK_BYTES)][next(4)]!;
        cut.push(ciphertext.subarray(at, at + length));
        at += length;
      }
      const out = decryptStream(() => KEY);
      Readable.from(cut, { objectMode: false }).pipe(out);
      assert.ok((await collect(out)).equals(plaintext), `size ${size}`);
    }
  });

  test('the ciphertext does not contain a plaintext marker, and two encryptions differ', async () => {
    const marker = Buffer.from('PLAINTEXT-MARKER-ragops-7f3a');
    const plaintext = Buffer.concat(Array.from({ length: 5_000 }, (_, i) => Buffer.concat([marker, Buffer.from(` row ${i}\n`)])));
    const first = await encrypt(plaintext);
    const second = await encrypt(plaintext);
    assert.equal(first.indexOf(marker), -1);
    assert.equal(first.indexOf(Buffer.from('PLAINTEXT')), -1);
    assert.ok(!first.subarray(200).equals(second.subarray(200)));
  });

  test('a wrong key fails naming the key id', async () => {
    const ciphertext = await encrypt(randomBytes(1000));
    await assert.rejects(decrypt(ciphertext, randomBytes(32)), (error: Error) => {
      assert.equal(error.name, 'EncryptionKeyMismatch');
      assert.match(error.message, /key "stack-key-2026" cannot decrypt/);
      return true;
    });
  });

  test('an artifact named by the caller appears in the error', async () => {
    const ciphertext = await encrypt(randomBytes(10));
    const out = decryptStream(() => randomBytes(32), { artifact: 'prod/b1/app.sqlite' });
    source(ciphertext).pipe(out);
    await assert.rejects(collect(out), /^EncryptionKeyMismatch: prod\/b1\/app\.sqlite: the key "stack-key-2026"/);
  });

  describe('tampering is detected', () => {
    const plaintext = randomBytes(4 * ENCRYPTION_CHUNK_BYTES + 100); // 5 chunks
    let ciphertext: Buffer;
    let start: number;
    before(async () => {
      ciphertext = await encrypt(plaintext);
      start = headerLength(ciphertext);
    });
    const chunkAt = (index: number) => ciphertext.subarray(start + index * SEALED, start + (index + 1) * SEALED);

    test('a flipped byte in a chunk', async () => {
      const tampered = Buffer.from(ciphertext);
      tampered[start + SEALED + 500]! ^= 0x01;
      await assert.rejects(decrypt(tampered), /chunk 1 fails authentication/);
    });
    test('a flipped byte in the header', async () => {
      const tampered = Buffer.from(ciphertext);
      tampered[start - 1]! ^= 0x80; // the nonce prefix
      await assert.rejects(decrypt(tampered), /chunk 0 fails authentication/);
    });
    test('a stream cut at a chunk boundary, and inside a chunk', async () => {
      await assert.rejects(decrypt(ciphertext.subarray(0, start + 3 * SEALED)), /last chunk \(2\).*truncated/);
      await assert.rejects(decrypt(ciphertext.subarray(0, ciphertext.length - 1)), /last chunk \(4\) fails authentication/);
      await assert.rejects(decrypt(ciphertext.subarray(0, 20)), /ends inside its header/);
    });
    test('a dropped chunk', async () => {
      const dropped = Buffer.concat([ciphertext.subarray(0, start), chunkAt(0), chunkAt(2), chunkAt(3), ciphertext.subarray(start + 4 * SEALED)]);
      await assert.rejects(decrypt(dropped), /chunk 1 fails authentication/);
    });
    test('swapped chunks', async () => {
      const swapped = Buffer.concat([ciphertext.subarray(0, start), chunkAt(0), chunkAt(2), chunkAt(1), chunkAt(3), ciphertext.subarray(start + 4 * SEALED)]);
      await assert.rejects(decrypt(swapped), /chunk 1 fails authentication/);
    });
    test('not an encrypted artifact at all', async () => {
      await assert.rejects(decrypt(plaintext), /does not start with the ragops encryption header/);
    });
  });

  test('memory stays bounded: 200 MiB through encrypt → decrypt', async () => {
    const block = randomBytes(1024 * 1024);
    const total = 200;
    let sent = 0;
    const input = new Readable({
      read() {
        if (sent === total) return this.push(null);
        block.writeUInt32BE(sent++, 0);
        this.push(Buffer.from(block));
      },
    });
    const expected = createHash('sha256');
    input.on('data', (part: Buffer) => expected.update(part));
    const got = createHash('sha256');
    let bytes = 0;
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    try {
      await pipeline(
        input,
        encryptStream(KEY, KEY_ID),
        decryptStream(() => KEY),
        new Writable({
          write(part: Buffer, _encoding, callback) {
            got.update(part);
            bytes += part.length;
            rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
            callback();
          },
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    assert.equal(bytes, total * 1024 * 1024);
    assert.equal(got.digest('hex'), expected.digest('hex'));
    const growthMiB = (rssPeak - rssBefore) / 1024 / 1024;
    console.log(`  200 MiB encrypt→decrypt: RSS growth ${growthMiB.toFixed(1)} MiB`);
    assert.ok(growthMiB < 64, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
  });
});

describe('keys and the encrypting store', () => {
  test('keys are 32 bytes in base64 or hex', () => {
    const key = randomBytes(32);
    assert.ok(parseEncryptionKey(key.toString('base64'), 'k').equals(key));
    assert.ok(parseEncryptionKey(`${key.toString('hex')}\n`, 'k').equals(key));
    assert.ok(parseEncryptionKey(key.toString('base64url'), 'k').equals(key));
    assert.throws(() => parseEncryptionKey(randomBytes(16).toString('base64'), 'short-key'), /key id "short-key" must be 32 bytes/);
    assert.throws(() => parseEncryptionKey('not a key', 'k'), /must be 32 bytes/);
  });

  test('a stored artifact is ciphertext; sha256 and size are the plaintext\'s; a wrong key names the key id and the object', async () => {
    const dir = await tempDir('encryption-store');
    const saved = { ...process.env };
    try {
      process.env.TEST_ENC_KEY = KEY.toString('base64');
      process.env.TEST_ENC_OLD_KEY = randomBytes(32).toString('hex');
      process.env.TEST_ENC_WRONG_KEY = randomBytes(32).toString('base64');
      const config = encryptionSchema.parse({ clientSide: { keyId: KEY_ID, key: { env: 'TEST_ENC_KEY' }, previousKeys: [{ keyId: 'old', key: { env: 'TEST_ENC_OLD_KEY' } }] } });
      const fs = new FsStore(dir.path);
      const { store, encryption } = await withClientSideEncryption(fs, config);
      assert.deepEqual(encryption, { scheme: 'ragops-aes-256-gcm-stream-v1', keyId: KEY_ID });
      const plaintext = Buffer.concat([Buffer.from('SECRET-MARKER '), randomBytes(300_000)]);
      const stored = await putHashed(store, 'b1/app.bin', source(plaintext));
      assert.equal(stored.size, plaintext.length);
      assert.equal(stored.sha256, createHash('sha256').update(plaintext).digest('hex'));
      const raw = await collect(await fs.get('b1/app.bin'));
      assert.equal(raw.indexOf(Buffer.from('SECRET-MARKER')), -1);
      assert.deepEqual(await hashStored(store, 'b1/app.bin'), stored);

      const wrong = encryptingStore(fs, await loadClientSideKeys(encryptionSchema.parse({ clientSide: { keyId: KEY_ID, key: { env: 'TEST_ENC_WRONG_KEY' } } }).clientSide!));
      await assert.rejects(hashStored(wrong, 'b1/app.bin'), /b1\/app\.bin: the key "stack-key-2026" cannot decrypt/);
      const rotated = encryptingStore(fs, await loadClientSideKeys(encryptionSchema.parse({ clientSide: { keyId: 'new', key: { env: 'TEST_ENC_WRONG_KEY' } } }).clientSide!));
      await assert.rejects(hashStored(rotated, 'b1/app.bin'), /b1\/app\.bin: the artifact was encrypted with key id "stack-key-2026", which the stack does not have/);
      const previous = encryptingStore(fs, await loadClientSideKeys(encryptionSchema.parse({ clientSide: { keyId: 'new', key: { env: 'TEST_ENC_WRONG_KEY' }, previousKeys: [{ keyId: KEY_ID, key: { env: 'TEST_ENC_KEY' } }] } }).clientSide!));
      assert.deepEqual(await hashStored(previous, 'b1/app.bin'), stored);
    } finally {
      process.env = saved;
      await dir.remove();
    }
  });

  test('a failed source leaves no object behind', async () => {
    const dir = await tempDir('encryption-abort');
    try {
      const fs = new FsStore(dir.path);
      const store = encryptingStore(fs, { keyId: KEY_ID, key: KEY, resolve: () => KEY });
      const failing = new Readable({ read() {} });
      failing.push(randomBytes(200_000));
      setTimeout(() => failing.destroy(new Error('producer died')), 50);
      await assert.rejects(putHashed(store, 'b1/x.bin', failing), /producer died/);
      assert.equal(await fs.exists('b1/x.bin'), false);
      assert.deepEqual(await fs.listUnfinishedUploads(''), []);
    } finally {
      await dir.remove();
    }
  });
});

describe('S3 server-side encryption and Object Lock parameters', () => {
  const now = new Date('2026-12-06T10:00:00Z');

  test('the parameter builder', () => {
    assert.deepEqual(s3EncryptionParams(undefined, now), {});
    assert.deepEqual(s3EncryptionParams({}, now), {});
    assert.deepEqual(s3EncryptionParams(encryptionSchema.parse({ sse: { type: 'AES256' } }), now), { ServerSideEncryption: 'AES256' });
    assert.deepEqual(s3EncryptionParams(encryptionSchema.parse({ sse: { type: 'aws:kms', kmsKeyId: 'alias/ragops' } }), now), {
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/ragops',
    });
    assert.deepEqual(s3EncryptionParams(encryptionSchema.parse({ sse: { type: 'aws:kms' } }), now), { ServerSideEncryption: 'aws:kms' });
    assert.deepEqual(s3EncryptionParams(encryptionSchema.parse({ sse: { type: 'aws:kms', kmsKeyId: 'k1' }, objectLock: { mode: 'COMPLIANCE', days: 30 } }), now), {
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'k1',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date('2027-01-05T10:00:00Z'),
    });
  });

  test('the schema refuses what it cannot do', () => {
    assert.throws(() => encryptionSchema.parse({ sse: { type: 'aws:kms', kmsKeyId: 'k', extra: 1 } }));
    assert.throws(() => encryptionSchema.parse({ objectLock: { mode: 'LEGAL', days: 1 } }));
    assert.throws(() => encryptionSchema.parse({ clientSide: { keyId: 'a b', key: { env: 'K' } } }), /key id/);
    assert.throws(() => encryptionSchema.parse({ clientSide: { keyId: 'k', key: 'inline-key' } }));
    assert.throws(() => encryptionSchema.parse({ clientSide: { keyId: 'k', key: { env: 'K' }, previousKeys: [{ keyId: 'k', key: { env: 'J' } }] } }), /duplicate key id/);
  });

  describe('against moto', () => {
    let moto: TestMoto;
    before(async () => {
      moto = await startMoto();
      await moto.createBucket('ragops-sse');
    });
    after(async () => {
      await moto?.stop();
    });

    test('SSE-KMS parameters reach S3 and show in HeadObject', async () => {
      const params = s3EncryptionParams(encryptionSchema.parse({ sse: { type: 'aws:kms', kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/ragops-test' } }), new Date());
      await moto.s3.send(new PutObjectCommand({ Bucket: 'ragops-sse', Key: 'b1/app.bin', Body: 'x'.repeat(1000), ...params }));
      const head = await moto.s3.send(new HeadObjectCommand({ Bucket: 'ragops-sse', Key: 'b1/app.bin' }));
      assert.equal(head.ServerSideEncryption, 'aws:kms');
      assert.equal(head.SSEKMSKeyId, 'arn:aws:kms:us-east-1:123456789012:key/ragops-test');
      const sse = s3EncryptionParams(encryptionSchema.parse({ sse: { type: 'AES256' } }), new Date());
      await moto.s3.send(new PutObjectCommand({ Bucket: 'ragops-sse', Key: 'b1/s3.bin', Body: 'y', ...sse }));
      assert.equal((await moto.s3.send(new HeadObjectCommand({ Bucket: 'ragops-sse', Key: 'b1/s3.bin' }))).ServerSideEncryption, 'AES256');
    });

    // moto keeps no lock headers of CreateMultipartUpload (real S3 does), so only a single-part put is checked here.
    test('the S3 store puts with Object Lock retention on a bucket created with it: mode and retain-until show in HeadObject', async () => {
      await moto.s3.send(new CreateBucketCommand({ Bucket: 'ragops-locked', ObjectLockEnabledForBucket: true }));
      const store = new S3Store(
        {
          type: 's3',
          bucket: 'ragops-locked',
          prefix: 'backups/',
          endpoint: moto.endpoint,
          region: moto.region,
          forcePathStyle: true,
          partSizeMiB: 5,
          uploadConcurrency: 1,
          encryption: encryptionSchema.parse({ sse: { type: 'AES256' }, objectLock: { mode: 'GOVERNANCE', days: 2 } }),
        },
        { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
      );
      try {
        const before = Date.now();
        for (const [key, size] of [['b1/small.bin', 1_000]] as const) {
          await store.put(key, Readable.from([Buffer.alloc(size, 7)]));
          const head = await moto.s3.send(new HeadObjectCommand({ Bucket: 'ragops-locked', Key: `backups/${key}` }));
          assert.equal(head.ObjectLockMode, 'GOVERNANCE', key);
          assert.equal(head.ServerSideEncryption, 'AES256', key);
          const until = head.ObjectLockRetainUntilDate!.getTime();
          assert.ok(until >= before + 2 * 86_400_000 - 5_000 && until <= Date.now() + 2 * 86_400_000 + 5_000, `${key}: retain until ${head.ObjectLockRetainUntilDate?.toISOString()}`);
        }
      } finally {
        store.close();
      }
    });
  });
});
