import { ApplicationFailure } from '@temporalio/activity';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Readable } from 'node:stream';
import { parse, stringify } from 'yaml';
import type { ComposeTarget, DeployConfig } from '../../config/stacks/deploy.js';
import { resolveSecret } from '../../config/secrets.js';
import { composeCommands, dockerCommands, type ComposeFlavor, type ComposeProject } from './commands.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';

const LOG_TAIL_LINES = 40;
const flavorCache = new Map<string, ComposeFlavor>();

/** v2 when `docker compose` answers, else v1 `docker-compose`; asked once per worker. */
async function detectFlavor(configured: ComposeFlavor | undefined): Promise<ComposeFlavor> {
  if (configured) return configured;
  const cached = flavorCache.get('detected');
  if (cached) return cached;
  for (const flavor of ['v2', 'v1'] as const) {
    const works = await runCommand(composeCommands.version(flavor)).then(() => true, () => false);
    if (works) {
      flavorCache.set('detected', flavor);
      return flavor;
    }
  }
  throw ApplicationFailure.nonRetryable('neither `docker compose` nor `docker-compose` works on this worker', 'ConfigError');
}

/** ragops' own override file: one per project, holding the image of every service it deployed. */
export function overrideFileOf(target: ComposeTarget): string {
  return join(target.directory, '.ragops', `${target.projectName}.images.yml`);
}

async function readOverride(path: string): Promise<{ services: Record<string, { image: string }> }> {
  try {
    const parsed = parse(await readFile(path, 'utf8')) as { services?: Record<string, { image: string }> } | null;
    return { services: parsed?.services ?? {} };
  } catch {
    return { services: {} };
  }
}

async function writeOverride(path: string, services: Record<string, { image: string }>): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `# written by ragops deploy; do not edit\n${stringify({ services })}`);
  await rename(temporary, path);
}

async function projectOf(target: ComposeTarget, overrideFile = overrideFileOf(target)): Promise<ComposeProject> {
  const flavor = await detectFlavor(target.flavor);
  const hasOverride = Object.keys((await readOverride(overrideFile)).services).length > 0;
  // Compose v1 resolves -f against the working directory, not --project-directory.
  const files = target.files.map((file) => (isAbsolute(file) ? file : join(target.directory, file)));
  return { flavor, directory: target.directory, files, projectName: target.projectName, overrideFile: hasOverride ? overrideFile : undefined };
}

interface ContainerState {
  id: string;
  image: string;
  running: boolean;
  health?: string;
}

async function containerStates(project: ComposeProject, service: string): Promise<ContainerState[]> {
  const { stdout } = await runCommand(composeCommands.containerIds(project, service));
  const ids = stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  const states: ContainerState[] = [];
  for (const id of ids) {
    const [info] = JSON.parse((await runCommand(dockerCommands.inspect(id))).stdout) as Array<{
      Config: { Image: string };
      State: { Running: boolean; Health?: { Status: string } };
    }>;
    if (info) states.push({ id, image: info.Config.Image, running: info.State.Running, health: info.State.Health?.Status });
  }
  return states;
}

async function logsTail(project: ComposeProject, service: string): Promise<string> {
  return runCommand(composeCommands.logs(project, service, LOG_TAIL_LINES)).then(
    (result) => result.stdout.slice(-4000),
    (error: Error) => `(no logs: ${error.message})`,
  );
}

async function pullImage(image: string, progress: ProgressHeartbeat, dockerConfig?: string): Promise<string> {
  try {
    await progress.during(runCommand(dockerCommands.pull(image, dockerConfig), { signal: progress.signal }));
    return 'pulled';
  } catch (error) {
    // An image built on this host and never pushed cannot be pulled, but is there to run.
    const local = await runCommand(dockerCommands.imageExists(image)).then(() => true, () => false);
    if (local) return `not pulled (${(error as Error).message.split('\n')[0]}); using the local image`;
    throw ApplicationFailure.nonRetryable(`image ${image} cannot be pulled and is not on the host: ${(error as Error).message}`, 'PullFailed');
  }
}

