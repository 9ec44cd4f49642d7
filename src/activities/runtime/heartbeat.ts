import { Context } from '@temporalio/activity';
import { mibPerSecond } from '../../core/format.js';
import { PhaseAnnouncer } from './phaseSignal.js';

export interface ProgressDetails {
  step: string;
  bytes?: number;
  [key: string]: unknown;
}

/**
 * Heartbeats progress from inside an activity, at most once a second. Heartbeats are what
 * tell the server the worker is alive; a stalled stream stops them, so the heartbeat
 * timeout fires and the step is retried elsewhere.
 */
export class ProgressHeartbeat {
  private lastBeatAt = 0;
  private lastDetails: Omit<ProgressDetails, 'step'> = {};
  private currentPhase: string | undefined;
  private readonly startedAt = Date.now();
  private readonly announcer = new PhaseAnnouncer();

  constructor(private readonly step: string) {}

  get context(): Context {
    return Context.current();
  }

  get signal(): AbortSignal {
    return this.context.cancellationSignal;
  }

  /** Details recorded by an earlier attempt of this activity, if any. */
  previousDetails<T>(): T | undefined {
    return this.context.info.heartbeatDetails as T | undefined;
  }

  beat(details: Omit<ProgressDetails, 'step'> = {}, force = false): void {
    this.lastDetails = details;
    const now = Date.now();
    if (!force && now - this.lastBeatAt < 1_000) return;
    this.lastBeatAt = now;
    this.context.heartbeat({ step: this.step, ...details, ...(this.currentPhase ? { phase: this.currentPhase } : {}) });
  }

  /**
   * What the activity is doing now (`restoring data`, `building indexes`, `counting rows`...):
   * carried in every later beat, whatever progress details they repeat. Not sent at once: the
   * next beat (the timer's or a progress one) carries it, so it never holds back real progress.
   * A workflow cannot read heartbeats, so a change is also signalled to the activity's own run
   * (PhaseAnnouncer: fire-and-forget, spaced out), whose current details show it in the UI.
   */
  phase(name: string): void {
    this.currentPhase = name;
    this.announcer.announce(name);
  }

  get currentPhaseName(): string | undefined {
    return this.currentPhase;
  }

  bytes = (bytesSoFar: number): void => {
    this.beat({ bytes: bytesSoFar, mibPerSecond: mibPerSecond(bytesSoFar, this.elapsedMs()) });
  };

  /**
   * Beats on a timer, repeating the latest progress, for as long as `work` runs: also while it
   * waits on something that reports nothing (a child building indexes, a server restoring a
   * snapshot, a count of a big table), so a heartbeat timeout means a dead worker, never a slow
   * phase — and a cancellation request reaches the activity whatever it is doing.
   */
  async during<T>(work: Promise<T>, details?: Omit<ProgressDetails, 'step'>): Promise<T> {
    // Without details of its own, the first beat waits for the timer: an empty heartbeat sent
    // now would hold back the first real progress (the SDK sends one heartbeat per throttle window).
    if (details) this.beat(details, true);
    const timer = setInterval(() => this.beat(this.lastDetails, true), 2_000);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }
}
