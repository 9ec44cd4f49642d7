import { ContinueAsNew, isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import type { NotifyEvent, WithNotify } from '../../config/stacks/notify.js';
import { scrubNotice, webhooksFor, type NoticeDetails } from '../../core/notify.js';
import { notifyActivities } from './activities.js';

/** Marks histories that may hold notice activities; runs recorded before it replay without any. */
export const NOTIFY_PATCH = 'ragops-notify';

function messageOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error && /Activity task failed|Child Workflow execution failed/.test(error.message) ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Tells the stack's webhooks (its plan's `notify` section) what a run wants an operator to
 * know. A notice never fails or holds up the runbook beyond its own delivery: failures are
 * logged and swallowed. With no webhook for an event, nothing is scheduled at all.
 */
export class Notifier {
  private readonly pending = new Set<Promise<void>>();
  /** A failure-class notice went out: the generic "failed" one is not sent on top of it. */
  private told = false;

  constructor(
    private readonly runbook: string,
    private readonly plan: WithNotify & { stack: string },
  ) {}

  /** Sends `event` to every webhook that wants it; resolves when each delivery succeeded or gave up. */
  send(event: NotifyEvent, summary: string, details: NoticeDetails = {}): Promise<void> {
    const webhooks = webhooksFor(this.plan.notify, event);
    if (webhooks.length === 0 || !patched(NOTIFY_PATCH)) return Promise.resolve();
    if (event !== 'approval' && event !== 'dr-result') this.told = true;
    const { workflowId, runId } = workflowInfo();
    const notice = scrubNotice({ event, stack: this.plan.stack, runbook: this.runbook, workflowId, runId, summary, details });
    const sending = Promise.all(
      webhooks.map((webhook) =>
        notifyActivities(`notify ${webhook.name}: ${event}`)
          .sendNotice({ webhook, notice })
          .then(
            () => undefined,
            (error: unknown) => {
              if (!isCancellation(error)) log.warn(`notice "${event}" to webhook ${webhook.name} not delivered: ${messageOf(error)}`);
            },
          ),
      ),
    ).then(() => undefined);
    this.pending.add(sending);
    void sending.then(() => this.pending.delete(sending));
    return sending;
  }

  /** Sends without waiting: the runbook goes on (e.g. while it waits for the approval it announces). */
  inBackground(event: NotifyEvent, summary: string, details: NoticeDetails = {}): void {
    void this.send(event, summary, details);
  }

  /** Waits for notices still being delivered, so the run does not end before they are. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /**
   * Sends "failed" for `error` unless the run was cancelled or continues as new, a more
   * precise notice went out already, or this run is a child (its parent reports).
   */
  async failed(error: unknown, details: NoticeDetails = {}, event: NotifyEvent = 'failed'): Promise<void> {
    if (isCancellation(error) || error instanceof ContinueAsNew) return;
    if (!this.told && !workflowInfo().parent) await this.send(event, messageOf(error), details);
    await this.settled();
  }

  /** Runs `work`; if it fails, says so (see `failed`) and rethrows. */
  async failures<T>(work: () => Promise<T>, eventOf: () => NotifyEvent = () => 'failed'): Promise<T> {
    try {
      const result = await work();
      await this.settled();
      return result;
    } catch (error) {
      await this.failed(error, {}, eventOf());
      throw error;
    }
  }
}
