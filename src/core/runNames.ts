import { compactStamp } from './format.js';

// Everything a run creates is named after the run, so that cleanup — and only cleanup —
// can recognise it. The generators and the patterns that guard drops live together here:
// one is the other's safety net.

/** Eight lower-case letters or digits that tell one execution from every other. */
export const RUN_TAG = /^[a-z0-9]{8}$/;

export type OwnedDatabaseKind = 'drill' | 'restore' | 'old';

/** Databases ragops itself creates; only these may be dropped without the operator saying so. */
export const OWNED_DATABASE = /^ragops_(drill|restore|old)_[a-z0-9]{8}_[a-z0-9_]+$/;
/** Scratch collections of drills; only these are deleted without the operator asking. */
export const OWNED_COLLECTION = /^ragops_drill_[a-z0-9]{8}_[A-Za-z0-9_-]+$/;

function checkTag(tag: string): string {
  if (!RUN_TAG.test(tag)) throw new Error(`"${tag}" is not a run tag (8 lower-case letters or digits)`);
  return tag;
}

/** ragops_<kind>_<tag>_<label>, within PostgreSQL's 63-character limit. */
export function ownedDatabaseName(kind: OwnedDatabaseKind, tag: string, label: string): string {
  return `ragops_${kind}_${checkTag(tag)}_${label.replace(/-/g, '_')}`.slice(0, 63);
}

export function ownedCollectionName(tag: string, collection: string, suffix: string): string {
  return `ragops_drill_${checkTag(tag)}_${collection}_${suffix}`.slice(0, 255);
}

export const isOwnedDatabase = (name: string): boolean => OWNED_DATABASE.test(name);
export const isOwnedCollection = (name: string): boolean => OWNED_COLLECTION.test(name);

/** A sortable backup id: when the backup started, and the tag of the execution that made it. */
export function backupIdOf(startedAt: Date, tag: string): string {
  return `${compactStamp(startedAt)}-${checkTag(tag)}`;
}

/** Stands for the collection an alias pointed at when an earlier attempt switched it and nobody can tell any more. */
export const PREVIOUS_COLLECTION_UNKNOWN = '(switched by an earlier attempt)';

/** A physical drill's scratch data directory (in the temp dir): ragops-pitr-<tag>-<label>. */
export const OWNED_PITR_DIR = /^ragops-pitr-([a-z0-9]{8})-[A-Za-z0-9_-]+$/;

export function pitrScratchDirName(tag: string, label: string): string {
  return `ragops-pitr-${checkTag(tag)}-${label}`;
}
