import type { PgbackrestRepository, StoreConfig } from '../../config/stacks/index.js';
import { runCommand, type CommandSpec, type RunOptions } from '../runtime/exec.js';
import { asOsUser, infoCommand, type PgbackrestInvocation } from './commands.js';
import { renderPgbackrestConfig, repositoryOf, type PhysicalPostgresTarget } from './config.js';
import { resolvePgbackrestSecrets, writePgbackrestConfig } from './configFile.js';
import { parsePgbackrestInfo } from './info.js';
import type { PgbackrestStanzaInfo } from '../../core/pgbackrest.js';

/** One run's access to a stanza: its rendered config (secrets inside, mode 0600) and a runner as the cluster's OS user. */
export interface PgbackrestSession {
  target: PhysicalPostgresTarget;
  invocation: PgbackrestInvocation;
  repository: PgbackrestRepository;
  /** The OS user commands run as, with its ids (undefined: the worker's own). */
  osUser?: { name: string; uid: number; gid: number };
  /** Runs a command (pgBackRest, pg_ctl) as the cluster's OS user. */
  run(spec: CommandSpec, options?: RunOptions): Promise<{ stdout: string; stderr: string }>;
  /** The wrapped argv, for commands started another way. */
  asClusterUser(spec: CommandSpec): CommandSpec;
  info(signal?: AbortSignal): Promise<PgbackrestStanzaInfo>;
}

/** "posix /srv/backups/_pgbackrest" or "s3 bucket/prefix": where the repository is, without secrets. */
export function describeRepository(repository: PgbackrestRepository): string {
  return repository.type === 'posix' ? `posix ${repository.path}` : `s3 ${repository.bucket}/${repository.prefix}`;
}

async function osUserOf(name: string): Promise<{ name: string; uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    runCommand({ argv: ['id', '-u', name], purpose: `look up OS user ${name}` }),
    runCommand({ argv: ['id', '-g', name], purpose: `look up OS user ${name}` }),
  ]);
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Runs commands (pgBackRest, pg_ctl) as the cluster's OS user: a session's runner, and a drill cluster's teardown's. */
export async function clusterUserRunner(osUserName: string | undefined): Promise<Pick<PgbackrestSession, 'run' | 'osUser' | 'asClusterUser'>> {
  const osUser = osUserName ? await osUserOf(osUserName) : undefined;
  const via = process.getuid?.() === 0 ? 'runuser' : 'sudo';
  const asClusterUser = (spec: CommandSpec) => (osUser && osUser.uid !== process.getuid?.() ? asOsUser(spec, osUser.name, via) : spec);
  return { osUser, asClusterUser, run: (spec, runOptions = {}) => runCommand(asClusterUser(spec), runOptions) };
}

/**
 * Renders the stanza's config for this call (secrets resolved now, written only into the
 * file), runs `use`, and removes the config afterwards whatever happens: a drill's server
 * recovers inside `use`, since its restore_command names this file.
 */
export async function withPgbackrest<T>(target: PhysicalPostgresTarget, store: StoreConfig, use: (session: PgbackrestSession) => Promise<T>): Promise<T> {
  const repository = repositoryOf(target.physical, store, process.cwd());
  const { osUser, run, asClusterUser } = await clusterUserRunner(target.physical.osUser);
  const written = await writePgbackrestConfig(renderPgbackrestConfig(target, repository, await resolvePgbackrestSecrets(target.physical, repository)), {
    ...(osUser && osUser.uid !== process.getuid?.() ? { owner: { uid: osUser.uid, gid: osUser.gid } } : {}),
  });
  const invocation: PgbackrestInvocation = { configFile: written.file, stanza: target.physical.stanza };
  const session: PgbackrestSession = {
    target,
    invocation,
    repository,
    osUser,
    run,
    asClusterUser,
    info: async (signal) => parsePgbackrestInfo((await run(infoCommand(invocation), { signal, timeoutMs: 120_000 })).stdout, invocation.stanza),
  };
  try {
    return await use(session);
  } finally {
    await written.remove();
  }
}
