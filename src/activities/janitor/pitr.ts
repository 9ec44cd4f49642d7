import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { argvMentionsDir, orphanPitrDirs, PGBACKREST_CONFIG_DIR, pitrDirParts, postmasterPidOf } from '../../core/janitor.js';
import { OWNED_PITR_DIR } from '../../core/runNames.js';
import { asOsUser } from '../pgbackrest/commands.js';
import { pgCtlStopCommand, serverBinDir } from '../pgbackrest/serverCommands.js';
import { runCommand, type CommandSpec } from '../runtime/exec.js';
import { findProcesses, isAlive, killProcesses, processWorksIn, waitForExit } from '../runtime/processes.js';

// What a crashed physical drill leaves on the worker's host: its scratch data directory
// (ragops-pitr-<tag>-<label>, maybe with its server still running) and the per-call
// pgBackRest config dirs (ragops-pgbackrest-*), which hold the repository's secrets.

/** A config dir younger than this may be in use between two pgBackRest calls of a live run. */
const CONFIG_DIR_MIN_AGE_MS = 10 * 60_000;

export interface PitrLeftovers {
  scratchDirs: string[];
  configDirs: string[];
}

export interface PitrSweep {
  removedPitrDirs: string[];
  /** Scratch directories whose server was still running and was stopped first. */
  stoppedScratchServers: string[];
  removedPgbackrestConfigs: string[];
  notes: string[];
}

export interface RunningScratch {
  tags: ReadonlySet<string>;
  runs: number;
}

/** The leftovers in `roots` (the temp dir, drill.tempDir); `only` narrows by full path. */
export async function listPitrLeftovers(roots: string[], only: (path: string) => boolean = () => true): Promise<PitrLeftovers> {
  const found: PitrLeftovers = { scratchDirs: [], configDirs: [] };
  for (const root of roots) {
    const names = await readdir(root).catch(() => [] as string[]);
    found.scratchDirs.push(...names.filter((name) => OWNED_PITR_DIR.test(name)).map((name) => join(root, name)).filter(only));
    found.configDirs.push(...names.filter((name) => PGBACKREST_CONFIG_DIR.test(name)).map((name) => join(root, name)).filter(only));
  }
  return found;
}

export const ownerNameCommand = (uid: number): CommandSpec => ({ argv: ['id', '-nu', String(uid)], purpose: `look up the OS user of uid ${uid}` });

interface Owner {
  uid: number;
  /** Undefined when the uid has no name; then nothing runs as it. */
  name?: string;
}

const workerUid = () => process.getuid?.();

async function ownerOf(path: string): Promise<Owner> {
  const { uid } = await stat(path);
  const name = await runCommand(ownerNameCommand(uid), { timeoutMs: 10_000 }).then(({ stdout }) => stdout.trim() || undefined, () => undefined);
  return { uid, name };
}

/** `spec` as the owner of the files it works on, when that is not the worker. */
function asOwner(spec: CommandSpec, owner: Owner): CommandSpec | undefined {
  if (owner.uid === workerUid()) return spec;
  if (!owner.name) return undefined;
  return asOsUser(spec, owner.name, workerUid() === 0 ? 'runuser' : 'sudo');
}

/** Reads a small file, as its directory's owner when the worker may not (a 0700 data directory). */
async function readAs(file: string, owner: Owner): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const cat = asOwner({ argv: ['cat', '--', file], purpose: `read ${file}` }, owner);
    if (!cat || owner.uid === workerUid()) throw error;
    return (await runCommand(cat, { timeoutMs: 10_000 })).stdout;
  }
}

async function removeAs(dir: string, owner: Owner): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (error) {
    const remove = asOwner({ argv: ['rm', '-rf', '--', dir], purpose: `remove ${dir}` }, owner);
    if (!remove || owner.uid === workerUid()) throw error;
    await runCommand(remove, { timeoutMs: 120_000 });
  }
}

/**
 * The pid of the server running in `dir`, if one is. A postmaster.pid outlives a killed
 * server and its pid may since belong to another process: only a process started on this
 * data directory (its argv, or its working directory, which the postmaster sets to it) counts.
 */
