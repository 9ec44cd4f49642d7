import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';

/**
 * Once cancellation was requested, whatever an activity throws — a killed child's exit code,
 * an aborted request — is reported as the cancellation it is. The SDK reports only a
 * CancelledFailure or AbortError as cancelled; anything else would read as a failure, and a
 * workflow waiting for the cancellation to complete (WAIT_CANCELLATION_COMPLETED) would see
 * a failed step instead of a cancelled one.
 */
export function cancellationInterceptor(context: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (error) {
          const { aborted, reason } = context.cancellationSignal;
          if (aborted && reason instanceof Error && error !== reason) throw reason;
          throw error;
        }
      },
    },
  };
}
