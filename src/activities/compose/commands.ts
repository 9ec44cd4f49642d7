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

function compose(project: ComposeProject, purpose: string, ...args: string[]): CommandSpec {
  const head = project.flavor === 'v2' ? ['docker', 'compose'] : ['docker-compose'];
  const files = [...project.files, ...(project.overrideFile ? [project.overrideFile] : [])];
  return {
    argv: [...(head as [string, ...string[]]), '--project-directory', project.directory, ...files.flatMap((file) => ['-f', file]), '-p', project.projectName, ...args],
    purpose: `${head.join(' ')} ${purpose} (project ${project.projectName})`,
  };
}

export const composeCommands = {
  /** Exit status tells whether this flavor is installed. */
  version: (flavor: ComposeFlavor): CommandSpec => ({
    argv: flavor === 'v2' ? ['docker', 'compose', 'version'] : ['docker-compose', 'version'],
    purpose: flavor === 'v2' ? 'docker compose version' : 'docker-compose version',
  }),
  pull: (p: ComposeProject, service: string) => compose(p, `pull ${service}`, 'pull', service),
  up: (p: ComposeProject, service: string) => compose(p, `up ${service}`, 'up', '-d', '--no-deps', service),
  /** A one-off container of the service's (new) image, e.g. for migrations. */
  runOnce: (p: ComposeProject, service: string, command: string[]) => compose(p, `run ${service}`, 'run', '--rm', '--no-deps', '-T', service, ...command),
  containerIds: (p: ComposeProject, service: string) => compose(p, `ps ${service}`, 'ps', '-q', service),
  logs: (p: ComposeProject, service: string, tailLines: number) => compose(p, `logs ${service}`, 'logs', '--no-color', `--tail=${tailLines}`, service),
};

export const dockerCommands = {
  inspect: (containerId: string): CommandSpec => ({ argv: ['docker', 'inspect', containerId], purpose: `docker inspect ${containerId}` }),
  pull: (image: string): CommandSpec => ({ argv: ['docker', 'pull', image], purpose: `docker pull ${image}` }),
  imageExists: (image: string): CommandSpec => ({ argv: ['docker', 'image', 'inspect', '--format', '{{.Id}}', image], purpose: `docker image inspect ${image}` }),
  /** The password goes to stdin, never into argv. */
  login: (server: string, username: string): CommandSpec => ({
    argv: ['docker', 'login', server, '--username', username, '--password-stdin'],
    purpose: `docker login ${server} as ${username}`,
  }),
};