export function createComposeActivities() {
  return {
    /** The image the service's containers run now (what a rollback goes back to). */
    async composeCurrentImage({ target, service }: { target: ComposeTarget; service: string }): Promise<string | null> {
      const states = await containerStates(await projectOf(target), service);
      return states[0]?.image ?? (await readOverride(overrideFileOf(target))).services[service]?.image ?? null;
    },

    /**
     * Pulls the image, after `docker login` when the stack names a registry: the login writes
     * into a DOCKER_CONFIG directory of this call (0700) that the pull reads and that is
     * removed afterwards whatever happens, so the worker's own ~/.docker/config.json is never written.
     */
    async composePull({ image, registry }: { image: string; registry?: DeployConfig['registry'] }): Promise<string> {
      const progress = new ProgressHeartbeat(`pull ${image}`);
      if (!registry) return pullImage(image, progress);
      const dockerConfig = await mkdtemp(join(tmpdir(), 'ragops-docker-'));
      try {
        await chmod(dockerConfig, 0o700);
        const password = await resolveSecret(registry.password);
        await runCommand(dockerCommands.login(registry.server, registry.username, dockerConfig), { stdin: Readable.from([password]), signal: progress.signal }).catch((error: Error) => {
          // Wrong credentials stay wrong on a retry; the message is docker's, which never echoes the password.
          throw ApplicationFailure.nonRetryable(error.message, 'RegistryLoginFailed');
        });
        return await pullImage(image, progress, dockerConfig);
      } finally {
        await rm(dockerConfig, { recursive: true, force: true });
      }
    },

    /** The migration in a one-off container of the new image; a failure stops the deploy. */
    async composeMigrate({ target, service, image, command }: { target: ComposeTarget; service: string; image: string; command: string[] }): Promise<string> {
      const progress = new ProgressHeartbeat(`migrate with ${image}`);
      const pendingOverride = join(target.directory, '.ragops', `${target.projectName}.migrate-${process.pid}.yml`);
      const current = await readOverride(overrideFileOf(target));
      await writeOverride(pendingOverride, { ...current.services, [service]: { image } });
      try {
        const project = await projectOf(target, pendingOverride);
        const { stdout, stderr } = await progress.during(runCommand(composeCommands.runOnce(project, service, command), { signal: progress.signal }));
        return `${stdout}${stderr}`.slice(-4000);
      } catch (error) {
        if (error instanceof CommandFailed && error.exitCode !== undefined) {
          throw ApplicationFailure.nonRetryable(`migration \`${command.join(' ')}\` with ${image} failed (exit ${error.exitCode}): ${error.stderrTail}`, 'MigrationFailed');
        }
        throw error;
      } finally {
        await rm(pendingOverride, { force: true });
      }
    },

    /** Points the service at `image` in ragops' override file and recreates it (`up -d --no-deps`). */
    async composeRollout({ target, service, image }: { target: ComposeTarget; service: string; image: string }): Promise<void> {
      const progress = new ProgressHeartbeat(`up ${service} with ${image}`);
      const overrideFile = overrideFileOf(target);
      const current = await readOverride(overrideFile);
      await writeOverride(overrideFile, { ...current.services, [service]: { image } });
      await progress.during(runCommand(composeCommands.up(await projectOf(target), service), { signal: progress.signal }));
    },

    /**
     * Waits until the service's containers run `image` and, when the service defines a
     * healthcheck, report healthy; returns the state and the logs tail as evidence.
     */
    async composeServiceHealth({ target, service, image, timeoutSeconds }: { target: ComposeTarget; service: string; image: string; timeoutSeconds: number }) {
      const progress = new ProgressHeartbeat(`compose health of ${service}`);
      const project = await projectOf(target);
      const deadline = Date.now() + timeoutSeconds * 1000;
      let states: ContainerState[] = [];
      for (;;) {
        states = await containerStates(project, service);
        const healthy = states.length > 0 && states.every((s) => s.running && s.image === image && (s.health === undefined || s.health === 'healthy'));
        const hopeless = states.some((s) => s.health === 'unhealthy' || !s.running);
        progress.beat({ states: states.map((s) => `${s.image} ${s.running ? 'running' : 'stopped'} ${s.health ?? ''}`) }, true);
        if (healthy || hopeless || Date.now() > deadline) {
          return { healthy, states: states.map(({ image: i, running, health }) => ({ image: i, running, health })), logsTail: healthy ? '' : await logsTail(project, service) };
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    },
  };
}
