import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { IngestProgress } from '../../activities/reingest/index.js';
import type { ReingestPlan } from '../../config/plan.js';
import type { GateFigures } from '../../core/reingest.js';
import type { CallerRequest } from '../lib/rollbackWindow.js';

export type ReingestPhase = 'plan' | 'create' | 'ingest' | 'catch-up' | 'validate' | 'approve' | 'switch' | 'window' | 'finished';

export type ReingestOutcome = 'running' | 'switched' | 'rolled back' | 'gate failed' | 'not approved' | 'cancelled' | 'failed';

export interface AliasRollbackResult {
  ok: boolean;
  /** The collection the alias points at after the rollback. */
  alias: string;
  to: string;
  detail: string;
}

/** Everything a re-ingestion knows: the status query's answer, the result, and what continue-as-new carries. */
export interface ReingestReport {
  stack: string;
  alias: string;
  source: string;
  embedder: string;
  phase: ReingestPhase;
  outcome: ReingestOutcome;
  reason?: string;
  /** The collection the alias pointed at when the run began (deleted after the window). */
  live: string | null;
  livePoints: number | null;
  /** The run's new collection. */
  collection: string | null;
  vectorSize: number | null;
  /** How the new collection differs from the live one (empty: a pure clone). */
  configChanges: string[];
  sourceRows: number | null;
  ingest: IngestProgress & { startedAtMs: number | null; rowsPerSecond: number; etaSeconds: number | null; done: boolean };
  /** The source database's clock before the first page, when the source declares `updatedAt`. */
  sourceClock: string | null;
  /** The catch-up pass over rows changed during the ingestion (from the clock less a margin), or why there was none. */
  catchUp: { since: string; progress: IngestProgress; done: boolean } | { skipped: string } | null;
  parity: { sourceRows: number; points: number; passed: boolean; detail: string } | null;
  gate: GateFigures | null;
  liveUnavailable?: string;
  switchedAt: string | null;
  approvedBy: string | null;
  windowUntil: string | null;
  rollback: (AliasRollbackResult & { by: string | null; at: string }) | null;
  oldCollectionDeleted: boolean;
  newCollectionDeleted: boolean;
  /** Runs this re-ingestion has taken (continue-as-new generations). */
  generation: number;
}

/** What a continued run carries besides the report: the plan, so nothing is resolved twice. */
export interface ReingestCarried {
  report: ReingestReport;
  plan: ReingestPlan;
  vectorName?: string;
  liveVectorName?: string;
}

export const reingestStatusQuery = defineQuery<ReingestReport>('status');
/** Same argument as rollback: `{ by }`, who approves (the CLI sends user@host). */
export const approveUpdate = defineUpdate<{ switchedTo: string }, CallerRequest>('approve');
export const reingestRollbackUpdate = defineUpdate<AliasRollbackResult, CallerRequest>('rollback');
