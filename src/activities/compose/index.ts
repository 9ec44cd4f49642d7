import { ApplicationFailure, Context } from '@temporalio/activity';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { imageReference, type ComposePullPolicy, type ComposeTarget, type DeployConfig } from '../../config/stacks/deploy.js';
import { resolveSecret } from '../../config/secrets.js';
import { composeCommands, dockerCommands, type ComposeProject } from './commands.js';
import {
  classifyPullFailure,
  imageIdOfPinnedTag,
  isDigestReference,
  isImageId,
  isOneOffContainer,
  pickRepoDigest,
  pinnedTagFor,
  REFERENCE_LABEL,
  type InspectedContainer,
  type InspectedImage,
} from './images.js';
import { fallbackContainerName, runMigration } from './migrate.js';
import { overrideFileOf, readOverride, updateOverride } from './override.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';

export { overrideFileOf } from './override.js';
import { projectOf } from './project.js';

const LOG_TAIL_LINES = 40;
/** The image as this host has it, or null when it has no image of that reference. */
async function inspectImage(image: string): Promise<InspectedImage | null> {
  try {
    const [info] = JSON.parse((await runCommand(dockerCommands.inspectImage(image))).stdout) as InspectedImage[];
    return info ?? null;
  } catch (error) {
    if (error instanceof CommandFailed && /no such (image|object)/i.test(error.stderrTail)) return null;
    throw error;
  }
}

/** The id a reference resolves to on this host: a bare id is itself, a ragops-pinned tag names its id. */
async function imageIdOf(image: string): Promise<string | null> {
  if (isImageId(image)) return image;
  return imageIdOfPinnedTag(image) ?? (await inspectImage(image))?.Id ?? null;
}

/**
 * What to write in a Compose file to run `image`: references as they are; a bare image id as
 * ragops' local tag for it (see pinnedTagFor), re-tagged to the id now. An id the host no
 * longer has cannot be deployed, and no retry brings it back.
 */
async function deployableReference(service: string, image: string, signal?: AbortSignal): Promise<string> {
  if (!isImageId(image)) return image;
  const tag = pinnedTagFor(service, image);
  await runCommand(dockerCommands.tag(image, tag), { signal }).catch((error: unknown) => {
    if (error instanceof CommandFailed && /no such image|not found/i.test(error.stderrTail)) {
      throw ApplicationFailure.nonRetryable(`image ${image} is no longer on this host (removed or pruned), so it cannot be deployed again: ${error.stderrTail}`, 'ImageMissing');
    }
    throw error;
  });
  return tag;
}

interface ContainerState {
  id: string;
  /** The reference the container was created from (Config.Image). */
  image: string;
  /** The reference ragops deployed it as (its label), when ragops deployed it by digest or id. */
  deployedAs?: string;
  /** The id of the image it runs (`sha256:…`). */
  imageId: string;
  running: boolean;
  health?: string;
}

/** The service's own containers: one-off `run` containers (migrations) are not among them. */
async function containerStates(project: ComposeProject, service: string): Promise<ContainerState[]> {
  const { stdout } = await runCommand(composeCommands.containerIds(project, service));
  const ids = stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  const states: ContainerState[] = [];
  for (const id of ids) {
    const [info] = JSON.parse((await runCommand(dockerCommands.inspectContainer(id))).stdout) as InspectedContainer[];
    if (info && !isOneOffContainer(info)) {
      const deployedAs = info.Config.Labels?.[REFERENCE_LABEL];
      states.push({ id, image: info.Config.Image, ...(deployedAs ? { deployedAs } : {}), imageId: info.Image, running: info.State.Running, health: info.State.Health?.Status });
    }
  }
  return states;
}

async function logsTail(project: ComposeProject, service: string): Promise<string> {
  return runCommand(composeCommands.logs(project, service, LOG_TAIL_LINES)).then(
    (result) => result.stdout.slice(-4000),
    (error: Error) => `(no logs: ${error.message})`,
  );
}

export interface ComposeVersion {
  /**
   * The reference the running container was deployed as: the one given to composeRollout as
   * `reference` (kept in a container label) when ragops deployed it, else what it was created
   * from (Config.Image); without a container, ragops' override entry.
   */
  image: string | null;
  /** The image id the container runs (`sha256:…`). */
  imageId: string | null;
  /** A RepoDigests entry of that image (`repo@sha256:…`), when it has one. */
  repoDigest: string | null;
}

export interface ComposePulled {
  /** The reference asked for. */
  image: string;
  imageId: string;
  repoDigest: string | null;
  /** What to deploy: the repo digest when there is one, else the local image id. */
  pinned: string;
  /** What happened, for the report: "pulled …" or "not pulled (pull: never) …". */
  note: string;
}

