import type { Next } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { redactUrls } from '../../core/redact.js';

const MAX_CAUSE_DEPTH = 10;

/**
 * Redacts the URLs in an error's message and stack, and in its causes', in place: the
 * class, `type` and `nonRetryable` of an ApplicationFailure stay as they were.
 */
export function redactError(error: unknown): unknown {
  if (!(error instanceof Error)) return typeof error === 'string' ? redactUrls(error) : error;
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < MAX_CAUSE_DEPTH; depth += 1) {
    current.message = redactUrls(current.message);
    if (typeof current.stack === 'string') current.stack = redactUrls(current.stack);
    current = current.cause;
  }
  return error;
}

/**
 * The safety net under every activity: whatever an activity throws reaches history, the
 * worker's log and the run's failure message only after its URLs lost their query strings
 * and userinfo (a presigned URL echoed in a Qdrant error, a token in a checked URL).
 */
export class RedactingActivityInbound implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (error) {
      throw redactError(error);
    }
  }
}

export const redactingActivityInterceptors: ActivityInterceptorsFactory = () => ({ inbound: new RedactingActivityInbound() });
