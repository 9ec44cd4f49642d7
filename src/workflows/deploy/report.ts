import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { HttpEvidence } from '../../activities/http/index.js';
import type { DeployPlan } from '../../config/plan.js';
import type { BackupReport } from '../backup.js';
import { streamingActivities } from '../lib/activities.js';
import type { CurrentState } from './targets.js';
import type { DeployOptions } from '../../config/inputs.js';

export const rollbackSignal = defineSignal('rollback');
export const statusQuery = defineQuery<DeployReport>('status');

export interface DeployReport {
  stack: string;
  service: string;
  image: string;
  strategy: DeployOptions['strategy'];
  target: DeployPlan['target']['type'];
  previous?: CurrentState;
  backup?: Pick<BackupReport, 'backupId' | 'manifestKey' | 'total'>;
  migrationOutput?: string;
  checks: HttpEvidence[];
  outcome: 'running' | 'deployed' | 'rolled back' | 'failed';
  failure?: { step: string; reason: string; evidence: string };
  rollback?: { ok: boolean; evidence: string; checks: HttpEvidence[] };
  blueGreen?: { live: string; idle: string; switchedAt?: string; rolledBackAt?: string };
}

export async function runChecks(plan: DeployPlan, what: string, checks = [...plan.config.health, ...plan.config.smoke]): Promise<HttpEvidence[]> {
  if (checks.length === 0) return [];
  return streamingActivities(what).runHttpChecks({ checks, what });
}

export function describeChecks(evidence: HttpEvidence[]): string {
  return evidence.map((e) => `${e.passed ? 'ok' : 'FAILED'} ${e.url}: ${e.status ?? e.error} after ${e.attempts} attempt(s)${e.passed ? '' : ` — ${e.bodyTail ?? ''}`}`).join('\n');
}

