import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/**
 * The signal an activity sends its own workflow run when its phase changes, so the run's
 * "current details" (StepTracker) can show it: a workflow cannot read heartbeat details.
 * Workflows import these as types only (DESIGN.md §4); the name is checked on both sides.
 */
export const ACTIVITY_PHASE_SIGNAL = 'ragopsActivityPhase';
export type ActivityPhaseSignalName = typeof ACTIVITY_PHASE_SIGNAL;

/**
 * Only the phase and which activity it is: no inputs, no progress figures, nothing secret.
 * `scheduledAt` (the activity's first scheduling, ms since the epoch, server time) lets the
 * workflow tell the running step's activity from one of an earlier step whose signal came late.
 */
export interface ActivityPhase {
  activityId: string;
  phase: string;
  scheduledAt: number;
}

interface Target {
  send(phase: string): Promise<void>;
  log: Context['log'];
  /** The activity's: once cancelled, the worker's client aborts the activity's calls. */
  cancelled: AbortSignal;
}

/** A signal that takes longer than this is given up (and logged): it is only for display. */
const SIGNAL_DEADLINE_MS = 10_000;

/**
 * Sends the workflow each phase change, fire-and-forget: never awaited by the activity, never
 * failing it, one signal in flight at a time (so they arrive in order), and spaced out — 2 s
 * apart at first, up to a minute on long activities — with only the latest phase sent after a
 * pause, so a phase that flaps (pg_restore with jobs: COPY, then an index, then COPY...) keeps
 * the run's history small. Without a client (an activity test environment, code run outside
 * an activity, a standalone activity) it does nothing.
 */
export class PhaseAnnouncer {
  private target: Target | null | undefined;
  private wanted: string | undefined;
  private sent: string | undefined;
  private inFlight = false;
  private lastSentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  announce(phase: string): void {
    this.wanted = phase;
    this.pump();
  }

  private gapMs(): number {
    return Math.max(2_000, Math.min(60_000, (Date.now() - this.startedAt) / 20));
  }

  private pump(): void {
    if (this.inFlight || this.timer || this.wanted === undefined || this.wanted === this.sent) return;
    const wait = this.lastSentAt + this.gapMs() - Date.now();
    if (this.lastSentAt > 0 && wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      this.timer.unref();
      return;
    }
    const target = this.resolveTarget();
    if (!target) return;
    const phase = this.wanted;
    this.sent = phase;
    this.inFlight = true;
    this.lastSentAt = Date.now();
    target
      .send(phase)
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        // The run closed (or was reset) meanwhile, or the activity was cancelled: nothing to show it to.
        if (error instanceof WorkflowNotFoundError || target.cancelled.aborted) target.log.debug('activity phase not signalled: the run is closed or the activity cancelled', { phase, error: message });
        else target.log.warn('activity phase not signalled to its workflow: the run\'s current details miss it (the activity goes on)', { phase, error: message });
      })
      .finally(() => {
        this.inFlight = false;
        this.pump();
      });
  }

  /**
   * The activity's own run (this run id: never a later run of the workflow id), through the
   * worker's own client (`Context.client`): a ProgressHeartbeat is made inside each activity,
   * away from its deps, so not ActivityDeps.temporalClient. Null when there is none to reach.
   */
  private resolveTarget(): Target | null {
    if (this.target !== undefined) return this.target;
    this.target = null;
    let context: Context;
    let client: Client;
    try {
      context = Context.current();
      client = context.client; // throws in a MockActivityEnvironment built without a client
    } catch {
      return null;
    }
    const { workflowExecution, activityId, scheduledTimestampMs } = context.info;
    if (!workflowExecution) return null;
    const handle = client.workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId);
    this.target = {
      log: context.log,
      cancelled: context.cancellationSignal,
      send: async (phase) => {
        const payload: ActivityPhase = { activityId, phase, scheduledAt: scheduledTimestampMs };
        await client.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () => handle.signal<[ActivityPhase]>(ACTIVITY_PHASE_SIGNAL, payload));
      },
    };
    return this.target;
  }
}
