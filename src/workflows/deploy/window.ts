import { condition, setHandler } from '@temporalio/workflow';
import type { DeployOptions } from '../../config/inputs.js';
import { rollbackUpdate, type RollbackResult } from './report.js';

/**
 * The rollback window of a blue-green deploy, and the `rollback` update that acts in it. The
 * validator refuses, with the reason, a rollback that could not happen — a rolling deploy,
 * a window not yet open or already closed, a rollback already running — so the caller is
 * told instead of a request being silently ignored.
 */
export class RollbackWindow {
  private state: 'not open' | 'open' | 'closed' = 'not open';
  private closedAt?: string;
  requested = false;
  private result?: RollbackResult;

  constructor(private readonly strategy: DeployOptions['strategy']) {
    setHandler(
      rollbackUpdate,
      async () => {
        this.requested = true;
        await condition(() => this.result !== undefined);
        return this.result!;
      },
      { validator: () => this.validate(), description: 'blue-green: switch back to the old colour while the window is open; returns the verified result' },
    );
  }

  private validate(): void {
    if (this.strategy !== 'blueGreen') {
      throw new Error('this is a rolling deploy: it has no rollback window (it rolls back by itself when a step fails); to go back now, deploy the previous image');
    }
    if (this.requested) throw new Error('a rollback is already running (or done) for this deploy');
    if (this.state === 'not open') throw new Error('the new colour is not live yet: there is nothing to roll back; cancel the run to stop the deploy');
    if (this.state === 'closed') throw new Error(`the rollback window closed at ${this.closedAt}; the old colour is scaled to zero — deploy the previous image to go back`);
  }

  /** Waits for the window to pass; true when a rollback was asked for in it. */
  async wait(seconds: number): Promise<boolean> {
    this.state = 'open';
    const requested = await condition(() => this.requested, `${seconds}s`);
    if (!requested) {
      this.state = 'closed';
      this.closedAt = new Date().toISOString();
    }
    return requested;
  }

  get closedAtTime(): string | undefined {
    return this.closedAt;
  }

  /** What a waiting `rollback` update returns; also set when the run ends otherwise, so no caller waits forever. */
  settle(result: RollbackResult): void {
    this.result ??= result;
  }
}
