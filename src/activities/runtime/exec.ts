import { execa, type ResultPromise } from 'execa';
import type { Readable } from 'node:stream';

/** An outside command as data: built by a pure function, run only here. */
export interface CommandSpec {
  argv: readonly [string, ...string[]];
  /** Extra environment, e.g. PGPASSWORD; never placed in argv, where `ps` and errors would show it. */
  env?: Record<string, string | undefined>;
  /**
   * Names of non-secret variables this command may take from the worker's environment
   * (e.g. KUBECONFIG, DOCKER_HOST) on top of the base set; nothing else is inherited.
   */
  inheritEnv?: readonly string[];
  /** What the command is for, used in errors: "pg_dump of app (database shop)". */
  purpose: string;
}

export interface RunOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Fed to the command's stdin (e.g. a dump streamed from the store into pg_restore). */
  stdin?: Readable;
}

export class CommandFailed extends Error {
  constructor(
    readonly purpose: string,
    readonly exitCode: number | undefined,
    readonly stderrTail: string,
    readonly reason: string,
  ) {
    super(`${purpose} failed (${reason})${stderrTail ? `: ${stderrTail}` : ''}`);
    this.name = 'CommandFailed';
  }
}

const STDERR_TAIL_CHARS = 2_000;

/** What every child gets from the worker: where programs are, the home directory, locale and time zone. */
const BASE_ENV = new Set(['PATH', 'HOME', 'LANG', 'TZ']);
const isBaseName = (name: string) => BASE_ENV.has(name) || name.startsWith('LC_');

/**
 * The environment of a child: the base set and the spec's `inheritEnv` names from `from`,
 * then the spec's own `env`. The worker's environment holds every stack's secrets and
 * TEMPORAL_API_KEY, so nothing else crosses.
 */
export function childEnv(spec: Pick<CommandSpec, 'env' | 'inheritEnv'>, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const allowed = new Set(spec.inheritEnv ?? []);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && (isBaseName(name) || allowed.has(name))) env[name] = value;
  }
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function launch(spec: CommandSpec, options: RunOptions, streamStdout: boolean): ResultPromise {
  const [file, ...args] = spec.argv;
  const subprocess = execa(file, args, {
    env: childEnv(spec),
    extendEnv: false,
    stdin: options.stdin ? 'pipe' : 'ignore',
    buffer: { stdout: !streamStdout, stderr: true },
    cancelSignal: options.signal,
    timeout: options.timeoutMs,
    forceKillAfterDelay: 5_000,
    reject: false,
  });
  if (options.stdin) {
    // A command that exits early closes its stdin (EPIPE); its exit code tells why.
    subprocess.stdin?.on('error', () => undefined);
    options.stdin.on('error', () => subprocess.kill());
    options.stdin.pipe(subprocess.stdin!);
  }
  return subprocess;
}

async function settle(spec: CommandSpec, subprocess: ResultPromise): Promise<{ stdout: string; stderr: string }> {
  const result = await subprocess;
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  if (!result.failed) return { stdout: typeof result.stdout === 'string' ? result.stdout : '', stderr };
  const reason = result.isCanceled
    ? 'cancelled'
    : result.timedOut
      ? 'timed out'
      : result.exitCode !== undefined
        ? `exit code ${result.exitCode}`
        : result.signal
          ? `killed by ${result.signal}`
          : (result.originalMessage ?? 'could not start');
  throw new CommandFailed(spec.purpose, result.exitCode, stderr.trim().slice(-STDERR_TAIL_CHARS), reason);
}

/** Runs a command to completion and returns its output. */
export async function runCommand(spec: CommandSpec, options: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  return settle(spec, launch(spec, options, false));
}

/**
 * Starts a command whose stdout is consumed as a stream. `finished` resolves when it exits
 * with 0 and rejects with CommandFailed otherwise.
 */
export function streamCommand(spec: CommandSpec, options: RunOptions = {}): { stdout: Readable; finished: Promise<void> } {
  const subprocess = launch(spec, options, true);
  const finished = settle(spec, subprocess).then(() => undefined);
  finished.catch(() => undefined); // the caller observes it; avoid an unhandled rejection meanwhile
  return { stdout: subprocess.stdout as Readable, finished };
}
