// The S3 bucket mirror's bookkeeping, pure: what a new backup copies and what it references,
// and which stored bytes a pruned backup may lose without breaking a kept one.
import { backupKeys } from './storeKeys.js';

/** One object of a mirror backup, as its entry list records it. */
export interface MirrorEntry {
  /** The object's key in the source bucket, relative to the component's prefix. */
  key: string;
  size: number;
  /** The source's ETag when it was listed, without quotes. */
  etag: string;
  /** SHA-256 of the object's bytes, taken while they were copied. */
  sha256: string;
  /** The store key where the bytes live: under this backup's prefix, or an earlier backup's. */
  storedAt: string;
}

/** One object of the source listing. */
export interface MirrorSourceObject {
  key: string;
  size: number;
  etag: string;
}

export interface MirrorCopy extends MirrorSourceObject {
  /** Where this backup stores the copy. */
  storedAt: string;
}

export interface MirrorPlan {
  /** Objects new or changed since the previous backup (or whose bytes are gone): copied, in key order. */
  copy: MirrorCopy[];
  /** Unchanged objects (same ETag and size): the previous entry, its bytes referenced where they are. */
  reference: MirrorEntry[];
  /** Keys of the previous backup that the source no longer has. */
  removed: number;
}

/** The same ETag whether a server quotes it (S3 headers, listings) or not. */
export function normalizeEtag(etag: string | undefined): string {
  return (etag ?? '').trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export const compareKeys = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A new mirror backup from the source listing and the previous backup's entries: an object
 * whose ETag and size match its previous entry is referenced (same storedAt), unless
 * `bytesAvailable` says those bytes are no longer in the store; every other object is copied
 * to `storedAtOf(object)`. Objects the previous backup had and the source lost are left out.
 */
export function planMirror(
  source: Iterable<MirrorSourceObject>,
  previous: Iterable<MirrorEntry>,
  storedAtOf: (object: MirrorSourceObject) => string,
  bytesAvailable: (storedAt: string) => boolean = () => true,
): MirrorPlan {
  const before = new Map<string, MirrorEntry>();
  for (const entry of previous) before.set(entry.key, entry);
  const copy: MirrorCopy[] = [];
  const reference: MirrorEntry[] = [];
  const seen = new Set<string>();
  for (const object of source) {
    if (seen.has(object.key)) continue;
    seen.add(object.key);
    const etag = normalizeEtag(object.etag);
    const earlier = before.get(object.key);
    if (earlier && etag !== '' && normalizeEtag(earlier.etag) === etag && earlier.size === object.size && bytesAvailable(earlier.storedAt)) {
      reference.push(earlier);
    } else {
      const current = { key: object.key, size: object.size, etag };
      copy.push({ ...current, storedAt: storedAtOf(current) });
    }
  }
  let removed = 0;
  for (const key of before.keys()) if (!seen.has(key)) removed += 1;
  copy.sort((a, b) => compareKeys(a.key, b.key));
  reference.sort((a, b) => compareKeys(a.key, b.key));
  return { copy, reference, removed };
}

/** The entry list of the new backup: copied and referenced entries together, in key order. */
export function mergeEntries(copied: Iterable<MirrorEntry>, referenced: Iterable<MirrorEntry>): MirrorEntry[] {
  return [...copied, ...referenced].sort((a, b) => compareKeys(a.key, b.key));
}

export interface MirrorFigures {
  objects: number;
  copied: number;
  referenced: number;
  bytesCopied: number;
  bytesReferenced: number;
}

/** Counts of an entry list: an entry stored under `ownPrefix` was copied by this backup. */
export function mirrorFigures(entries: Iterable<MirrorEntry>, ownPrefix: string): MirrorFigures {
  const figures: MirrorFigures = { objects: 0, copied: 0, referenced: 0, bytesCopied: 0, bytesReferenced: 0 };
  for (const entry of entries) {
    figures.objects += 1;
    if (entry.storedAt.startsWith(ownPrefix)) {
      figures.copied += 1;
      figures.bytesCopied += entry.size;
    } else {
      figures.referenced += 1;
      figures.bytesReferenced += entry.size;
    }
  }
  return figures;
}

/** Every store key the given entry lists (those of the kept backups) reference. */
export function referencedStoreKeys(entryLists: Iterable<Iterable<MirrorEntry>>): Set<string> {
  const keys = new Set<string>();
  for (const list of entryLists) for (const entry of list) keys.add(entry.storedAt);
  return keys;
}

export interface MirrorPrunePlan {
  /** Store keys no kept backup references: safe to delete. In key order. */
  delete: string[];
  /** Store keys of the pruned backup that a kept backup still references: must stay. In key order. */
  stillReferenced: string[];
}

/**
 * Which bytes pruning a backup may delete. Candidates are the objects stored under the pruned
 * backup's own prefix (`ownedKeys`, from a store listing: it also finds copies of attempts that
 * never made it into the list) and every key its entry list references — bytes of backups
 * pruned earlier that stayed only because this one referenced them. A candidate referenced by
 * any kept backup stays; the caller must pass every kept backup's list (fail closed: a list it
 * cannot read means it must not call this at all).
 */
export function planMirrorPrune(
  pruned: { entries: Iterable<MirrorEntry>; ownedKeys: Iterable<string> },
  keptEntryLists: Iterable<Iterable<MirrorEntry>>,
): MirrorPrunePlan {
  const referenced = referencedStoreKeys(keptEntryLists);
  const candidates = new Set<string>(pruned.ownedKeys);
  for (const entry of pruned.entries) candidates.add(entry.storedAt);
  const plan: MirrorPrunePlan = { delete: [], stillReferenced: [] };
  for (const key of [...candidates].sort(compareKeys)) (referenced.has(key) ? plan.stillReferenced : plan.delete).push(key);
  return plan;
}

/** The store prefix of a key: everything up to its last "/". */
export const storePrefixOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);