export interface ComposeHealth {
  healthy: boolean;
  /** The id the deployed reference resolves to (null: the host does not have it); containers must run exactly it. */
  expectedImageId?: string | null;
  /** Each container: its reference, the image id it runs (always set; optional only so older test fakes still type), state, health. */
  states: Array<{ image: string; imageId?: string; running: boolean; health?: string }>;
  logsTail: string;
  /** Why it is not healthy when no container state says it (e.g. the image is not on the host). */
  reason?: string;
}

async function pullWith(image: string, progress: ProgressHeartbeat, dockerConfig?: string): Promise<void> {
  try {
    await progress.during(runCommand(dockerCommands.pull(image, dockerConfig), { signal: progress.signal }));
  } catch (error) {
    if (!(error instanceof CommandFailed) || error.exitCode === undefined) throw error; // cancelled, timed out, not started
    const kind = classifyPullFailure(error.stderrTail);
    const message = `docker pull ${image} failed: ${error.stderrTail || error.reason}`;
    if (kind === 'missing') throw ApplicationFailure.nonRetryable(`${message} — the registry has no such image or tag`, 'PullFailed');
    if (kind === 'denied') throw ApplicationFailure.nonRetryable(`${message} — access denied: check the registry credentials in the stacks file`, 'PullFailed');
    throw ApplicationFailure.retryable(`${message} — retrying (network or registry fault)`, 'PullFailed');
  }
}

async function pulled(image: string, note: (pinned: string) => string): Promise<ComposePulled> {
  const info = await inspectImage(image);
  if (!info) throw ApplicationFailure.retryable(`image ${image} is not on the host right after it was pulled`, 'PullFailed');
  const repoDigest = isDigestReference(image) ? image : pickRepoDigest(info.RepoDigests, image);
  const pinned = repoDigest ?? info.Id;
  return { image, imageId: info.Id, repoDigest, pinned, note: note(pinned) };
}

