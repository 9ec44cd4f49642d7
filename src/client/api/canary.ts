// Typed helpers to start and steer a canary: one run per service (workflow id
// `canary-<stack>-<service>`, refused while one runs), the signals pause/resume/promote/abort,
// the setWeight update (a refusal comes back with the workflow's reason) and the status query.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { canaryInputSchema, type CanaryInput } from '../../config/inputs.js';
import { formatIssues } from '../../config/issues.js';
import { DEFAULT_TASK_QUEUE } from '../../config/temporal.js';
import { RagopsImage, RagopsService } from '../../core/searchAttributes.js';
import type { canary } from '../../workflows/index.js';
import type { CanaryReport } from '../../workflows/canary/report.js';
import { askUpdate, InvalidInput, runbookSearchAttributes, runbookStaticDetails, RunInProgress, type StartOptions, type UpdateAnswer } from './runbooks.js';
import { webUiUrl } from './connect.js';

export const canaryWorkflowId = (input: { stack: string; service: string }) => `canary-${input.stack}-${input.service}`;

/** The workflow's own validation, run before anything is sent. */
export function checkCanaryInput(input: unknown): CanaryInput {
  const parsed = canaryInputSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInput(`invalid canary input: ${formatIssues(parsed.error)}`);
  return input as CanaryInput;
}

export function canarySummary(input: CanaryInput): string {
  return `canary of ${input.image} for ${input.service} of stack ${input.stack}${input.steps ? ` (${input.steps.length} steps given)` : ''}`;
}

/** Starts a canary; a canary of the same service still running refuses, naming it. */
export async function startCanary(client: Client, input: CanaryInput, options: StartOptions = {}) {
  const checked = checkCanaryInput(input);
  const workflowId = options.workflowId ?? canaryWorkflowId(checked);
  try {
    return await client.workflow.start<typeof canary>('canary', {
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId,
      workflowIdConflictPolicy: 'FAIL',
      args: [checked],
      typedSearchAttributes: [
        ...runbookSearchAttributes('canary', checked.stack),
        { key: RagopsService, value: checked.service },
        { key: RagopsImage, value: checked.image },
      ],
      staticSummary: canarySummary(checked),
      staticDetails: await runbookStaticDetails({ runbook: 'canary', input: canaryInputSchema.parse(checked) }, options),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      const described = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
      const url = webUiUrl(client.options.namespace, workflowId, described?.runId);
      throw new RunInProgress(
        `refused: ${workflowId} is already running${described ? ` (run ${described.runId}, started ${described.startTime.toISOString()})` : ''}. Follow it at ${url}; promote or abort it (ragops canary promote|abort ${workflowId}) before starting another`,
        workflowId,
        described?.runId,
        url,
      );
    }
    throw error;
  }
}

const handleOf = (client: Client, workflowId: string) => client.workflow.getHandle<typeof canary>(workflowId);

export const pauseCanary = (client: Client, workflowId: string, reason?: string) => handleOf(client, workflowId).signal('pause', reason ? { reason } : {});
export const resumeCanary = (client: Client, workflowId: string) => handleOf(client, workflowId).signal('resume');
export const promoteCanary = (client: Client, workflowId: string, full = false) => handleOf(client, workflowId).signal('promote', { full });
export const abortCanary = (client: Client, workflowId: string, reason?: string) => handleOf(client, workflowId).signal('abort', reason ? { reason } : {});
export const canaryStatus = (client: Client, workflowId: string) => handleOf(client, workflowId).query<CanaryReport>('status');

/** Whether a `setWeight` update was refused (with the validator's reason) or applied. */
export type SetWeightAnswer = UpdateAnswer<{ weight: number; detail: string }>;

/** Sets the canary's weight now; the workflow's validator may refuse, and its reason comes back. */
export function setCanaryWeight(client: Client, workflowId: string, weight: number, force = false): Promise<SetWeightAnswer> {
  return askUpdate(client, workflowId, 'setWeight', [{ weight, force }], (status) => `the canary has ended (${status}): its weight can no longer change`);
}
