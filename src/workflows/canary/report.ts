import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CanaryStep } from '../../config/stacks/canary.js';
import type { AnalysisCounters, MeasurementLike } from '../../core/canary.js';
import type { RunningVersion } from '../deploy/targets.js';

export const pauseSignal = defineSignal<[{ reason?: string }?]>('pause');
export const resumeSignal = defineSignal('resume');
export const promoteSignal = defineSignal<[{ full?: boolean }?]>('promote');
export const abortSignal = defineSignal<[{ reason?: string }?]>('abort');
export const setWeightUpdate = defineUpdate<{ weight: number; detail: string }, [{ weight: number; force?: boolean }]>('setWeight');
export const canaryStatusQuery = defineQuery<CanaryReport>('status');

/** Measurements kept in the report (and carried across continue-as-new); older ones are counted. */
export const MEASUREMENTS_KEPT = 50;

export type CanaryOutcome = 'running' | 'promoted' | 'rolled back' | 'aborted';

/** Everything a canary knows: the report while it runs, and what continue-as-new carries. */
export interface CanaryReport {
  stack: string;
  service: string;
  image: string;
  steps: CanaryStep[];
  /** The step being run (0-based); equal to steps.length once every step is done. */
  stepIndex: number;
  /** Analysis rounds done in the current step (so a continued run resumes mid-step). */
  roundInStep: number;
  weight: number;
  paused: { reason: string; since: string } | null;
  stable: RunningVersion | null;
  canary: { pinned: string; digest: string | null } | null;
  launched: boolean;
  measurements: MeasurementLike[];
  measurementCount: number;
  counters: AnalysisCounters;
  lastAnalysisFailed: boolean;
  outcome: CanaryOutcome;
  reason?: string;
  /** How many runs (continue-as-new generations) this canary has taken. */
  generation: number;
}
