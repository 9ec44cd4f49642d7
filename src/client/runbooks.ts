import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { backupInputSchema, pruneInputSchema, type BackupInput, type PruneInput } from '../config/inputs.js';
import { formatIssues } from '../config/issues.js';
import { RagopsRunbook, RagopsStack } from '../workflows/lib/searchAttributes.js';
import type { backup } from '../workflows/backup.js';
import type { pruneBackups } from '../workflows/pruneBackups.js';
import { DEFAULT_TASK_QUEUE } from '../config/temporal.js';

export class InvalidInput extends Error {
  override name = 'InvalidInput';
}

/** The same validation the workflow does, run before anything is sent to the server. */
export function checkBackupInput(input: unknown): BackupInput {
  const parsed = backupInputSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInput(`invalid backup input: ${formatIssues(parsed.error)}`);
  return input as BackupInput;
}

export function runbookSearchAttributes(runbook: string, stack: string): SearchAttributePair[] {
  return [
    { key: RagopsStack, value: stack },
    { key: RagopsRunbook, value: runbook },
  ];
}

function timestampId(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function backupSummary(input: BackupInput): string {
  const components = input.components?.join(' + ') ?? 'all components';
  return `backup of stack ${input.stack} (${components}${input.verify === 'checksum' ? ', checksum-verified' : ''})`;
}

export async function startBackup(
  client: Client,
  input: BackupInput,
  options: { taskQueue?: string; workflowId?: string } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof backup>> {
  checkBackupInput(input);
  return client.workflow.start<typeof backup>('backup', {
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId: options.workflowId ?? `backup-${input.stack}-${timestampId(new Date())}`,
    args: [input],
    typedSearchAttributes: runbookSearchAttributes('backup', input.stack),
    staticSummary: backupSummary(input),
  });
}

export function checkPruneInput(input: unknown): PruneInput {
  const parsed = pruneInputSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInput(`invalid pruneBackups input: ${formatIssues(parsed.error)}`);
  return input as PruneInput;
}

export async function startPrune(
  client: Client,
  input: PruneInput,
  options: { taskQueue?: string; workflowId?: string } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof pruneBackups>> {
  checkPruneInput(input);
  return client.workflow.start<typeof pruneBackups>('pruneBackups', {
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId: options.workflowId ?? `prune-${input.stack}-${timestampId(new Date())}`,
    args: [input],
    typedSearchAttributes: runbookSearchAttributes('pruneBackups', input.stack),
    staticSummary: `${input.dryRun ? 'dry-run prune' : 'prune'} of stack ${input.stack}`,
  });
}
