import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DrPlan } from '../../config/plan.js';
import type { AgainstTarget, DrPhase } from '../../core/dr.js';
import type { DependencyEvidence } from '../../activities/dr/index.js';
import type { RestoredFreshness } from '../../activities/dr/freshness.js';
import type { HttpEvidence } from '../../activities/http/index.js';
import type { CallerRequest } from '../lib/rollbackWindow.js';

export interface DrPhaseRecord {
  phase: DrPhase;
  outcome: 'done' | 'skipped' | 'failed';
  detail: string;
  startedAt: string;
  durationMs: number;
}

export interface DrReport {
  stack: string;
  mode: 'recover' | 'drill' | 'plan';
  targetStack?: string;
  outcome: 'running' | 'planned' | 'recovered' | 'drilled' | 'not approved' | 'failed';
  phase: DrPhase;
  plan?: DrPlan;
  /** What each phase will do (the assess phase's answer; `mode: plan` stops there). */
  phasePlan?: Array<{ phase: DrPhase; what: string }>;
  approvedBy?: string;
  phases: DrPhaseRecord[];
  restores: Array<{
    kind: string;
    workflowId: string;
    runTag?: string;
    created?: string[];
    redis?: string[];
    /** Clusters recovered from pgBackRest (a drill's into the drill stack's own directory): where, to what point, and each table's rows. */
    clusters?: Array<{ label: string; dataDirectory: string; port: number; recoveredPoint: string | null; tables: Record<string, number> }>;
  }>;
  /** mode drill: what the teardown removed, or kept and why. */
  teardown?: string[];
  deploys: Array<{ service: string; image: string; workflowId: string }>;
  dependencies: DependencyEvidence[];
  validation: HttpEvidence[];
  /** Where each component stands: what the operator needs when a recovery stops half-way. */
  components: Record<string, string>;
  /** From the incident (or the run's start) to validation passing. */
  rto?: AgainstTarget & { from: string; to: string };
  /** From the newest data the restore brought back to the incident. */
  rpo?: AgainstTarget & { dataAsOf: string; incidentAt: string };
  /** The newest value of each restored database's declared freshness column, read before any service wrote again. */
  freshness?: RestoredFreshness[];
  evidenceKey?: string;
  failure?: { phase: DrPhase; reason: string; whatNow: string };
}

export const drStatusQuery = defineQuery<DrReport>('status');
/** `{ by }`: who approves (the CLI sends user@host); only while the run waits in the approve phase. */
export const drApproveUpdate = defineUpdate<{ approvedBy: string }, CallerRequest>('approve');
