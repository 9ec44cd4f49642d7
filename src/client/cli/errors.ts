// What the CLI says when something goes wrong: one line naming the cause (and the run's Web UI
// link when a run exists), and an exit code a script can tell apart.
import { WorkflowFailedError, isGrpcServiceError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { CommanderError } from 'commander';
import { ConfigError } from '../../config/load.js';
import { firstLine } from '../../core/progress.js';
import { SearchAttributesUnavailable } from '../api/searchAttributes.js';
import { InvalidInput, RunInProgress } from '../api/runbooks.js';

export const EXIT_CODES = { ok: 0, failed: 1, invalidInput: 2, busy: 3, unreachable: 4 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  done (with --wait: the run completed)
  1  the run failed, was cancelled, terminated or timed out; or an unexpected error
  2  invalid input or usage: refused before anything started, or by the run's own input check
  3  busy: a run of the same runbook on the same target is in progress, or another run holds what it needs (TargetBusy)
  4  the Temporal server could not be reached
Errors print one line (the cause, and the run's Web UI link when a run exists); RAGOPS_DEBUG=1 adds the stack.`;

/** Failure types a run fails with when its input or stacks file is wrong: exit 2, like a refusal at start. */
const INPUT_FAILURES = new Set(['InvalidInput', 'ConfigError']);
/** A target's lease held by another run (workflows/lib/leases.ts): exit 3, like a refusal at start. */
const BUSY_FAILURES = new Set(['TargetBusy']);

/** A run that ended without a report: how it ended, why, and where to look. */
export class RunFailed extends Error {
  override name = 'RunFailed';
  constructor(
    message: string,
    readonly workflowId: string,
    readonly url: string,
    readonly failureType: string | undefined,
  ) {
    super(message);
  }
}

export class ServerUnreachable extends Error {
  override name = 'ServerUnreachable';
}

/** Why a run failed, in one line: how it ended and the workflow's own message, which names the step. */
export function runFailureText(error: WorkflowFailedError): { text: string; type?: string } {
  const cause = error.cause;
  if (cause instanceof CancelledFailure) return { text: `cancelled${cause.message ? `: ${firstLine(cause.message)}` : ''}` };
  if (cause instanceof TerminatedFailure) return { text: `terminated${cause.message ? `: ${firstLine(cause.message)}` : ''}` };
  if (cause instanceof TimeoutFailure) return { text: `timed out (${String(cause.timeoutType).replace(/^TIMEOUT_TYPE_/, '').toLowerCase()})` };
  // A step's failure already names the step and its root cause (StepTracker); anything else: the root.
  let root: Error | undefined = cause;
  while (root && !(root instanceof ApplicationFailure) && root.cause instanceof Error) root = root.cause;
  const type = root instanceof ApplicationFailure ? root.type ?? undefined : undefined;
  return { text: `failed${type ? ` (${type})` : ''}: ${firstLine(root?.message || error.message)}`, type };
}

export function runFailed(runbook: string, workflowId: string, url: string, error: WorkflowFailedError): RunFailed {
  const { text, type } = runFailureText(error);
  return new RunFailed(`${runbook} ${workflowId} ${text} — ${url}`, workflowId, url, type);
}

/** A gRPC UNAVAILABLE anywhere in the chain, or the connection never opening. */
export function isUnreachable(error: unknown): boolean {
  for (let e = error as Error | undefined, depth = 0; e && depth < 8; e = e.cause as Error | undefined, depth++) {
    if (e instanceof ServerUnreachable) return true;
    if (isGrpcServiceError(e) && e.code === 14) return true;
    if (/Failed to connect before the deadline|ECONNREFUSED|UNAVAILABLE/.test(e.message ?? '')) return true;
  }
  return false;
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.invalidInput;
  if (error instanceof InvalidInput || error instanceof ConfigError) return EXIT_CODES.invalidInput;
  if (error instanceof RunInProgress) return EXIT_CODES.busy;
  if (error instanceof RunFailed) {
    if (error.failureType && INPUT_FAILURES.has(error.failureType)) return EXIT_CODES.invalidInput;
    if (error.failureType && BUSY_FAILURES.has(error.failureType)) return EXIT_CODES.busy;
    return EXIT_CODES.failed;
  }
  if (isUnreachable(error)) return EXIT_CODES.unreachable;
  return EXIT_CODES.failed;
}

/**
 * The line printed for an error. A stacks file with problems keeps its list (one problem per
 * line, each with its path), and a namespace lacking search attributes its create commands:
 * those lists are the cause.
 */
export function errorLine(error: unknown): string {
  if (error instanceof ConfigError) return `ragops: ${error.message}`;
  // The worker's refusal to serve lists one command per missing attribute: those lines are the fix.
  if (error instanceof SearchAttributesUnavailable) return `ragops: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  if (isUnreachable(error) && !(error instanceof ServerUnreachable) && !(error instanceof RunFailed)) {
    return `ragops: the Temporal server stopped answering: ${firstLine(message)}`;
  }
  // Our own refusals are written to be read whole; anything else may carry pages of output.
  if (error instanceof InvalidInput || error instanceof RunInProgress) return `ragops: ${message.split('\n').map((line) => line.trim()).filter(Boolean).join('; ')}`;
  return `ragops: ${firstLine(message)}`;
}

/** The stack and causes, for RAGOPS_DEBUG=1. */
export function debugText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) parts.push(depth === 0 ? (e.stack ?? e.message) : `caused by: ${e.stack ?? e.message}`);
  return parts.join('\n');
}
