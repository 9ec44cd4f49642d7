import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  defineSignal,
  isCancellation,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityPhase, ActivityPhaseSignalName } from '../../activities/runtime/phaseSignal.js';
import { RagopsPhase, RagopsRunbook, RagopsStack } from '../../core/searchAttributes.js';
import { STEP_STATUS_CELL } from '../../core/webUi.js';

const activityPhaseSignalName: ActivityPhaseSignalName = 'ragopsActivityPhase';
/** Sent by an activity of this run when its phase changes (ProgressHeartbeat.phase); shown, never acted on. */
export const activityPhaseSignal = defineSignal<[ActivityPhase]>(activityPhaseSignalName);

/**
 * An activity failure reads "Activity task failed" in the UI; the run's failure should say
 * which step failed and why, keeping the failure type (InvalidInput, ChecksumMismatch...).
 */
function explainFailure(title: string, error: unknown): unknown {
  if (isCancellation(error) || !(error instanceof ActivityFailure || error instanceof ChildWorkflowFailure)) return error;
  let root: Error = error;
  while (root.cause instanceof Error) root = root.cause;
  return ApplicationFailure.create({
    message: `${title} failed: ${root.message}`,
    type: root instanceof ApplicationFailure && root.type ? root.type : 'StepFailed',
    nonRetryable: true,
    cause: error,
  });
}

/** Step rows shown in the current details; older ones are summarised in one row. */
const MAX_ROWS = 40;

type StepStatus = 'running' | 'done' | 'failed';

interface Step {
  phase: string;
  title: string;
  status: StepStatus;
  detail?: string;
  startedAt: number;
  finishedAt?: number;
  /** While it runs: the latest phase an activity of the step signalled (`restoring data`...). */
  activityPhase?: string;
  activityIds: Set<string>;
}

/**
 * Keeps the UI's "current details" (Markdown) and the RagopsPhase search attribute in step
 * with the runbook, so an operator sees where a run is without reading its history. The
 * running step's row shows what its activity is doing now (the phase it signals); a finished
 * step's row shows its outcome.
 */
export class StepTracker {
  private readonly steps: Step[] = [];
  private headline: string;
  /** A runbook's own block under the step table (the canary's steps and measurements). */
  private section = '';
  private phase = '';
  /** Activities of finished steps: a signal of theirs that comes late is not shown on a later step. */
  private readonly finishedActivities = new Set<string>();

  constructor(runbook: string, stack: string) {
    this.headline = `**${runbook}** of stack \`${stack}\``;
    upsertSearchAttributes([
      { key: RagopsStack, value: stack },
      { key: RagopsRunbook, value: runbook },
    ]);
    // Registering a handler adds no command: histories recorded before it replay unchanged.
    setHandler(activityPhaseSignal, (update) => this.showActivityPhase(update), {
      description: "an activity's current phase, shown in the running step's row of the current details",
    });
    this.render();
  }

  setHeadline(markdown: string): void {
    this.headline = markdown;
    this.render();
  }

  setSection(markdown: string): void {
    if (markdown === this.section) return;
    this.section = markdown;
    this.render();
  }

  /** Sets RagopsPhase without a step of its own (a canary's pause holds no activity). */
  setPhase(phase: string): void {
    if (phase === this.phase) return;
    this.phase = phase;
    upsertSearchAttributes([{ key: RagopsPhase, value: phase }]);
  }

  /** Runs one named step; `describe` turns its result into the line shown when it is done. */
  async step<T>(phase: string, title: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    const step: Step = { phase, title, status: 'running', startedAt: Date.now(), activityIds: new Set() };
    this.steps.push(step);
    this.phase = phase;
    upsertSearchAttributes([{ key: RagopsPhase, value: phase }]);
    this.render();
    try {
      const result = await work();
      step.status = 'done';
      step.detail = describe?.(result);
      return result;
    } catch (error) {
      step.status = 'failed';
      const explained = explainFailure(title, error);
      step.detail = explained instanceof Error ? explained.message.split('\n')[0] : String(explained);
      throw explained;
    } finally {
      step.finishedAt = Date.now();
      step.activityPhase = undefined;
      for (const id of step.activityIds) this.finishedActivities.add(id);
      this.render();
    }
  }

  /**
   * Shows an activity's phase on the innermost running step that began before the activity was
   * scheduled: an activity of an earlier step was scheduled before any running step began, so
   * its late signal lands nowhere. Anything malformed is ignored: this is display only.
   */
  private showActivityPhase(update: ActivityPhase): void {
    const { activityId, phase, scheduledAt } = (update ?? {}) as Partial<ActivityPhase>;
    if (typeof activityId !== 'string' || typeof phase !== 'string' || typeof scheduledAt !== 'number') return;
    if (this.finishedActivities.has(activityId)) return;
    let step: Step | undefined;
    for (let i = this.steps.length - 1; i >= 0 && !step; i--) {
      const candidate = this.steps[i]!;
      if (candidate.status === 'running' && candidate.startedAt <= scheduledAt) step = candidate;
    }
    if (!step) return;
    step.activityIds.add(activityId);
    step.activityPhase = phase.replace(/\s+/g, ' ').trim().slice(0, 120);
    this.render();
  }

  finish(outcome: string): void {
    this.phase = 'finished';
    upsertSearchAttributes([{ key: RagopsPhase, value: 'finished' }]);
    this.headline += ` — ${outcome}`;
    this.render();
  }

  private render(): void {
    const icon: Record<StepStatus, string> = STEP_STATUS_CELL;
    // A long run (a canary measuring for days) would grow the details without bound: the oldest rows go.
    const hidden = Math.max(0, this.steps.length - MAX_ROWS);
    const rows = this.steps.slice(hidden).map((step) => {
      const seconds = ((step.finishedAt ?? Date.now()) - step.startedAt) / 1000;
      const detail = (step.detail ?? step.activityPhase ?? '').replace(/\|/g, '\\|');
      return `| ${icon[step.status]} | ${step.title} | ${seconds.toFixed(1)} s | ${detail} |`;
    });
    setCurrentDetails(
      [
        this.headline,
        `run \`${workflowInfo().workflowId}\``,
        '',
        '| | step | time | detail |',
        '|---|---|---|---|',
        ...(hidden > 0 ? [`| | … ${hidden} earlier steps | | |`] : []),
        ...rows,
        ...(this.section ? ['', this.section] : []),
      ].join('\n'),
    );
  }
}
