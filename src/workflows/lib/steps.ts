import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  isCancellation,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RagopsPhase, RagopsRunbook, RagopsStack } from '../../core/searchAttributes.js';

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

type StepStatus = 'running' | 'done' | 'failed';

interface Step {
  phase: string;
  title: string;
  status: StepStatus;
  detail?: string;
  startedAt: number;
  finishedAt?: number;
}

/**
 * Keeps the UI's "current details" (Markdown) and the RagopsPhase search attribute in step
 * with the runbook, so an operator sees where a run is without reading its history.
 */
export class StepTracker {
  private readonly steps: Step[] = [];
  private headline: string;

  constructor(runbook: string, stack: string) {
    this.headline = `**${runbook}** of stack \`${stack}\``;
    upsertSearchAttributes([
      { key: RagopsStack, value: stack },
      { key: RagopsRunbook, value: runbook },
    ]);
    this.render();
  }

  setHeadline(markdown: string): void {
    this.headline = markdown;
    this.render();
  }

  /** Runs one named step; `describe` turns its result into the line shown when it is done. */
  async step<T>(phase: string, title: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    const step: Step = { phase, title, status: 'running', startedAt: Date.now() };
    this.steps.push(step);
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
      this.render();
    }
  }

  finish(outcome: string): void {
    upsertSearchAttributes([{ key: RagopsPhase, value: 'finished' }]);
    this.headline += ` — ${outcome}`;
    this.render();
  }

  private render(): void {
    const icon: Record<StepStatus, string> = { running: '⏳', done: '✅', failed: '❌' };
    const rows = this.steps.map((step) => {
      const seconds = ((step.finishedAt ?? Date.now()) - step.startedAt) / 1000;
      const detail = (step.detail ?? '').replace(/\|/g, '\\|');
      return `| ${icon[step.status]} | ${step.title} | ${seconds.toFixed(1)} s | ${detail} |`;
    });
    setCurrentDetails(
      [
        this.headline,
        `run \`${workflowInfo().workflowId}\``,
        '',
        '| | step | time | detail |',
        '|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
  }
}
