import { ApplicationFailure } from '@temporalio/activity';
import { isAbsolute, join } from 'node:path';
import type { ComposeTarget } from '../../config/stacks/deploy.js';
import { runCommand } from '../runtime/exec.js';
import { composeCommands, type ComposeFlavor, type ComposeProject } from './commands.js';
import { overrideFileOf, readOverride } from './override.js';

let detected: ComposeFlavor | undefined;

/** v2 when `docker compose` answers, else v1 `docker-compose`; asked once per worker. */
export async function detectFlavor(configured: ComposeFlavor | undefined): Promise<ComposeFlavor> {
  if (configured) return configured;
  if (detected) return detected;
  for (const flavor of ['v2', 'v1'] as const) {
    if (await runCommand(composeCommands.version(flavor)).then(() => true, () => false)) return (detected = flavor);
  }
  throw ApplicationFailure.nonRetryable('neither `docker compose` nor `docker-compose` works on this worker', 'ConfigError');
}

/**
 * The project as ragops runs it: the operator's files (absolute: Compose v1 resolves -f
 * against the working directory, not --project-directory) and `overrideFile` when given and
 * holding any service.
 */
export async function projectOf(target: ComposeTarget, overrideFile: string | undefined = overrideFileOf(target)): Promise<ComposeProject> {
  const flavor = await detectFlavor(target.flavor);
  const hasOverride = overrideFile !== undefined && Object.keys((await readOverride(overrideFile)).services).length > 0;
  const files = target.files.map((file) => (isAbsolute(file) ? file : join(target.directory, file)));
  return { flavor, directory: target.directory, files, projectName: target.projectName, overrideFile: hasOverride ? overrideFile : undefined };
}
