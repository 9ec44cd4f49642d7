import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CallerRequest } from '../lib/rollbackWindow.js';
import type { HttpEvidence } from '../../activities/http/index.js';
import type { HttpCheck } from '../../config/stacks/deploy.js';
import type { BackupReport } from '../backup.js';
import { streamingActivities } from '../lib/activities.js';
import type { RunningVersion } from './targets.js';
import type { DeployOptions } from '../../config/inputs.js';
import type { DeployPlan } from '../../config/plan.js';

export const statusQuery = defineQuery<DeployReport>('status');

/** Blue-green: switch back to the old colour while the window is open; returns the verified result. */
export const rollbackUpdate = defineUpdate<RollbackResult, CallerRequest>('rollback');

export interface RollbackResult {
  /** Every compensating action succeeded. */
  ok: boolean;
  /** The checks of what runs again passed; false with `evidence` saying so when none are configured. */
  verified: boolean;
  evidence: string;
  checks: HttpEvidence[];
}

export type DeployOutcome = 'running' | 'deployed' | 'rolled back' | 'rolled back, not verified' | 'failed';

export interface DeployReport {
  stack: string;
  service: string;
  /** The reference asked for (usually a tag). */
  image: string;
  /** What was deployed: the immutable reference (digest or image id) the tag resolved to. */
  deployed?: { pinned: string; digest: string | null };
  strategy: DeployOptions['strategy'];
  target: DeployPlan['target']['type'];
  /** What ran before: a rollback goes back to its `pinned` reference, never to a tag. */
  previous?: RunningVersion;
  backup?: Pick<BackupReport, 'backupId' | 'manifestKey' | 'total'>;
  migrationOutput?: string;
  checks: HttpEvidence[];
  outcome: DeployOutcome;
  failure?: { step: string; reason: string; evidence: string };
  rollback?: RollbackResult;
  blueGreen?: { live: string; idle: string; switchedAt?: string; windowClosedAt?: string; rolledBackAt?: string };
}

export async function runChecks(what: string, checks: HttpCheck[]): Promise<HttpEvidence[]> {
  if (checks.length === 0) return [];
  return streamingActivities(what).runHttpChecks({ checks, what });
}

/** One line per check, the failed ones first: the first line is the reason a run reports. */
export function describeChecks(evidence: HttpEvidence[]): string {
  return [...evidence.filter((e) => !e.passed), ...evidence.filter((e) => e.passed)].map((e) => `${e.passed ? 'ok' : 'FAILED'} ${e.url}: ${e.status ?? e.error} after ${e.attempts} attempt(s)${e.passed ? '' : ` — ${e.bodyTail ?? ''}`}`).join('\n');
}

export const NOT_VERIFIED = 'not verified: no checks configured';
