import { SCRATCH_PLACEHOLDER, execRunKind, type ExecDumpComponent, type ExecRun } from '../../config/stacks/execdump.js';
import { DOCKER_INHERITED_ENV } from '../compose/commands.js';
import { KUBECTL_INHERITED_ENV, kubectlArgv } from '../kubernetes/commands.js';
import type { CommandSpec } from '../runtime/exec.js';

// Exec dumps as data: each kind of place a command runs in becomes one argv array (Kamal's
// lib/kamal/commands style); running them is src/activities/runtime/exec.ts's job.

type Argv = readonly [string, ...string[]];

/** A command plus what it reads on stdin (secrets for `kubectl exec`, which has no --env). */
export interface ExecCommand extends CommandSpec {
  stdinText?: string;
}

const asArgv = (args: readonly string[]): Argv => {
  if (args.length === 0) throw new Error('an empty argv');
  return args as unknown as Argv;
};

/**
 * `kubectl exec` cannot set environment variables, so secrets travel on stdin: a small POSIX
 * sh prologue reads `NAME=value` lines up to an empty line, exports them and execs the command
 * with its argv untouched ("$@"). Needs /bin/sh in the container; values cannot hold newlines.
 */
export const KUBE_ENV_PROLOGUE = 'while IFS= read -r ragops_line && [ -n "$ragops_line" ]; do export "$ragops_line"; done; exec "$@"';

export function kubeEnvStdin(env: Record<string, string>): string {
  for (const [name, value] of Object.entries(env)) {
    if (/[\r\n\0]/.test(value)) throw new Error(`the value of ${name} holds a line break, which kubectl exec cannot pass (secrets reach the pod on stdin, one per line)`);
  }
  return `${Object.entries(env).map(([name, value]) => `${name}=${value}`).join('\n')}\n\n`;
}

/**
 * The command that runs `args` where `run` says: on the host, `docker exec` in a container,
 * `docker run --rm` over the volume, or `kubectl exec` in a pod. `env` values (secrets) go to
 * the child's environment, or on stdin for kubectl; only their names appear in argv.
 * `args` undefined means the kind's own dump command (the volume's tar; the others' argv).
 */
export function execCommand(run: ExecRun, args: readonly string[] | undefined, env: Record<string, string>, purpose: string): ExecCommand {
  const names = Object.keys(env);
  if ('host' in run) {
    return { argv: asArgv(args ?? run.host.argv), env, purpose };
  }
  if ('docker' in run) {
    const { container, user } = run.docker;
    return {
      argv: [
        'docker', 'exec',
        ...(user ? ['--user', user] : []),
        // `-e NAME` without a value: docker takes it from its own environment, so argv holds only the name.
        ...names.flatMap((name) => ['-e', name]),
        container,
        ...(args ?? run.docker.argv),
      ],
      env,
      inheritEnv: DOCKER_INHERITED_ENV,
      purpose,
    };
  }
  if ('volume' in run) {
    const { name, image, mountPath, readOnly } = run.volume;
    return {
      argv: [
        'docker', 'run', '--rm',
        // No network, and no log driver: an attached container's stdout would also fill its json log.
        '--network', 'none', '--log-driver', 'none',
        ...names.flatMap((variable) => ['-e', variable]),
        '-v', `${name}:${mountPath}${readOnly ? ':ro' : ''}`,
        image,
        ...(args ?? run.volume.argv ?? ['tar', 'c', '-C', mountPath, '.']),
      ],
      env,
      inheritEnv: DOCKER_INHERITED_ENV,
      purpose,
    };
  }
  const target = run.kubernetes;
  const withEnv = names.length > 0;
  return {
    argv: kubectlArgv(
      target,
      'exec',
      ...(withEnv ? ['-i'] : []),
      target.pod ? `pod/${target.pod}` : `deployment/${target.deployment}`,
      ...(target.container ? ['-c', target.container] : []),
      '--',
      ...(withEnv ? ['sh', '-c', KUBE_ENV_PROLOGUE, 'ragops-exec'] : []),
      ...(args ?? target.argv),
    ),
    inheritEnv: KUBECTL_INHERITED_ENV,
    purpose,
    ...(withEnv ? { stdinText: kubeEnvStdin(env) } : {}),
  };
}

/** Where a component runs, for messages: "host", "container app-db", "volume uploads", "pod api-0 (namespace rag)". */
export function describeRun(run: ExecRun): string {
  switch (execRunKind(run)) {
    case 'host':
      return 'the worker host';
    case 'docker':
      return `container ${(run as { docker: { container: string } }).docker.container}`;
    case 'volume':
      return `volume ${(run as { volume: { name: string } }).volume.name}`;
    default: {
      const target = (run as Extract<ExecRun, { kubernetes: unknown }>).kubernetes;
      return `${target.pod ? `pod ${target.pod}` : `deployment ${target.deployment}`} (namespace ${target.namespace})`;
    }
  }
}

export const execDumpCommands = {
  /** The dump: its stdout is the artifact. */
  dump: (component: ExecDumpComponent, env: Record<string, string>): ExecCommand =>
    execCommand(component.run, undefined, env, `exec dump ${component.name} (in ${describeRun(component.run)})`),
  /** A drill check's backup-time figure, run where the dump runs. */
  figure: (component: ExecDumpComponent, check: string, args: readonly string[], env: Record<string, string>): ExecCommand =>
    execCommand(component.run, args, env, `figure "${check}" of exec dump ${component.name} (in ${describeRun(component.run)})`),
  /**
   * `docker run -v <name>:…` creates a volume that does not exist, so a mistyped name would back
   * up an empty one: the volume must be there first.
   */
  volumeExists: (component: ExecDumpComponent): CommandSpec | undefined =>
    'volume' in component.run
      ? {
          argv: ['docker', 'volume', 'inspect', '--format', '{{.Name}}', component.run.volume.name],
          inheritEnv: DOCKER_INHERITED_ENV,
          purpose: `docker volume inspect ${component.run.volume.name} (exec dump ${component.name})`,
        }
      : undefined,
  /**
   * The restore: the component's `restore.argv` on the worker's host, the artifact on its stdin,
   * its secrets in the environment only (it may reach its target through docker or kubectl).
   */
  restore: (component: ExecDumpComponent & { restore: NonNullable<ExecDumpComponent['restore']> }, env: Record<string, string>): CommandSpec => ({
    argv: asArgv(component.restore.argv),
    env,
    inheritEnv: [...DOCKER_INHERITED_ENV, ...KUBECTL_INHERITED_ENV],
    purpose: `restore of exec dump ${component.name} (${component.restore.argv[0]} on the worker host)`,
  }),
  /** A drill command on the worker's host, with {scratch} replaced by the drill's scratch directory. */
  drill: (component: ExecDumpComponent, what: string, args: readonly string[], scratch: string): CommandSpec => ({
    argv: asArgv(args.map((arg) => arg.split(SCRATCH_PLACEHOLDER).join(scratch))),
    // A drill may restore through docker or kubectl (a scratch container): they find their daemon or cluster.
    inheritEnv: [...DOCKER_INHERITED_ENV, ...KUBECTL_INHERITED_ENV],
    purpose: `drill ${what} of exec dump ${component.name}`,
  }),
};