/** Ragops' own scratch prefix for a mirror drill: never a prefix of anyone else's objects. */
export const MIRROR_DRILL_PREFIX = 'ragops_drill_';
export function mirrorDrillPrefix(runTag: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(runTag)) throw new Error(`"${runTag}" is not a run tag (lower-case letters, digits, "-" and "_")`);
  return `${MIRROR_DRILL_PREFIX}${runTag}/`;
}

/** The store layout of a mirror component inside a backup (next to its other artifacts). */
export const mirrorKeys = { entries: backupKeys.mirrorEntries, objectsPrefix: backupKeys.mirrorObjectsPrefix };

/**
 * How a drill's restored objects compare with the entry list: keys missing or unexpected in
 * the scratch prefix, and keys whose size or SHA-256 differ.
 */
export function compareMirrorRestore(
  entries: Iterable<MirrorEntry>,
  restored: Iterable<{ key: string; size: number; sha256?: string }>,
): { missing: string[]; unexpected: string[]; mismatched: string[]; matched: number } {
  const expected = new Map<string, MirrorEntry>();
  for (const entry of entries) expected.set(entry.key, entry);
  const found = new Set<string>();
  const result = { missing: [] as string[], unexpected: [] as string[], mismatched: [] as string[], matched: 0 };
  for (const object of restored) {
    found.add(object.key);
    const entry = expected.get(object.key);
    if (!entry) result.unexpected.push(object.key);
    else if (entry.size !== object.size || (object.sha256 !== undefined && object.sha256 !== entry.sha256)) result.mismatched.push(object.key);
    else result.matched += 1;
  }
  for (const key of expected.keys()) if (!found.has(key)) result.missing.push(key);
  result.missing.sort(compareKeys);
  result.unexpected.sort(compareKeys);
  result.mismatched.sort(compareKeys);
  return result;
}
