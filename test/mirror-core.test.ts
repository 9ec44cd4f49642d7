// The S3 mirror's bookkeeping alone: planning a backup against the previous one, and which
// stored bytes pruning may delete.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mirrorComponentSchema } from '../src/config/stacks/mirror.js';
import {
  compareMirrorRestore,
  mergeEntries,
  mirrorDrillPrefix,
  mirrorFigures,
  normalizeEtag,
  planMirror,
  planMirrorPrune,
  referencedStoreKeys,
  type MirrorEntry,
  type MirrorSourceObject,
} from '../src/core/mirror.js';

const sha = (c: string) => c.repeat(64);
const storedAtIn = (prefix: string) => (object: MirrorSourceObject) => `${prefix}${object.key}@${object.etag}`;
const entry = (key: string, etag: string, size: number, storedAt: string, digest = 'a'): MirrorEntry => ({ key, etag, size, sha256: sha(digest), storedAt });

describe('planMirror', () => {
  const previous = [
    entry('a.txt', 'e1', 10, 'b1/objects/a'),
    entry('b.txt', 'e2', 20, 'b1/objects/b'),
    entry('c.txt', 'e3', 30, 'b0/objects/c'),
    entry('gone.txt', 'e4', 40, 'b1/objects/gone'),
  ];

  test('unchanged objects are referenced where their bytes are; new, changed and resized ones are copied', () => {
    const plan = planMirror(
      [
        { key: 'c.txt', size: 30, etag: '"e3"' }, // unchanged, quoted as S3 lists it
        { key: 'a.txt', size: 10, etag: 'e1' }, // unchanged
        { key: 'b.txt', size: 20, etag: 'e2-changed' }, // changed ETag
        { key: 'new.txt', size: 5, etag: 'e5' }, // new
        { key: 'd.txt', size: 99, etag: 'e6' },
      ],
      [...previous, entry('d.txt', 'e6', 98, 'b1/objects/d')], // same ETag, other size
      storedAtIn('b2/objects/'),
    );
    assert.deepEqual(plan.reference.map((e) => [e.key, e.storedAt]), [['a.txt', 'b1/objects/a'], ['c.txt', 'b0/objects/c']]);
    assert.deepEqual(plan.copy.map((c) => [c.key, c.storedAt]), [
      ['b.txt', 'b2/objects/b.txt@e2-changed'],
      ['d.txt', 'b2/objects/d.txt@e6'],
      ['new.txt', 'b2/objects/new.txt@e5'],
    ]);
    assert.equal(plan.removed, 1, 'gone.txt is no longer in the source');
  });

  test('without a previous backup everything is copied', () => {
    const plan = planMirror([{ key: 'x', size: 1, etag: 'e' }], [], storedAtIn('p/'));
    assert.equal(plan.copy.length, 1);
    assert.equal(plan.reference.length, 0);
  });

  test('an object whose previous bytes are gone from the store is copied again', () => {
    const plan = planMirror([{ key: 'a.txt', size: 10, etag: 'e1' }, { key: 'b.txt', size: 20, etag: 'e2' }], previous, storedAtIn('b2/'), (key) => key !== 'b1/objects/b');
    assert.deepEqual(plan.reference.map((e) => e.key), ['a.txt']);
    assert.deepEqual(plan.copy.map((e) => e.key), ['b.txt']);
  });

  test('an empty ETag never matches: the object is copied', () => {
    const plan = planMirror([{ key: 'a', size: 1, etag: '' }], [entry('a', '', 1, 'old/a')], storedAtIn('new/'));
    assert.equal(plan.copy.length, 1);
  });

  test('figures count copied entries by the backup\'s own prefix', () => {
    const entries = mergeEntries([entry('z', 'e', 5, 'b2/objects/z')], [entry('a', 'e', 7, 'b1/objects/a')]);
    assert.deepEqual(entries.map((e) => e.key), ['a', 'z']);
    assert.deepEqual(mirrorFigures(entries, 'b2/objects/'), { objects: 2, copied: 1, referenced: 1, bytesCopied: 5, bytesReferenced: 7 });
  });

  test('ETags are compared without quotes', () => {
    assert.equal(normalizeEtag('"abc-2"'), 'abc-2');
    assert.equal(normalizeEtag('W/"abc"'), 'abc');
    assert.equal(normalizeEtag(undefined), '');
  });
});

