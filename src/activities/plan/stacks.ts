import { ApplicationFailure } from '@temporalio/activity';
import { loadStacksFile, stackOrThrow } from '../../config/load.js';
import type { StackConfig, StacksFile } from '../../config/stacks/index.js';

export type LoadStacks = () => Promise<StacksFile>;

/** The stacks file is read at each plan, so an edited file applies to the next run. */
export function stacksLoader(loadStacks: LoadStacks | undefined): LoadStacks {
  return loadStacks ?? (() => loadStacksFile());
}

/** Bad input: fails the run at once, never retried. */
export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidInput');
}

/** A stack named by a run's input; an unknown one is bad input naming `field`. */
export function stackFromInput(stacks: StacksFile, name: string, field = 'stack'): StackConfig {
  try {
    return stackOrThrow(stacks, name);
  } catch (error) {
    throw invalidInput(`${field}: ${(error as Error).message}`);
  }
}
