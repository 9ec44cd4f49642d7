import { OWNED_COLLECTION, OWNED_DATABASE } from './runNames.js';

/**
 * The run tag in the name of a scratch target ragops may sweep: drill databases and
 * collections and restore staging databases. Never `ragops_old_*`: that is an original
 * database a restore renamed aside, and may be the only copy of production.
 */
export function sweepableRunTag(name: string): string | undefined {
  if (!OWNED_DATABASE.test(name) && !OWNED_COLLECTION.test(name)) return undefined;
  return /^ragops_(?:drill|restore)_([a-z0-9]{8})_/.exec(name)?.[1];
}

/** Scratch targets whose run is not running: listed before the running runs, so none is new. */
export function orphansAmong(names: string[], runningTags: ReadonlySet<string>): string[] {
  return names.filter((name) => {
    const tag = sweepableRunTag(name);
    return tag !== undefined && !runningTags.has(tag);
  });
}

/** Aside-renamed originals a crashed restore left: kept, reported for an operator. */
export const isAsideOriginal = (name: string): boolean => OWNED_DATABASE.test(name) && name.startsWith('ragops_old_');