async function liveServerIn(dir: string, owner: Owner): Promise<number | undefined> {
  const pidFile = await readAs(join(dir, 'postmaster.pid'), owner);
  const pid = pidFile === undefined ? undefined : postmasterPidOf(pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const works = await processWorksIn(pid, dir);
  if (works === undefined) throw new Error(`postmaster.pid names pid ${pid}, which runs, and /proc does not say whether it is this directory's server`);
  if (works) return pid;
  return undefined;
}

/** pg_ctl stop -m immediate as the data directory's owner (its data is thrown away); SIGKILL of the postmaster when that fails. */
async function stopServer(dataDir: string, pid: number, owner: Owner, binDir: string | undefined): Promise<{ how: 'pg_ctl' | 'SIGKILL'; why?: string }> {
  let why: string;
  try {
    const version = (await readAs(join(dataDir, 'PG_VERSION'), owner))?.trim() ?? '';
    const spec = asOwner(pgCtlStopCommand(serverBinDir(version, binDir), dataDir, 'immediate'), owner);
    if (!spec) throw new Error(`the data directory's owner (uid ${owner.uid}) has no user name to run pg_ctl as`);
    await runCommand(spec, { timeoutMs: 150_000 });
    await waitForExit([pid], AbortSignal.timeout(30_000), 200);
    return { how: 'pg_ctl' };
  } catch (error) {
    why = (error as Error).message;
  }
  await killProcesses([pid]);
  return { how: 'SIGKILL', why };
}

/** The data directory in a scratch dir: `<dir>/data` as drills lay it out (socket and log beside it), or the dir itself. */
async function dataDirOf(dir: string): Promise<string> {
  return (await stat(join(dir, 'data')).then((info) => info.isDirectory(), () => false)) ? join(dir, 'data') : dir;
}

/**
 * Stops and removes the scratch data directories of drills no longer running, then the
 * config dirs no process uses. What cannot be read or stopped is kept, with a note.
 */
export async function sweepPitrLeftovers(found: PitrLeftovers, running: RunningScratch, binDirOf: (label: string) => string | undefined = () => undefined): Promise<PitrSweep> {
  const sweep: PitrSweep = { removedPitrDirs: [], stoppedScratchServers: [], removedPgbackrestConfigs: [], notes: [] };
  const orphans = new Set(orphanPitrDirs(found.scratchDirs.map((dir) => dir.split('/').pop()!), running.tags));
  for (const dir of found.scratchDirs.filter((path) => orphans.has(path.split('/').pop()!))) {
    try {
      const dataDir = await dataDirOf(dir);
      const dataOwner = await ownerOf(dataDir);
      const pid = await liveServerIn(dataDir, dataOwner);
      if (pid !== undefined) {
        const stopped = await stopServer(dataDir, pid, dataOwner, binDirOf(pitrDirParts(dir.split('/').pop()!)!.label));
        sweep.stoppedScratchServers.push(dir);
        if (stopped.how === 'SIGKILL') sweep.notes.push(`the scratch server in ${dataDir} (pid ${pid}) was killed: pg_ctl stop failed: ${stopped.why}`);
      }
      // E.g. a `pgbackrest restore` into the directory that outlived its killed worker.
      const stragglers = await findProcesses((argv) => argvMentionsDir(argv, dir));
      if (stragglers.length > 0) {
        await killProcesses(stragglers.map((straggler) => straggler.pid));
        sweep.notes.push(`killed what still worked in ${dir}: ${stragglers.map((straggler) => `${straggler.argv[0]} (pid ${straggler.pid})`).join(', ')}`);
      }
      if (dataDir !== dir) await removeAs(dataDir, dataOwner);
      await removeAs(dir, await ownerOf(dir));
      sweep.removedPitrDirs.push(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      sweep.notes.push(`kept ${dir}: ${(error as Error).message}`);
    }
  }

  if (found.configDirs.length === 0) return sweep;
  if (running.runs > 0) {
    // A drill's scratch server recovers through restore_command, which names the config, yet no process shows it between two WAL fetches.
    sweep.notes.push(`${found.configDirs.length} pgBackRest config dir(s) kept: ${running.runs} drill or restore run(s) are running`);
    return sweep;
  }
  const users = await findProcesses((argv) => found.configDirs.some((dir) => argvMentionsDir(argv, dir)));
  for (const dir of found.configDirs) {
    if (users.some((user) => argvMentionsDir(user.argv, dir))) continue;
    try {
      if (Date.now() - (await stat(dir)).mtimeMs < CONFIG_DIR_MIN_AGE_MS) continue;
      await removeAs(dir, await ownerOf(dir));
      sweep.removedPgbackrestConfigs.push(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') sweep.notes.push(`kept ${dir}: ${(error as Error).message}`);
    }
  }
  return sweep;
}
