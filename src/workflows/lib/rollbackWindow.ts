import type { UpdateDefinition } from '@temporalio/common';
import { condition, setHandler } from '@temporalio/workflow';

export interface RollbackWindowTexts {
  /** Why this run has no window at all (a rolling deploy); undefined when it has one. */
  notApplicable?: string;
  /** Why there is nothing to roll back yet. */
  notOpen: string;
  /** Why it is too late, given when the window closed. */
  closed: (closedAt: string) => string;
  description: string;
}

/** Who asks (for a rollback, an approval), as the caller said: the CLI sends user@host. */
export type CallerRequest = [{ by?: string }?];

/**
 * A rollback window and the `rollback` update that acts in it. The validator refuses, with the
 * reason, a rollback that could not happen — no window, a window not yet open or already closed,
 * a rollback already running — so the caller is told instead of a request being silently
 * ignored. The update returns what the runbook's rollback did (`settle`).
 */
export class RollbackWindow<R> {
  private state: 'not open' | 'open' | 'closed' = 'not open';
  private closedAt?: string;
  requested = false;
  requestedBy?: string;
  private result?: R;

  constructor(update: UpdateDefinition<R, CallerRequest>, private readonly texts: RollbackWindowTexts) {
    setHandler<R, CallerRequest, UpdateDefinition<R, CallerRequest>>(
      update,
      async (request) => {
        this.requested = true;
        this.requestedBy = request?.by;
        await condition(() => this.result !== undefined);
        return this.result!;
      },
      { validator: () => this.validate(), description: texts.description },
    );
  }

  private validate(): void {
    if (this.texts.notApplicable) throw new Error(this.texts.notApplicable);
    if (this.requested) throw new Error('a rollback is already running (or done) for this run');
    if (this.state === 'not open') throw new Error(this.texts.notOpen);
    if (this.state === 'closed') throw new Error(this.texts.closed(this.closedAt!));
  }

  /** Waits for the window to pass (a number is milliseconds, as in Temporal; or "600s"); true when a rollback was asked for in it. */
  async wait(timeout: string | number, summary?: string): Promise<boolean> {
    this.state = 'open';
    const requested = await (summary ? condition(() => this.requested, timeout, { summary }) : condition(() => this.requested, timeout));
    if (!requested) {
      this.state = 'closed';
      this.closedAt = new Date().toISOString();
    }
    return requested;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get closedAtTime(): string | undefined {
    return this.closedAt;
  }

  /** What a waiting `rollback` update returns; also set when the run ends otherwise, so no caller waits forever. */
  settle(result: R): void {
    this.result ??= result;
  }
}
