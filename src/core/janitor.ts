import { OWNED_COLLECTION, OWNED_DATABASE, OWNED_PITR_DIR } from './runNames.js';

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

/** A physical drill's scratch data directory name: its run tag and the target's label. */
export function pitrDirParts(name: string): { tag: string; label: string } | undefined {
  const tag = OWNED_PITR_DIR.exec(name)?.[1];
  return tag === undefined ? undefined : { tag, label: name.slice(`ragops-pitr-${tag}-`.length) };
}

/** Scratch data directories whose drill is not running: listed before the running runs, so none is new. */
export function orphanPitrDirs(names: string[], runningTags: ReadonlySet<string>): string[] {
  return names.filter((name) => {
    const parts = pitrDirParts(name);
    return parts !== undefined && !runningTags.has(parts.tag);
  });
}

/** The directory of one call's rendered pgbackrest.conf (mkdtemp's six characters), which holds repository secrets. */
export const PGBACKREST_CONFIG_DIR = /^ragops-pgbackrest-[A-Za-z0-9]{6}$/;

/** Whether a process's argv names anything inside `dir`, e.g. `--config=<dir>/pgbackrest.conf` or a shell line that does. */
export const argvMentionsDir = (argv: readonly string[], dir: string): boolean => argv.some((arg) => arg.includes(`${dir}/`));

/** The postmaster's pid: the first line of postmaster.pid; undefined when it holds none. */
export function postmasterPidOf(pidFile: string): number | undefined {
  const first = pidFile.split('\n', 1)[0]!.trim();
  return /^[1-9][0-9]{0,9}$/.test(first) ? Number(first) : undefined;
}
