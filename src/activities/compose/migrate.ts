// The migration of a Compose deploy, idempotent: it runs in a one-off container of the
// service named for the run, detached and kept until its result is taken, so a retry (the
// worker died mid-migration) finds it by name and waits for it or takes its result instead of
// starting another. The result is recorded in .ragops/migrations/<name>.json before the
// container is removed, so a retry after the removal still never starts a second one.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeTarget } from '../../config/stacks/deploy.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { composeCommands, dockerCommands, type ComposeProject } from './commands.js';
import { isImageId, type InspectedContainer } from './images.js';
import { ragopsDirOf, writeFileAtomically, writeScratchOverride } from './override.js';

export interface MigrationInput {
  target: ComposeTarget;
  service: string;
  /** The image to migrate with: a tag, `repo@sha256:…`, or a bare `sha256:` id. */
  image: string;
  command: string[];
  /**
   * The one-off container's name, made once per run (e.g. `<project>-migrate-<runTag>`) so every
   * attempt of this step looks for the same container.
   */
  containerName: string;
}

/** What a finished migration left: recorded before its container is removed. */
export interface MigrationRecord {
  containerName: string;
  image: string;
  imageId: string;
  exitCode: number;
  output: string;
  finishedAt: string;
}

export interface MigrationDeps {
  projectOf(target: ComposeTarget, overrideFile?: string): Promise<ComposeProject>;
  /** The name to put in a Compose file for `image` (a bare id gets a local tag). */
  deployableReference(service: string, image: string, signal?: AbortSignal): Promise<string>;
  /** The id `image` resolves to on this host, null when the host does not have it. */
  imageIdOf(image: string): Promise<string | null>;
}

/** Docker's container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$/;
const LOG_TAIL_LINES = 200;
const OUTPUT_CHARS = 4_000;
const FAILURE_TAIL_CHARS = 2_000;
const STOP_GRACE_SECONDS = 10;
/** Result records older than this are swept when a later migration of the project runs. */
const RECORD_KEEP_MS = 30 * 24 * 3600_000;

export function migrationRecordFileOf(target: Pick<ComposeTarget, 'directory'>, containerName: string): string {
  return join(ragopsDirOf(target), 'migrations', `${containerName}.json`);
}

/**
 * For an input without a name: one derived from the activity's run and id, the same on every
 * attempt of this activity (not across a Reset: workflows pass a name from their run tag).
 */
export function fallbackContainerName(projectName: string, info: { workflowId: string; runId: string; activityId: string }): string {
  const key = createHash('sha256').update(`${info.workflowId}\0${info.runId}\0${info.activityId}`).digest('hex').slice(0, 12);
  return `${projectName}-migrate-${key}`;
}

async function readRecord(path: string): Promise<MigrationRecord | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as MigrationRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function sweepOldRecords(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    const old = await stat(path).then((s) => Date.now() - s.mtimeMs > RECORD_KEEP_MS, () => false);
    if (old) await rm(path, { force: true });
  }
}

const isNoSuchContainer = (error: unknown) => error instanceof CommandFailed && /no such (container|object)/i.test(error.stderrTail);

/** The container of that name, or null when there is none. */
export async function inspectContainerByName(name: string): Promise<InspectedContainer | null> {
  try {
    const [info] = JSON.parse((await runCommand(dockerCommands.inspectContainer(name))).stdout) as InspectedContainer[];
    return info ?? null;
  } catch (error) {
    if (isNoSuchContainer(error)) return null;
    throw error;
  }
}

/** Stops (grace period, then killed) and removes the container; nothing to do when it is gone. */
export async function removeContainer(name: string): Promise<void> {
  await runCommand(dockerCommands.stop(name, STOP_GRACE_SECONDS)).catch(() => undefined);
  await runCommand(dockerCommands.remove(name)).catch((error: unknown) => {
    if (!isNoSuchContainer(error)) throw error;
  });
}

function failure(input: Pick<MigrationInput, 'command' | 'image'>, record: MigrationRecord): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `migration \`${input.command.join(' ')}\` with ${input.image} failed (exit ${record.exitCode}) in container ${record.containerName}: ${record.output.slice(-FAILURE_TAIL_CHARS)}`,
    'MigrationFailed',
  );
}

function settle(input: Pick<MigrationInput, 'command' | 'image'>, record: MigrationRecord): string {
  if (record.exitCode !== 0) throw failure(input, record);
  return record.output;
}