describe('planMirrorPrune', () => {
  // b0 copied a, b; b1 copied b' and references a; b2 references a and b'.
  const b0 = [entry('a', 'e1', 1, 'b0/a'), entry('b', 'e2', 1, 'b0/b')];
  const b1 = [entry('a', 'e1', 1, 'b0/a'), entry('b', 'e3', 1, 'b1/b')];
  const b2 = [entry('a', 'e1', 1, 'b0/a'), entry('b', 'e3', 1, 'b1/b')];

  test('pruning the oldest deletes only what no kept backup references', () => {
    const plan = planMirrorPrune({ entries: b0, ownedKeys: ['b0/a', 'b0/b', 'b0/orphan-of-a-failed-attempt'] }, [b1, b2]);
    assert.deepEqual(plan.delete, ['b0/b', 'b0/orphan-of-a-failed-attempt']);
    assert.deepEqual(plan.stillReferenced, ['b0/a']);
  });

  test('bytes left behind by an earlier prune go when the last backup referencing them goes', () => {
    // b0 is gone but b0/a stayed for b1 and b2; pruning b1 keeps it for b2, pruning b2 (nothing kept) deletes it.
    assert.deepEqual(planMirrorPrune({ entries: b1, ownedKeys: ['b1/b'] }, [b2]), { delete: [], stillReferenced: ['b0/a', 'b1/b'] });
    assert.deepEqual(planMirrorPrune({ entries: b2, ownedKeys: [] }, []), { delete: ['b0/a', 'b1/b'], stillReferenced: [] });
  });

  test('the referenced set is the union of the kept lists', () => {
    assert.deepEqual([...referencedStoreKeys([b0, b1])].sort(), ['b0/a', 'b0/b', 'b1/b']);
  });
});

describe('mirror drill comparison and scratch prefix', () => {
  test('missing, unexpected and mismatched keys are each named', () => {
    const entries = [entry('a', 'e', 1, 's/a', 'a'), entry('b', 'e', 2, 's/b', 'b'), entry('c', 'e', 3, 's/c', 'c')];
    const result = compareMirrorRestore(entries, [
      { key: 'a', size: 1, sha256: sha('a') },
      { key: 'b', size: 2, sha256: sha('f') },
      { key: 'x', size: 1 },
    ]);
    assert.deepEqual(result, { missing: ['c'], unexpected: ['x'], mismatched: ['b'], matched: 1 });
  });

  test('the scratch prefix is ragops-owned and takes only a run tag', () => {
    assert.equal(mirrorDrillPrefix('1a2b3c4d'), 'ragops_drill_1a2b3c4d/');
    assert.throws(() => mirrorDrillPrefix('../x'), /not a run tag/);
  });
});

describe('mirror component schema', () => {
  test('a MinIO bucket with keys by reference', () => {
    const parsed = mirrorComponentSchema.parse({
      name: 'uploads',
      bucket: 'rag-docs',
      prefix: 'tenant-1/',
      endpoint: 'http://minio:9000',
      forcePathStyle: true,
      accessKeyId: { env: 'MINIO_KEY' },
      secretAccessKey: { file: '/run/secrets/minio' },
    });
    assert.equal(parsed.region, 'us-east-1');
  });

  test('strict: unknown fields, a literal secret, half a key pair and a prefix without "/" are refused', () => {
    assert.throws(() => mirrorComponentSchema.parse({ name: 'u', bucket: 'rag-docs', extra: 1 }));
    assert.throws(() => mirrorComponentSchema.parse({ name: 'u', bucket: 'rag-docs', accessKeyId: 'AKIA', secretAccessKey: { env: 'S' } }));
    assert.throws(() => mirrorComponentSchema.parse({ name: 'u', bucket: 'rag-docs', accessKeyId: { env: 'K' } }), /go together/);
    assert.throws(() => mirrorComponentSchema.parse({ name: 'u', bucket: 'rag-docs', prefix: 'docs' }));
    assert.throws(() => mirrorComponentSchema.parse({ name: 'Bad Name', bucket: 'rag-docs' }));
  });
});
