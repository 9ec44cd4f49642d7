import { access, readdir } from 'node:fs/promises';

// Which pg_dump / pg_restore to run when the worker has several client majors installed side
// by side (the image carries 15, 16 and 17 in Debian's layout). Debian's /usr/bin/pg_dump
// wrapper always runs the newest for a remote host; a pg_dump of the server's own major is
// what the server's own tools and any pg_restore of that major read back.

/** Debian's (and PGDG's) layout: the client binaries of a major in /usr/lib/postgresql/<major>/bin. */
export const PG_LIB_ROOT = '/usr/lib/postgresql';

/** The binary directory of the oldest installed major at least `wanted`; undefined when none fits (then PATH). */
export function clientBinDirFor(wanted: number, installedMajors: readonly number[], root = PG_LIB_ROOT): string | undefined {
  const fit = installedMajors.filter((major) => major >= wanted).sort((a, b) => a - b)[0];
  return fit === undefined ? undefined : `${root}/${fit}/bin`;
}

/** The majors under `root` whose bin/ holds `tool`; none when there is no such directory. */
export async function installedMajorsWith(tool: 'pg_dump' | 'pg_restore', root = PG_LIB_ROOT): Promise<number[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const majors = names.filter((name) => /^\d+$/.test(name)).map(Number);
  const present = await Promise.all(majors.map((major) => access(`${root}/${major}/bin/${tool}`).then(() => true, () => false)));
  return majors.filter((_, i) => present[i]);
}

/** The directory to run `tool` from for a server (or archive) of `major`: the configured one, else the matching installed one, else PATH. */
export async function pgBinDirFor(tool: 'pg_dump' | 'pg_restore', major: number | undefined, configured: string | undefined): Promise<string | undefined> {
  if (configured || major === undefined) return configured;
  return clientBinDirFor(major, await installedMajorsWith(tool));
}
