// The canary version of a Compose service: `<service>-canary`, a service of ragops' own
// override file derived from the stable service's resolved definition (what `compose config`
// says it is: environment, volumes, networks, healthcheck, command...), with the new image,
// no container_name (it would clash with the stable one) and only the ports the stack gives
// the canary (`deploy.services.<service>.canary.ports`; none by default). Launch and removal
// are idempotent and hold the override file's lock for their whole read-modify-write-run, so a
// deploy of another service of the project never writes the file in between.
import { ApplicationFailure } from '@temporalio/activity';
import { parse } from 'yaml';
import type { ComposeTarget } from '../../config/stacks/deploy.js';
import { CommandFailed, runCommand, type CommandSpec } from '../runtime/exec.js';
import { composeArgv, composeCommands, dockerCommands, DOCKER_INHERITED_ENV, type ComposeProject } from './commands.js';
import { projectOf } from './project.js';
import { isImageId, pinnedTagFor, type InspectedContainer } from './images.js';
import { overrideFileOf, overrideText, readOverride, serialized, writeFileAtomically, type OverrideService } from './override.js';

export const CANARY_SUFFIX = '-canary';
/** Set on the canary's containers, so removal finds them even after the override lost the entry. */
export const CANARY_LABEL = 'org.ragops.canary-of';

export const canaryServiceOf = (service: string): string => `${service}${CANARY_SUFFIX}`;

/** Keys of the stable definition the canary does not take: its identity, published ports, build and scale. */
const DROPPED_KEYS = ['container_name', 'ports', 'build', 'hostname', 'scale', 'deploy', 'depends_on', 'links', 'external_links', 'profiles'];

/** The argv of the canary's own steps (the rest are composeCommands'); pure, tested without running. */
export const canaryCommands = {
  /** The project as Compose resolves it (all files merged, variables substituted), YAML on stdout. */
  config: (p: ComposeProject) => composeArgv(p, 'config', 'config'),
  /** Stops and removes the service's containers with their anonymous volumes. */
  remove: (p: ComposeProject, service: string) => composeArgv(p, `rm ${service}`, 'rm', '--stop', '--force', '-v', service),
  /** Containers left of a canary whatever the files say (by Compose's and ragops' labels). */
  leftovers: (projectName: string, canaryService: string): CommandSpec => ({
    argv: ['docker', 'ps', '-aq', '--filter', `label=com.docker.compose.project=${projectName}`, '--filter', `label=com.docker.compose.service=${canaryService}`],
    inheritEnv: DOCKER_INHERITED_ENV,
    purpose: `docker ps (containers of ${canaryService})`,
  }),
};

/**
 * The canary's service definition from the stable one's resolved one: everything but
 * DROPPED_KEYS, with `image` and `ports` replaced and the canary label added. Pure.
 */
export function canaryDefinition(stable: Record<string, unknown>, input: { service: string; image: string; ports: string[] }): Record<string, unknown> {
  const definition: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stable)) if (!DROPPED_KEYS.includes(key)) definition[key] = value;
  const labels = stable.labels;
  const labelMap: Record<string, string> = Array.isArray(labels)
    ? Object.fromEntries(labels.map((entry) => String(entry).split(/=(.*)/s).slice(0, 2) as [string, string]))
    : typeof labels === 'object' && labels !== null
      ? { ...(labels as Record<string, string>) }
      : {};
  definition.labels = { ...labelMap, [CANARY_LABEL]: input.service };
  definition.image = input.image;
  if (input.ports.length > 0) definition.ports = [...input.ports];
  return definition;
}

export interface CanaryLaunch {
  target: ComposeTarget;
  /** The stable service's name in the compose files. */
  service: string;
  /** The pinned new image: `repo@sha256:…` or a bare image id. */
  image: string;
  ports: string[];
  /** How long the canary may take to run (and be healthy, when it has a healthcheck); default 60. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
  /** Called while waiting (a heartbeat). */
  beat?: (details: Record<string, unknown>) => void;
}

/** What a launch found and did. */
export interface CanaryLaunched {
  service: string;
  created: boolean;
  image: string;
}

interface CanaryState {
  id: string;
  running: boolean;
  health?: string;
}

async function canaryStates(target: ComposeTarget, canary: string, signal?: AbortSignal): Promise<CanaryState[]> {
  const { stdout } = await runCommand(canaryCommands.leftovers(target.projectName, canary), { signal });
  const states: CanaryState[] = [];
  for (const id of stdout.split('\n').map((line) => line.trim()).filter(Boolean)) {
    const [info] = JSON.parse((await runCommand(dockerCommands.inspectContainer(id), { signal })).stdout) as InspectedContainer[];
    if (info) states.push({ id: id.slice(0, 12), running: info.State.Running, ...(info.State.Health ? { health: info.State.Health.Status } : {}) });
  }
  return states;
}

/**
 * Waits until the canary's containers run and, when it has a healthcheck, report healthy —
 * traffic must not reach a version that is not up. Null when it is, else why not.
 */
