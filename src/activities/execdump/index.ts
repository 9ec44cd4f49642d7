import { ApplicationFailure } from '@temporalio/common';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { resolveSecret } from '../../config/secrets.js';
import type { SecretRef } from '../../config/secretRef.js';
import { execRunKind, type ExecDumpArtifact, type ExecDumpComponent } from '../../config/stacks/execdump.js';
import type { StoreConfig } from '../../config/stacks/store.js';
import { CommandFailed, runCommand, streamCommand, type CommandSpec } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { isArtifactDecryptionError } from '../store/encryption.js';
import { HashingMeter, hashStored, putHashed } from '../store/hashing.js';
import type { ArtifactStore } from '../store/types.js';
import { withArtifactStore } from '../store/open.js';
import { execDumpCommands, type ExecCommand } from './commands.js';
import { drillChecksOf, type DrillCheck } from '../runtime/drillCheck.js';

export { execCommand, execDumpCommands, describeRun, KUBE_ENV_PROLOGUE } from './commands.js';

export interface ExecDumpDeps {
  /** Where drills make their scratch directories (default: the OS temp directory). */
  scratchRoot?: string;
}

export interface ExecDumpRequest {
  component: ExecDumpComponent;
  store: StoreConfig;
  /** With `encryption.clientSide`, the artifact is encrypted before the store sees it. */
  key: string;
}

/**
 * Streams a stored artifact (decrypted, hashed on the way) into `command`'s stdin. Says how the
 * command ended: `failure` (with the store's own error, if it failed first), or `cutShort` when it
 * exited before reading everything; the meter has what was read.
 */
async function feedArtifact(
  store: ArtifactStore,
  key: string,
  command: CommandSpec,
  options: { signal: AbortSignal; timeoutMs: number; onProgress: ConstructorParameters<typeof HashingMeter>[0] },
): Promise<{ meter: HashingMeter; failure?: unknown; sourceError?: Error; cutShort: boolean }> {
  const body = await store.get(key, { signal: options.signal });
  const meter = new HashingMeter(options.onProgress);
  let sourceError: Error | undefined;
  body.on('error', (error) => {
    sourceError ??= error;
    meter.destroy(error);
  });
  body.pipe(meter);
  try {
    await runCommand(command, { signal: options.signal, timeoutMs: options.timeoutMs, stdin: meter });
  } catch (failure) {
    body.destroy();
    return { meter, failure: failure ?? new Error(`${command.purpose} failed`), sourceError, cutShort: false };
  }
  if (!meter.readableEnded) {
    body.destroy();
    meter.destroy();
    return { meter, sourceError, cutShort: true };
  }
  return { meter, sourceError, cutShort: false };
}

export interface ExecRestoreRequest {
  /** The target stack's exec dump, with its `restore` section. */
  component: ExecDumpComponent & { restore: NonNullable<ExecDumpComponent['restore']> };
  store: StoreConfig;
  artifact: ExecDumpArtifact;
}

export interface ExecRestoreResult {
  label: string;
  bytes: number;
  sha256: string;
  detail: string;
}

export interface ExecDrillRequest {
  component: ExecDumpComponent;
  store: StoreConfig;
  artifact: ExecDumpArtifact;
}

/** One drill check, as the manifest's VerificationCheck with component "exec". */
export type ExecDrillCheckResult = DrillCheck<'exec'>;

/** A figure is a short answer (a count, "ok"), recorded in the manifest. */
const MAX_FIGURE_CHARS = 4_000;

async function resolveEnv(component: ExecDumpComponent, refs: Record<string, SecretRef> = component.env ?? {}): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [name, ref] of Object.entries(refs)) {
    try {
      env[name] = await resolveSecret(ref as SecretRef);
    } catch (error) {
      throw new Error(`exec dump ${component.name}: ${name}: ${(error as Error).message}`);
    }
  }
  return env;
}

const stdinOf = (command: ExecCommand) => (command.stdinText === undefined ? undefined : Readable.from([command.stdinText]));

