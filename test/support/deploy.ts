import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import type { DeployReport } from '../../src/workflows/deploy/index.js';

/** The failure of a deploy run: its message and the report in its details. */
export async function deployFailure(result: Promise<unknown>): Promise<{ message: string; type?: string; report: DeployReport }> {
  const failure = await result.then(
    () => assert.fail('the deploy succeeded'),
    (error: unknown) => error,
  );
  assert.ok(failure instanceof WorkflowFailedError, String(failure));
  const cause = failure.cause as Error & { type?: string; details?: unknown[] };
  return { message: cause.message, type: cause.type, report: cause.details?.[0] as DeployReport };
}