async function waitUntilUp(target: ComposeTarget, canary: string, timeoutSeconds: number, signal?: AbortSignal, beat?: (details: Record<string, unknown>) => void): Promise<string | null> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const states = await canaryStates(target, canary, signal);
    beat?.({ canary, states });
    const up = states.length > 0 && states.every((s) => s.running && (s.health === undefined || s.health === 'healthy'));
    if (up) return null;
    const describe = () => states.map((s) => `${s.id} ${s.running ? 'running' : 'not running'}${s.health ? ` (${s.health})` : ''}`).join(', ') || 'no container';
    if (states.some((s) => s.health === 'unhealthy' || !s.running)) return describe();
    if (Date.now() > deadline) return `${describe()} after ${timeoutSeconds} s`;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Starts `<service>-canary` with the new image at no traffic (the shifter decides) and waits
 * until it is up (running; healthy when it has a healthcheck); idempotent. A canary that does
 * not come up is removed again and fails CanaryUnhealthy (not retried: the image is the same).
 */
export async function launchComposeCanary({ target, service, image, ports, timeoutSeconds = 60, signal, beat }: CanaryLaunch): Promise<CanaryLaunched> {
  const canary = canaryServiceOf(service);
  const path = overrideFileOf(target);
  return serialized(path, async () => {
    const current = await readOverride(path);
    // The stable definition as Compose resolves it, ragops' override included (its image entry,
    // and a canary entry of an earlier attempt, which is replaced).
    let resolved: { services?: Record<string, Record<string, unknown>> };
    try {
      resolved = parse((await runCommand(canaryCommands.config(await projectOf(target)), { signal })).stdout) as typeof resolved;
    } catch (error) {
      if (error instanceof CommandFailed) {
        throw ApplicationFailure.nonRetryable(`the compose files of project ${target.projectName} do not resolve: ${error.stderrTail}`, 'ConfigError');
      }
      throw error;
    }
    const stable = resolved?.services?.[service];
    if (!stable) {
      throw ApplicationFailure.nonRetryable(`service ${service} is not in the compose files of project ${target.projectName} (${target.files.join(', ')})`, 'ConfigError');
    }
    let deployable = image;
    if (isImageId(image)) {
      deployable = pinnedTagFor(canary, image);
      await runCommand(dockerCommands.tag(image, deployable), { signal }).catch((error: unknown) => {
        if (error instanceof CommandFailed && /no such image|not found/i.test(error.stderrTail)) {
          throw ApplicationFailure.nonRetryable(`image ${image} is not on this host, so no canary can run it: ${error.stderrTail}`, 'ImageMissing');
        }
        throw error;
      });
    }
    const created = !current.services[canary];
    const entry = canaryDefinition(stable, { service, image: deployable, ports }) as unknown as OverrideService;
    await writeFileAtomically(path, overrideText({ ...current.services, [canary]: entry }));
    const project = await projectOf(target);
    await runCommand(composeCommands.up(project, canary), { signal });
    const notUp = await waitUntilUp(target, canary, timeoutSeconds, signal, beat);
    if (notUp !== null) {
      const logs = await runCommand(composeCommands.logs(project, canary, 20), { signal }).then((r) => r.stdout.slice(-2000), () => '');
      await removeUnlocked(target, canary, signal);
      throw ApplicationFailure.nonRetryable(`${canary} (${image}) did not come up: ${notUp}; removed again${logs ? `\nlogs tail:\n${logs}` : ''}`, 'CanaryUnhealthy');
    }
    return { service: canary, created, image: deployable };
  });
}

/** Stops and removes `<service>-canary` and drops it from the override file; idempotent. */
export async function removeComposeCanary({ target, service, signal }: { target: ComposeTarget; service: string; signal?: AbortSignal }): Promise<{ service: string; removed: boolean }> {
  const canary = canaryServiceOf(service);
  const path = overrideFileOf(target);
  return serialized(path, () => removeUnlocked(target, canary, signal));
}

/** removeComposeCanary's work; the caller holds the override file's lock. */
async function removeUnlocked(target: ComposeTarget, canary: string, signal?: AbortSignal): Promise<{ service: string; removed: boolean }> {
  const path = overrideFileOf(target);
  const current = await readOverride(path);
  let removed = false;
  if (current.services[canary]) {
    await runCommand(canaryCommands.remove(await projectOf(target), canary), { signal });
    removed = true;
  }
  // Whatever the file says: a container of an attempt that wrote the file and died, or a file edited by hand.
  const { stdout } = await runCommand(canaryCommands.leftovers(target.projectName, canary), { signal });
  for (const id of stdout.split('\n').map((line) => line.trim()).filter(Boolean)) {
    await runCommand(dockerCommands.remove(id), { signal });
    removed = true;
  }
  if (current.services[canary]) {
    const { [canary]: _dropped, ...rest } = current.services;
    await writeFileAtomically(path, overrideText(rest));
  }
  return { service: canary, removed };
}