function figureOf(stdout: string, what: string): string {
  const figure = stdout.trim();
  if (figure.length > MAX_FIGURE_CHARS) throw new Error(`${what} printed ${figure.length} characters; a figure is a short answer (a count, "ok"), at most ${MAX_FIGURE_CHARS}`);
  return figure;
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function createExecDumpActivities(deps: ExecDumpDeps = {}) {
  return {
    /**
     * Runs the component's command and streams its stdout through SHA-256 into the store under
     * `key` (encrypted first when the stack asks). A command that fails, even after writing,
     * fails the step naming the component and its stderr tail, and leaves no object. The drill
     * checks' figures are taken first, where the dump runs. A retry starts over under the same key.
     */
    async execDump(request: ExecDumpRequest): Promise<ExecDumpArtifact> {
      const { component, key } = request;
      const progress = new ProgressHeartbeat(`exec dump ${component.name}`);
      const env = await resolveEnv(component);
      const timeoutMs = component.timeoutMinutes * 60_000;
      return progress.during(withArtifactStore(request.store, async (store) => {
        const volumeCheck = execDumpCommands.volumeExists(component);
        if (volumeCheck) {
          await runCommand(volumeCheck, { signal: progress.signal, timeoutMs: 60_000 }).catch((error: unknown) => {
            if (!(error instanceof CommandFailed) || !/no such volume/i.test(error.stderrTail)) throw error;
            throw ApplicationFailure.nonRetryable(
              `exec dump ${component.name}: the Docker volume "${(component.run as { volume: { name: string } }).volume.name}" does not exist (docker volume ls lists the volumes; Compose prefixes them with the project name)`,
              'ExecDumpVolumeMissing',
            );
          });
        }
        const figures: Record<string, string> = {};
        for (const check of component.drill?.checks ?? []) {
          if (!check.figure) continue;
          progress.phase(`figure ${check.name}`);
          const command = execDumpCommands.figure(component, check.name, check.figure, env);
          const { stdout } = await runCommand(command, { signal: progress.signal, timeoutMs, stdin: stdinOf(command) });
          figures[check.name] = figureOf(stdout, command.purpose);
        }
        await store.discardUnfinished(key);
        progress.phase('dumping');
        const command = execDumpCommands.dump(component, env);
        const dump = streamCommand(command, { signal: progress.signal, timeoutMs, stdin: stdinOf(command) });
        const stored = await putHashed(store, key, dump.stdout, {
          signal: progress.signal,
          onProgress: progress.bytes,
          sourceSucceeded: dump.finished,
          contentType: 'application/octet-stream',
        });
        return {
          component: 'exec' as const,
          name: component.name,
          key,
          ...stored,
          durationMs: progress.elapsedMs(),
          kind: execRunKind(component.run),
          command: [...command.argv],
          figures,
        };
      }));
    },

    /**
     * Restores an exec dump: the artifact is read once through SHA-256 and checked against the
     * manifest before anything runs (a corrupt or altered artifact touches nothing), then
     * streamed again (decrypted when stored encrypted) into the component's `restore` command,
     * checked again on the way. A retry runs the command again with the whole artifact.
     */
    async restoreExecDump(request: ExecRestoreRequest): Promise<ExecRestoreResult> {
      const { component, artifact } = request;
      const progress = new ProgressHeartbeat(`restore exec dump ${artifact.name}`);
      const env = await resolveEnv(component, component.restore.env);
      const timeoutMs = component.restore.timeoutMinutes * 60_000;
      // ChecksumMismatch: found before the command ran (nothing touched); ExecRestoreChecksumMismatch: the store gave other bytes the second time.
      const differs = (bytes: number, sha256: string, type: string) =>
        sha256 !== artifact.sha256 || bytes !== artifact.size
          ? ApplicationFailure.nonRetryable(`exec dump ${artifact.name}: ${artifact.key} reads as ${bytes} bytes, sha256 ${sha256}; the manifest records ${artifact.size} bytes, ${artifact.sha256}`, type)
          : undefined;
      return progress.during(withArtifactStore(request.store, async (store) => {
        progress.phase('checking the artifact');
        const stored = await hashStored(store, artifact.key, { signal: progress.signal, onProgress: progress.bytes }).catch((error: unknown) => {
          if (isArtifactDecryptionError(error)) throw ApplicationFailure.nonRetryable(`exec dump ${artifact.name}: ${artifact.key}: ${errorText(error)}`, 'ChecksumMismatch');
          throw error;
        });
        const checked = differs(stored.size, stored.sha256, 'ChecksumMismatch');
        if (checked) throw checked;

        progress.phase('restoring');
        const command = execDumpCommands.restore(component, env);
        const fed = await feedArtifact(store, artifact.key, command, { signal: progress.signal, timeoutMs, onProgress: progress.bytes });
        if (fed.failure !== undefined) throw fed.failure;
        const { meter } = fed;
        if (fed.cutShort) {
          throw ApplicationFailure.nonRetryable(`${command.purpose} exited before reading the whole artifact (${meter.bytes} of ${artifact.size} bytes); what it restored may be partial`, 'ExecRestoreIncomplete');
        }
        const sha256 = meter.hash.digest('hex');
        const streamed = differs(meter.bytes, sha256, 'ExecRestoreChecksumMismatch');
        if (streamed) throw streamed;
        return {
          label: artifact.name,
          bytes: meter.bytes,
          sha256,
          detail: `${meter.bytes} bytes (sha256 as in the manifest) through ${component.restore.argv.join(' ')}`,
        };
      }));
    },

    /**
     * Restore drill: streams the artifact (decrypting, hashing) into the drill's restore command,
     * which restores into a scratch directory of ragops' own, then runs each check there and
     * compares its figure with the one recorded at backup time (or the fixed `expect`). The
     * scratch directory is removed whatever happens. A wrong key, a corrupt or altered artifact,
     * a failing restore or check, or a different figure fail the drill; a check with nothing to
     * compare against is inconclusive. Store or worker faults throw (the drill could not run).
     */
    async drillExecDump(request: ExecDrillRequest): Promise<ExecDrillCheckResult[]> {
      const { component, artifact } = request;
      const check = drillChecksOf('exec', artifact.name);
      const drill = component.drill;
      if (!drill) {
        return [check('restore', 'inconclusive', `exec dump ${component.name} has no drill (drill.restore) in the stacks file: nothing restored`, {}, Date.now())];
      }
      const progress = new ProgressHeartbeat(`restore drill ${artifact.name}`);
      const timeoutMs = drill.timeoutMinutes * 60_000;
      const scratch = await mkdtemp(join(deps.scratchRoot ?? tmpdir(), `ragops-drill-${component.name}-`));
      try {
        return await progress.during(withArtifactStore(request.store, async (store) => {
          const results: ExecDrillCheckResult[] = [];
          const started = Date.now();
          progress.phase('restoring');
          const restore = execDumpCommands.drill(component, 'restore', drill.restore, scratch);
          const fed = await feedArtifact(store, artifact.key, restore, { signal: progress.signal, timeoutMs, onProgress: progress.bytes });
          const { meter, sourceError } = fed;
          if (fed.failure !== undefined) {
            progress.signal.throwIfAborted();
            // The artifact's own fault (wrong key, altered or cut ciphertext) says more than the killed restore.
            const cause = sourceError ?? fed.failure;
            if (sourceError && !isArtifactDecryptionError(sourceError)) throw sourceError; // the store failed: could not check
            const text = errorText(cause);
            results.push(check('restore', 'failed', text.includes(artifact.key) ? text : `${artifact.key}: ${text}`, { bytes: meter.bytes }, started));
            return results;
          }
          if (fed.cutShort) {
            results.push(check('restore', 'failed', `${restore.purpose} exited before reading the whole artifact (${meter.bytes} of ${artifact.size} bytes)`, { bytes: meter.bytes }, started));
            return results;
          }
          const sha256 = meter.hash.digest('hex');
          const whole = sha256 === artifact.sha256 && meter.bytes === artifact.size;
          results.push(check(
            'restore',
            whole ? 'passed' : 'failed',
            `restored ${meter.bytes} bytes into a scratch directory; sha256 ${whole ? 'matches' : `${sha256} DIFFERS from`} the manifest${whole ? '' : `'s ${artifact.sha256} (${artifact.size} bytes)`}`,
            { bytes: meter.bytes, sha256 },
            started,
          ));
          if (!whole) return results;

          for (const configured of drill.checks) {
            const checkStarted = Date.now();
            progress.phase(`check ${configured.name}`);
            const command = execDumpCommands.drill(component, `check "${configured.name}"`, configured.argv, scratch);
            let figure: string;
            try {
              figure = figureOf((await runCommand(command, { signal: progress.signal, timeoutMs })).stdout, command.purpose);
            } catch (error) {
              progress.signal.throwIfAborted();
              results.push(check(configured.name, 'failed', errorText(error), {}, checkStarted));
              continue;
            }
            const expected = artifact.figures?.[configured.name] ?? configured.expect;
            if (expected === undefined) {
              const why = configured.figure ? 'the backup recorded no figure for it (taken before the check was configured?)' : 'it has neither figure nor expect';
              results.push(check(configured.name, 'inconclusive', `printed "${figure}", but nothing to compare with: ${why}`, { figure }, checkStarted));
              continue;
            }
            const same = figure === expected;
            results.push(check(
              configured.name,
              same ? 'passed' : 'failed',
              same ? `"${figure}" as expected` : `printed "${figure}", expected "${expected}"${configured.figure ? ' (recorded at backup time)' : ''}`,
              { figure, expected },
              checkStarted,
            ));
          }
          return results;
        }));
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}

export type ExecDumpActivities = ReturnType<typeof createExecDumpActivities>;
export { CommandFailed };
