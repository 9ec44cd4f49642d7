import { setHandler } from '@temporalio/workflow';
import { setWeightRefusal } from '../../core/canary.js';
import { shifterWeightRefusal } from '../../config/stacks/trafficKubernetes.js';
import { abortSignal, canaryStatusQuery, pauseSignal, promoteSignal, resumeSignal, setWeightUpdate, type CanaryReport } from './report.js';

/**
 * The operator's hands on a running canary: signals pause, resume, promote ({full} skips the
 * remaining steps) and abort; the setWeight update, whose validator refuses what must not
 * happen and says why; the status query.
 */
export class Steering {
  abortRequested: string | undefined;
  promoteRequested: { full: boolean } | undefined;
  /** Bumped by every signal, so a wait can tell that something happened. */
  generation = 0;

  constructor(
    private readonly report: CanaryReport,
    maxWeight: number,
    /** The canary's traffic shifter: some take only some weights (a Service selector: 0 or 100). */
    shifter: { type: string },
    applyWeight: (weight: number) => Promise<{ weight: number; detail: string }>,
    /** Shows the change in the UI. */
    changed: () => void,
  ) {
    setHandler(canaryStatusQuery, () => report);
    setHandler(pauseSignal, (request) => {
      if (report.outcome !== 'running' || report.paused) return;
      report.paused = { reason: request?.reason ?? 'paused by the operator', since: new Date().toISOString() };
      this.generation += 1;
      changed();
    });
    setHandler(resumeSignal, () => {
      report.paused = null;
      this.generation += 1;
      changed();
    });
    setHandler(promoteSignal, (request) => {
      this.promoteRequested = { full: request?.full ?? false };
      report.paused = null;
      this.generation += 1;
      changed();
    });
    setHandler(abortSignal, (request) => {
      this.abortRequested = request?.reason ?? 'aborted by the operator';
      this.generation += 1;
      changed();
    });
    setHandler(setWeightUpdate, async ({ weight }) => applyWeight(weight), {
      validator: (request) => {
        const refusal = setWeightRefusal(
          { finished: report.outcome !== 'running', aborted: this.abortRequested !== undefined || report.outcome === 'aborted', lastAnalysisFailed: report.lastAnalysisFailed, weight: report.weight },
          request,
          maxWeight,
        ) ?? shifterWeightRefusal(shifter, request.weight);
        if (refusal) throw new Error(refusal);
      },
      description: 'set the canary weight now (0 to maxWeight); refused while aborted or finished, or raising it after a failed analysis unless force',
    });
  }

  /** Something the loop must act on at once: an abort, or a promotion. */
  get interrupted(): boolean {
    return this.abortRequested !== undefined || this.promoteRequested !== undefined;
  }
}
