import type { HttpCheck } from '../../config/stacks/deploy.js';
import type { Saga } from './saga.js';
import type { PulledImage, RunningVersion } from './targets.js';

/** How a deploy strategy moves traffic; the saga around it (./index.ts) is the same for all. */
export interface DeployStrategy {
  /** What serves traffic now, recorded before anything changes. */
  record(): Promise<RunningVersion>;
  /**
   * Puts the pulled image in service and verifies it, registering on the saga how to undo
   * each change before making it. Throws StepFailed when a rollout or a check fails.
   */
  rollOut(pulled: PulledImage, saga: Saga): Promise<void>;
  /** After a verified rollout: what is left (blue-green's window, retiring the old colour). */
  finish(saga: Saga): Promise<void>;
  /** Kubernetes: the Deployment a migration Job takes its pod template from (blue-green: the live colour). */
  migrationSource?(): string;
  /** The checks that verify a rollback (of what served traffic before). */
  rollbackChecks(): HttpCheck[];
}
