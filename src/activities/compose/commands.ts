import type { CommandSpec } from '../runtime/exec.js';

/** `docker compose` (the v2 plugin) or `docker-compose` (v1): the same verbs, a different argv head. */
export type ComposeFlavor = 'v2' | 'v1';

export interface ComposeProject {
  flavor: ComposeFlavor;
  directory: string;
  files: string[];
  projectName: string;
  /** ragops' own override file (the service's image), placed last so it wins; never the operator's files. */
  overrideFile?: string;
}

/**
 * Where the docker CLI finds its daemon, TLS files and config (contexts, plugins, credential
 * helpers); registry logins bring their own DOCKER_CONFIG (see `dockerCommands.login`).
 */
export const DOCKER_INHERITED_ENV = ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CONFIG', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY', 'XDG_RUNTIME_DIR'] as const;

const docker = (argv: [string, ...string[]], purpose: string, env?: Record<string, string>): CommandSpec => ({
  argv,
  ...(env ? { env } : {}),
  inheritEnv: DOCKER_INHERITED_ENV,
  purpose,
});

/** Any compose verb on the project: the flavor's argv head, its files, project directory and name. */
export function composeArgv(project: ComposeProject, purpose: string, ...args: string[]): CommandSpec {
  const head = project.flavor === 'v2' ? ['docker', 'compose'] : ['docker-compose'];
  const files = [...project.files, ...(project.overrideFile ? [project.overrideFile] : [])];
  return docker(
    [...(head as [string, ...string[]]), '--project-directory', project.directory, ...files.flatMap((file) => ['-f', file]), '-p', project.projectName, ...args],
    `${head.join(' ')} ${purpose} (project ${project.projectName})`,
  );
}

export const composeCommands = {
  /** Exit status tells whether this flavor is installed. */
  version: (flavor: ComposeFlavor): CommandSpec =>
    flavor === 'v2' ? docker(['docker', 'compose', 'version'], 'docker compose version') : docker(['docker-compose', 'version'], 'docker-compose version'),
  pull: (p: ComposeProject, service: string) => composeArgv(p, `pull ${service}`, 'pull', service),
  up: (p: ComposeProject, service: string) => composeArgv(p, `up ${service}`, 'up', '-d', '--no-deps', service),
  /** Stops and removes the service's containers: what a DR drill deployed, torn down. */
  removeService: (p: ComposeProject, service: string) => composeArgv(p, `rm ${service}`, 'rm', '-s', '-f', service),
  /** Stops the service's containers (kept, not removed): a writer held still while its data is restored. */
  stop: (p: ComposeProject, service: string, graceSeconds: number) => composeArgv(p, `stop ${service}`, 'stop', '-t', String(graceSeconds), service),
  /** A one-off container of the service's (new) image, e.g. for migrations. */
  runOnce: (p: ComposeProject, service: string, command: string[]) => composeArgv(p, `run ${service}`, 'run', '--rm', '--no-deps', '-T', service, ...command),
  /**
   * A one-off container of the service, named, detached and kept after it exits (no `--rm`):
   * the name makes it findable by a retry, and the daemon refuses a second one of that name.
   * Prints the container's name (v1) or id (v2).
   */
  runDetached: (p: ComposeProject, service: string, containerName: string, command: string[]) =>
    composeArgv(p, `run ${service} as ${containerName}`, 'run', '-d', '--name', containerName, '--no-deps', '-T', service, ...command),
  containerIds: (p: ComposeProject, service: string) => composeArgv(p, `ps ${service}`, 'ps', '-q', service),
  logs: (p: ComposeProject, service: string, tailLines: number) => composeArgv(p, `logs ${service}`, 'logs', '--no-color', `--tail=${tailLines}`, service),
};

export const dockerCommands = {
  inspect: (containerId: string): CommandSpec => docker(['docker', 'inspect', containerId], `docker inspect ${containerId}`),
  /** A container only (never an image or a network of that name); JSON array on stdout. */
  inspectContainer: (nameOrId: string): CommandSpec => docker(['docker', 'container', 'inspect', nameOrId], `docker container inspect ${nameOrId}`),
  /** The image's JSON (Id, RepoTags, RepoDigests); fails when the host does not have it. */
  inspectImage: (image: string): CommandSpec => docker(['docker', 'image', 'inspect', image], `docker image inspect ${image}`),
  /** Gives an image (e.g. a bare `sha256:` id) another name; moves the name if it pointed elsewhere. */
  tag: (source: string, target: string): CommandSpec => docker(['docker', 'tag', source, target], `docker tag ${source} ${target}`),
  /** No restart policy: a container that exits stays exited. */
  noRestart: (container: string): CommandSpec => docker(['docker', 'update', '--restart=no', container], `docker update ${container}`),
  start: (container: string): CommandSpec => docker(['docker', 'start', container], `docker start ${container}`),
  /** Blocks until the container stops; prints its exit code. Killing this command leaves the container alone. */
  wait: (container: string): CommandSpec => docker(['docker', 'wait', container], `docker wait ${container}`),
  /** The container's stdout on stdout and its stderr on stderr (no TTY), last `tailLines` lines. */
  logs: (container: string, tailLines: number): CommandSpec => docker(['docker', 'logs', `--tail=${tailLines}`, container], `docker logs ${container}`),
  stop: (container: string, graceSeconds: number): CommandSpec => docker(['docker', 'stop', '-t', String(graceSeconds), container], `docker stop ${container}`),
  /** `-f`: also a running one (killed); `-v`: with its anonymous volumes. */
  remove: (container: string): CommandSpec => docker(['docker', 'rm', '-f', '-v', container], `docker rm ${container}`),
  /** With `dockerConfig`, the pull uses the credentials a `login` into that directory stored. */
  pull: (image: string, dockerConfig?: string): CommandSpec =>
    docker(['docker', 'pull', image], `docker pull ${image}`, dockerConfig ? { DOCKER_CONFIG: dockerConfig } : undefined),
  /**
   * The password goes to stdin, never into argv; the credentials land in `dockerConfig`
   * (a directory of this run), never in the worker's own ~/.docker/config.json.
   */
  login: (server: string, username: string, dockerConfig: string): CommandSpec =>
    docker(['docker', 'login', server, '--username', username, '--password-stdin'], `docker login ${server} as ${username}`, { DOCKER_CONFIG: dockerConfig }),
};
