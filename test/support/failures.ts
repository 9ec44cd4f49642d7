import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';

/** The ApplicationFailure a call fails with; the test fails if it succeeds or throws anything else. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    (value) => assert.fail(`expected the call to fail, it returned ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApplicationFailure, `an ApplicationFailure, got ${String(error)}`);
  return error;
}