export function createComposeActivities() {
  const composeCurrentVersion = async ({ target, service }: { target: ComposeTarget; service: string }): Promise<ComposeVersion> => {
    const states = await containerStates(await projectOf(target), service);
    const container = states.find((s) => s.running) ?? states[0];
    if (container) {
      const image = await inspectImage(container.imageId);
      return { image: container.deployedAs ?? container.image, imageId: container.imageId, repoDigest: pickRepoDigest(image?.RepoDigests, container.deployedAs ?? container.image) };
    }
    // Nothing runs: what ragops deployed last, exact only when the entry itself is.
    const recorded = (await readOverride(overrideFileOf(target))).services[service];
    const entry = recorded?.image ?? null;
    if (!entry) return { image: null, imageId: null, repoDigest: null };
    return {
      image: recorded?.labels?.[REFERENCE_LABEL] ?? entry,
      imageId: imageIdOfPinnedTag(entry) ?? (isImageId(entry) ? entry : null),
      repoDigest: isDigestReference(entry) ? entry : null,
    };
  };

  return {
    composeCurrentVersion,

    /** @deprecated the reference only; use composeCurrentVersion (kept for runs started before it). */
    async composeCurrentImage(input: { target: ComposeTarget; service: string }): Promise<string | null> {
      return (await composeCurrentVersion(input)).image;
    },

    /**
     * Makes `image` present and pins it. `always` (default): `docker pull`, after `docker login`
     * when the stack names a registry (into a DOCKER_CONFIG directory of this call, 0700, removed
     * afterwards, so the worker's own ~/.docker/config.json is never written); a failed pull fails
     * — non-retryable when the registry says no such image or access denied, retryable otherwise —
     * and never falls back to a local copy. `never`: the host's image, failing when it has none.
     */
    async composePull({ image, registry, policy = 'always' }: { image: string; registry?: DeployConfig['registry']; policy?: ComposePullPolicy }): Promise<ComposePulled> {
      if (policy === 'never' || isImageId(image)) {
        const why = policy === 'never' ? 'pull: never' : 'an image id names local content';
        const local = await inspectImage(image);
        if (!local) {
          throw ApplicationFailure.nonRetryable(
            `image ${image} is not on this host and was not pulled (${why}): build or load it on the host, or set pull: always on the target`,
            'PullFailed',
          );
        }
        return pulled(image, (pinned) => `not pulled (${why}): the host's ${image} is ${pinned}`);
      }
      const progress = new ProgressHeartbeat(`pull ${image}`);
      if (!registry) {
        await pullWith(image, progress);
        return pulled(image, (pinned) => `pulled ${image}: ${pinned}`);
      }
      const dockerConfig = await mkdtemp(join(tmpdir(), 'ragops-docker-'));
      try {
        await chmod(dockerConfig, 0o700);
        const password = await resolveSecret(registry.password);
        await runCommand(dockerCommands.login(registry.server, registry.username, dockerConfig), { stdin: Readable.from([password]), signal: progress.signal }).catch((error: Error) => {
          // Wrong credentials stay wrong on a retry; the message is docker's, which never echoes the password.
          throw ApplicationFailure.nonRetryable(error.message, 'RegistryLoginFailed');
        });
        await pullWith(image, progress, dockerConfig);
        return await pulled(image, (pinned) => `pulled ${image} from ${registry.server}: ${pinned}`);
      } finally {
        await rm(dockerConfig, { recursive: true, force: true });
      }
    },

    /**
     * The migration in a one-off container of `image` named `containerName`, run once whatever
     * the retries (see migrate.ts); returns its output, fails MigrationFailed (non-retryable)
     * on a non-zero exit.
     */
    async composeMigrate(input: { target: ComposeTarget; service: string; image: string; command: string[]; containerName: string }): Promise<string> {
      let { containerName } = input;
      if (!containerName) {
        // A caller from before containerName: a name stable across this activity's attempts.
        const { workflowExecution, activityId } = Context.current().info;
        const run = workflowExecution ?? { workflowId: 'standalone', runId: 'standalone' };
        containerName = fallbackContainerName(input.target.projectName, { workflowId: run.workflowId, runId: run.runId, activityId });
      }
      return runMigration({ projectOf, deployableReference, imageIdOf }, { ...input, containerName });
    },

    /**
     * Points the service at `image` in ragops' override file and recreates it (`up -d --no-deps`).
     * `image` may be a pinned reference: `repo@sha256:…` goes in as it is, a bare `sha256:` id as
     * ragops' local tag for it. `reference`, the name people know it by (the tag asked for), is
     * kept as a container label that composeCurrentVersion reports as `image`. The override is
     * read-modify-written one call at a time per project in this worker and replaced atomically.
     */
    async composeRollout({ target, service, image, reference }: { target: ComposeTarget; service: string; image: string; reference?: string | null }): Promise<void> {
      if (reference && !imageReference.safeParse(reference).success) {
        throw ApplicationFailure.nonRetryable(`reference ${JSON.stringify(reference)} is not an image reference`, 'InvalidInput');
      }
      const progress = new ProgressHeartbeat(`up ${service} with ${image}`);
      const deployable = await deployableReference(service, image, progress.signal);
      const entry = reference && reference !== deployable ? { image: deployable, labels: { [REFERENCE_LABEL]: reference } } : { image: deployable };
      await updateOverride(overrideFileOf(target), (services) => ({ ...services, [service]: entry }));
      await progress.during(runCommand(composeCommands.up(await projectOf(target), service), { signal: progress.signal }));
    },

    /**
     * Waits until the service's containers run the image `image` resolves to — compared by image
     * id, so a tag moved meanwhile does not pass for it — and, when the service defines a
     * healthcheck, report healthy; returns the state and the logs tail as evidence.
     */
    async composeServiceHealth({ target, service, image, timeoutSeconds }: { target: ComposeTarget; service: string; image: string; timeoutSeconds: number }): Promise<ComposeHealth> {
      const progress = new ProgressHeartbeat(`compose health of ${service}`);
      const project = await projectOf(target);
      const expectedImageId = await imageIdOf(image);
      const deadline = Date.now() + timeoutSeconds * 1000;
      let states: ContainerState[] = [];
      for (;;) {
        states = await containerStates(project, service);
        const healthy =
          expectedImageId !== null && states.length > 0 && states.every((s) => s.running && s.imageId === expectedImageId && (s.health === undefined || s.health === 'healthy'));
        const hopeless = expectedImageId === null || states.some((s) => s.health === 'unhealthy' || !s.running);
        progress.beat({ states: states.map((s) => `${s.image} (${s.imageId.slice(0, 19)}) ${s.running ? 'running' : 'stopped'} ${s.health ?? ''}`) }, true);
        if (healthy || hopeless || Date.now() > deadline) {
          const wrongImage = states.filter((s) => s.imageId !== expectedImageId).map((s) => s.id.slice(0, 12));
          const reason =
            expectedImageId === null
              ? `image ${image} is not on this host: no container can run it`
              : !healthy && wrongImage.length > 0
                ? `container(s) ${wrongImage.join(', ')} run another image than ${image} (${expectedImageId})`
                : undefined;
          return {
            healthy,
            expectedImageId,
            states: states.map(({ image: i, imageId, running, health }) => ({ image: i, imageId, running, health })),
            logsTail: healthy ? '' : await logsTail(project, service),
            ...(reason ? { reason } : {}),
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    },
  };
}

