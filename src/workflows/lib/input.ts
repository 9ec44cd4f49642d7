import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { formatIssues } from '../../config/issues.js';

/** Validates a runbook's input before any side effect; bad input never retries. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, runbook: string): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid ${runbook} input: ${formatIssues(parsed.error)}`, 'InvalidInput');
  }
  return parsed.data;
}