/** Creates and starts the named one-off container of the service with `image`; a name already taken is left to the caller. */
async function startContainer(deps: MigrationDeps, input: MigrationInput, progress: ProgressHeartbeat): Promise<void> {
  const { target, service, containerName, command } = input;
  const reference = await deps.deployableReference(service, input.image, progress.signal);
  const scratch = await writeScratchOverride(target, service, reference);
  try {
    const project = await deps.projectOf(target, scratch.path);
    await progress.during(runCommand(composeCommands.runDetached(project, service, containerName, command), { signal: progress.signal }), { container: containerName, state: 'creating' });
  } catch (error) {
    // Another attempt created it meanwhile: the daemon refused a second container of that name.
    if (!(error instanceof CommandFailed && /already in use/i.test(error.stderrTail))) throw error;
  } finally {
    await scratch.remove();
  }
}

/**
 * Runs the migration once per container name and returns its output (the logs tail); a
 * non-zero exit fails non-retryably (MigrationFailed) with the logs tail. Cancelled (the
 * workflow asked): the container is stopped and removed. Any other interruption (worker
 * shutdown or death, heartbeat timeout) leaves it running for the next attempt to wait on.
 */
export async function runMigration(deps: MigrationDeps, input: MigrationInput): Promise<string> {
  const { containerName } = input;
  if (!CONTAINER_NAME.test(containerName)) {
    throw ApplicationFailure.nonRetryable(`${JSON.stringify(containerName)} is not a container name (letters, digits, "_", "." and "-")`, 'InvalidInput');
  }
  const progress = new ProgressHeartbeat(`migration ${containerName}`);
  const recordFile = migrationRecordFileOf(input.target, containerName);
  const earlier = await readRecord(recordFile);
  if (earlier) return settle(input, earlier);
  await mkdir(join(ragopsDirOf(input.target), 'migrations'), { recursive: true });
  await sweepOldRecords(join(ragopsDirOf(input.target), 'migrations'));

  try {
    const expectedId = await deps.imageIdOf(input.image);
    let container = await inspectContainerByName(containerName);
    if (container) {
      progress.phase(`found migration container ${containerName} (${container.State.Status})`);
    } else {
      progress.phase(`starting migration container ${containerName}`);
      await startContainer(deps, input, progress);
      container = await inspectContainerByName(containerName);
      if (!container) throw ApplicationFailure.retryable(`migration container ${containerName} was created but is gone`, 'MigrationContainerGone');
    }
    if (expectedId && container.Image !== expectedId) {
      throw ApplicationFailure.nonRetryable(
        `a container named ${containerName} exists from image ${container.Image}, not ${input.image} (${expectedId}); remove it if it is not this run's migration`,
        'MigrationConflict',
      );
    }
    const restart = container.HostConfig?.RestartPolicy?.Name ?? '';
    if (restart !== '' && restart !== 'no') {
      // A migration that failed must not run again by itself; compose run normally drops the policy.
      await runCommand(dockerCommands.noRestart(containerName));
    }
    if (container.State.Status === 'created') await runCommand(dockerCommands.start(containerName), { signal: progress.signal });

    if (container.State.Status !== 'exited' && container.State.Status !== 'dead') {
      progress.phase(`waiting for migration ${containerName}`);
      await progress.during(runCommand(dockerCommands.wait(containerName), { signal: progress.signal }), { container: containerName, state: 'running' });
    }
    const finished = await inspectContainerByName(containerName);
    if (!finished) {
      // Removed by someone else after it ran: its record, if any, tells the result.
      const record = await readRecord(recordFile);
      if (record) return settle(input, record);
      throw ApplicationFailure.nonRetryable(`migration container ${containerName} disappeared before its result was taken; check the database and run the deploy again`, 'MigrationFailed');
    }
    const logs = await runCommand(dockerCommands.logs(containerName, LOG_TAIL_LINES));
    const record: MigrationRecord = {
      containerName,
      image: input.image,
      imageId: finished.Image,
      exitCode: finished.State.ExitCode,
      output: `${logs.stdout}${logs.stdout && logs.stderr ? '\n' : ''}${logs.stderr}`.slice(-OUTPUT_CHARS),
      finishedAt: new Date().toISOString(),
    };
    await writeFileAtomically(recordFile, `${JSON.stringify(record, null, 2)}\n`);
    await removeContainer(containerName);
    return settle(input, record);
  } catch (error) {
    if (Context.current().cancellationDetails?.cancelRequested) {
      await removeContainer(containerName).catch((cleanup: unknown) => Context.current().log.warn('migration container not removed after cancellation', { containerName, error: String(cleanup) }));
    }
    throw error;
  }
}
