import type { RedisRdbSource } from '../../config/stacks/redis.js';
import { DOCKER_INHERITED_ENV } from '../compose/commands.js';
import { KUBECTL_INHERITED_ENV, kubectlArgv } from '../kubernetes/commands.js';
import type { CommandSpec } from '../runtime/exec.js';

// Every command here is data (an argv array): none carries a password — the Redis connection
// authenticates over its own socket — and every name in it was held to a pattern by the schema.

/** The running container of a Compose service, by the labels Compose (v1 and v2) puts on it; prints ids. */
export function composeContainerCommand(project: string, service: string): CommandSpec {
  return {
    argv: [
      'docker',
      'ps',
      '--quiet',
      '--no-trunc',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      `label=com.docker.compose.service=${service}`,
      '--filter',
      'status=running',
    ],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker ps of Compose service ${service} (project ${project})`,
  };
}

/** The RDB file's bytes on stdout, from inside a container (no tar wrapping, unlike `docker cp … -`). */
export function dockerCatCommand(container: string, path: string, what = `container ${container}`): CommandSpec {
  return {
    argv: ['docker', 'exec', container, 'cat', path],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker exec cat ${path} in ${what}`,
  };
}

export type KubernetesRdbSource = Extract<RedisRdbSource, { kubernetes: unknown }>['kubernetes'];

/** The RDB file's bytes on stdout, from a pod (or the first pod of a deployment); no TTY, so binary-safe. */
export function kubectlCatCommand(source: KubernetesRdbSource): CommandSpec {
  const target = source.pod ?? `deployment/${source.deployment}`;
  return {
    argv: kubectlArgv(source, 'exec', target, ...(source.container ? ['-c', source.container] : []), '--', 'cat', source.path),
    inheritEnv: KUBECTL_INHERITED_ENV,
    purpose: `kubectl exec cat ${source.path} in ${target}${source.container ? ` (container ${source.container})` : ''} (namespace ${source.namespace}${source.context ? `, context ${source.context}` : ''})`,
  };
}

export interface ScratchServer {
  /** Directory and file name of the RDB to load. */
  dir: string;
  dbfilename: string;
  port: number;
  /** At least 16, and more when the RDB holds a database index past 15. */
  databases: number;
  /** redis-server's path; PATH when unset. */
  binary?: string;
}

/**
 * A throwaway redis-server that loads one RDB: loopback only, never saving, no AOF, logging to
 * stdout. It starts as a replica of 127.0.0.1:0 — a master nobody can listen on — so it keeps
 * keys whose TTL passed since the backup (a master drops them while loading, which would make
 * a sound backup look short), and never syncs from anything.
 */
export function scratchServerCommand(server: ScratchServer): CommandSpec {
  return {
    argv: [
      server.binary ?? 'redis-server',
      '--port',
      String(server.port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'yes',
      '--dir',
      server.dir,
      '--dbfilename',
      server.dbfilename,
      '--save',
      '',
      '--appendonly',
      'no',
      '--databases',
      String(server.databases),
      '--replicaof',
      '127.0.0.1',
      '0',
      '--daemonize',
      'no',
      '--logfile',
      '',
    ],
    purpose: `scratch redis-server on 127.0.0.1:${server.port} loading ${server.dbfilename}`,
  };
}

/** The container's full id and whether it runs: "<id> true"; fails when there is no such container. */
export function dockerContainerStateCommand(container: string): CommandSpec {
  return {
    argv: ['docker', 'inspect', '--type', 'container', '--format', '{{.Id}} {{.State.Running}}', container],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker inspect of container ${container}`,
  };
}

/** Stops the container, giving Redis `graceSeconds` to finish its shutdown before SIGKILL. */
export function dockerStopCommand(container: string, graceSeconds: number): CommandSpec {
  return {
    argv: ['docker', 'stop', '--time', String(graceSeconds), container],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker stop of container ${container}`,
  };
}

/** Copies a host file to `path` inside the container, running or not. */
export function dockerCopyIntoCommand(file: string, container: string, path: string): CommandSpec {
  return {
    argv: ['docker', 'cp', file, `${container}:${path}`],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker cp of the RDB to ${path} in container ${container}`,
  };
}

/** The last lines the container wrote (Redis logs to stdout in a container). */
export function dockerLogsTailCommand(container: string, lines: number): CommandSpec {
  return {
    argv: ['docker', 'logs', '--tail', String(lines), container],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker logs of container ${container}`,
  };
}

export function dockerStartCommand(container: string): CommandSpec {
  return {
    argv: ['docker', 'start', container],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker start of container ${container}`,
  };
}

export interface NewRedisServer {
  port: number;
  bind: string;
  /** Holds dump.rdb, and the server's pid file and log. */
  dir: string;
  /** At least 16, and more when the RDB holds a database index past 15. */
  databases: number;
  /** redis-server's path; PATH when unset. */
  binary?: string;
}

/**
 * A redis-server the operator asked for, loading dir/dump.rdb and then running on its own
 * (daemonized, so it outlives the worker): no AOF, so the RDB is what it loads.
 */
export function newRedisServerCommand(server: NewRedisServer): CommandSpec {
  return {
    argv: [
      server.binary ?? 'redis-server',
      '--port',
      String(server.port),
      '--bind',
      server.bind,
      '--dir',
      server.dir,
      '--dbfilename',
      'dump.rdb',
      '--daemonize',
      'yes',
      '--appendonly',
      'no',
      '--databases',
      String(server.databases),
      '--pidfile',
      `${server.dir}/redis.pid`,
      '--logfile',
      `${server.dir}/redis.log`,
    ],
    purpose: `redis-server on ${server.bind}:${server.port} loading ${server.dir}/dump.rdb`,
  };
}
