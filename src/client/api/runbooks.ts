import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { z } from 'zod';
import {
  backupInputSchema,
  deployInputSchema,
  pruneInputSchema,
  reingestInputSchema,
  restoreInputSchema,
  disasterRecoveryInputSchema,
  type DisasterRecoveryInput,
  verifyInputSchema,
  type BackupInput,
  type DeployInput,
  type PruneInput,
  type ReingestInput,
  type RestoreInput,
  type VerifyInput,
} from '../../config/inputs.js';
import { formatIssues } from '../../config/issues.js';
import { ConfigError, loadStacksFile } from '../../config/load.js';
import type { StacksFile } from '../../config/stacks/index.js';
import { DEFAULT_TASK_QUEUE } from '../../config/temporal.js';
import { RagopsImage, RagopsRunbook, RagopsService, RagopsStack } from '../../core/searchAttributes.js';
import { runStaticDetails, type RunbookRequest, type StackView } from '../../core/staticDetails.js';
import type { backup, deploy, disasterRecovery, pruneBackups, reingest, restore, verifyBackup } from '../../workflows/index.js';
import type { RollbackResult } from '../../workflows/deploy/report.js';
import { webUiUrl } from './connect.js';

export class InvalidInput extends Error {
  override name = 'InvalidInput';
}

/** The same validation the workflow does, run before anything is sent to the server. */
function checkInput<S extends z.ZodType>(schema: S, input: unknown, runbook: string): z.input<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new InvalidInput(`invalid ${runbook} input: ${formatIssues(parsed.error)}`);
  return input as z.input<S>;
}

export const checkBackupInput = (input: unknown): BackupInput => checkInput(backupInputSchema, input, 'backup');
export const checkPruneInput = (input: unknown): PruneInput => checkInput(pruneInputSchema, input, 'pruneBackups');
export const checkVerifyInput = (input: unknown): VerifyInput => checkInput(verifyInputSchema, input, 'verifyBackup');
export const checkRestoreInput = (input: unknown): RestoreInput => checkInput(restoreInputSchema, input, 'restore');
export const checkDeployInput = (input: unknown): DeployInput => checkInput(deployInputSchema, input, 'deploy');
export const checkReingestInput = (input: unknown): ReingestInput => checkInput(reingestInputSchema, input, 'reingest');
export const checkDisasterRecoveryInput = (input: unknown): DisasterRecoveryInput => checkInput(disasterRecoveryInputSchema, input, 'disasterRecovery');

export function runbookSearchAttributes(runbook: string, stack: string): SearchAttributePair[] {
  return [
    { key: RagopsStack, value: stack },
    { key: RagopsRunbook, value: runbook },
  ];
}

/** Refused at start: a run of the same runbook on the same target is still going. */
export class RunInProgress extends Error {
  override name = 'RunInProgress';
  constructor(
    message: string,
    readonly workflowId: string,
    readonly runId?: string,
    readonly url?: string,
  ) {
    super(message);
  }
}

/** One workflow id per runbook and target, so the server itself refuses a second run. */
export const runbookWorkflowIds = {
  backup: (input: { stack: string; plan?: string }) => `backup-${input.stack}${input.plan ? `-${input.plan}` : ''}`,
  verifyBackup: (input: { stack: string }) => `verify-${input.stack}`,
  pruneBackups: (input: { stack: string; plan?: string }) => `prune-${input.stack}${input.plan ? `-${input.plan}` : ''}`,
  restore: (input: { stack: string; targetStack?: string }) => `restore-${input.targetStack ?? input.stack}`,
  deploy: (input: { stack: string; service: string }) => `deploy-${input.stack}-${input.service}`,
  reingest: (input: { stack: string; alias: string }) => `reingest-${input.stack}-${input.alias}`,
  /** A plan changes nothing, so it never blocks (nor is blocked by) a recovery or a drill. */
  disasterRecovery: (input: { stack: string; mode: string }) => `dr-${input.mode === 'plan' ? 'plan' : input.mode === 'drill' ? 'drill' : 'recover'}-${input.stack}`,
};

/** Names the run that holds the id: its run id, what it is doing, since when, and its Web UI link. */
async function refusal(client: Client, workflowId: string): Promise<RunInProgress> {
  const namespace = client.options.namespace;
  const described = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  const url = webUiUrl(namespace, workflowId, described?.runId);
  const summary = described ? await described.staticSummary().catch(() => undefined) : undefined;
  const what = described ? `${described.type} run ${described.runId}${summary ? ` (${summary})` : ''}, started ${described.startTime.toISOString()}` : 'a run';
  return new RunInProgress(
    `refused: ${workflowId} is already running — ${what}. Follow it at ${url}; wait for it to finish, or cancel it (temporal workflow cancel --workflow-id ${workflowId}) and start again`,
    workflowId,
    described?.runId,
    url,
  );
}

export interface StartOptions {
  taskQueue?: string;
  workflowId?: string;
  /**
   * The stacks file the run's static details (its resolved plan in the Web UI) are drawn from;
   * default: the one RAGOPS_CONFIG (or ./ragops.yaml) names, if it can be read here.
   */
  stacks?: StacksFile | (() => Promise<StacksFile>);
}

/** The stack as this client reads it; a file it cannot read only makes the details shorter. */
async function stackView(name: string, stacks: StartOptions['stacks']): Promise<StackView> {
  try {
    const file = typeof stacks === 'function' ? await stacks() : (stacks ?? (await loadStacksFile()));
    const stack = file.stacks[name];
    return stack ? { stack } : { unavailable: `it defines no stack "${name}"` };
  } catch (error) {
    return { unavailable: error instanceof ConfigError ? `${error.file}: ${error.issues.length} problem(s)` : 'it could not be read' };
  }
}

/** The Markdown shown as the run's static details: its resolved plan. */
export async function runbookStaticDetails(request: RunbookRequest, options: StartOptions = {}): Promise<string> {
  return runStaticDetails(request, await stackView(request.input.stack, options.stacks));
}

type Runbook = typeof backup | typeof pruneBackups | typeof verifyBackup | typeof restore | typeof deploy | typeof reingest | typeof disasterRecovery;

async function start<W extends Runbook>(
  client: Client,
  runbook: string,
  workflowId: string,
  input: { stack: string },
  summary: string,
  request: RunbookRequest,
  options: StartOptions,
  extraSearchAttributes: SearchAttributePair[] = [],
): Promise<WorkflowHandleWithFirstExecutionRunId<W>> {
  const id = options.workflowId ?? workflowId;
  const staticDetails = await runbookStaticDetails(request, options);
  try {
    return await client.workflow.start<W>(runbook, {
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId: id,
      // A closed run's id may be reused (the default reuse policy); a running one refuses.
      workflowIdConflictPolicy: 'FAIL',
      args: [input] as Parameters<W>,
      typedSearchAttributes: [...runbookSearchAttributes(runbook, input.stack), ...extraSearchAttributes],
      staticSummary: summary,
      staticDetails,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw await refusal(client, id);
    throw error;
  }
}

export function backupSummary(input: BackupInput): string {
  const components = input.plan ? `plan ${input.plan}` : (input.components?.join(' + ') ?? 'all components');
  return `backup of stack ${input.stack} (${components}${input.verify === 'checksum' ? ', checksum-verified' : ''})`;
}

export function verifySummary(input: VerifyInput): string {
  return `${input.depth ?? 'restore'}-depth drill of ${input.backupId ? `backup ${input.backupId}` : 'the latest backup'} of stack ${input.stack}`;
}

export function startBackup(client: Client, input: BackupInput, options: StartOptions = {}) {
  return start<typeof backup>(client, 'backup', runbookWorkflowIds.backup(input), checkBackupInput(input), backupSummary(input), { runbook: 'backup', input: backupInputSchema.parse(input) }, options);
}

export function startPrune(client: Client, input: PruneInput, options: StartOptions = {}) {
  const summary = `${input.dryRun ? 'dry-run prune' : 'prune'} of stack ${input.stack}${input.plan ? ` (plan ${input.plan})` : ''}`;
  return start<typeof pruneBackups>(client, 'pruneBackups', runbookWorkflowIds.pruneBackups(input), checkPruneInput(input), summary, { runbook: 'pruneBackups', input: pruneInputSchema.parse(input) }, options);
}

export function startVerify(client: Client, input: VerifyInput, options: StartOptions = {}) {
  return start<typeof verifyBackup>(client, 'verifyBackup', runbookWorkflowIds.verifyBackup(input), checkVerifyInput(input), verifySummary(input), { runbook: 'verifyBackup', input: verifyInputSchema.parse(input) }, options);
}

export function startRestore(client: Client, input: RestoreInput, options: StartOptions = {}) {
  const summary = `restore of ${input.backupId ? `backup ${input.backupId}` : 'the latest backup'} of stack ${input.stack}${input.targetStack ? ` into ${input.targetStack}` : ''}`;
  return start<typeof restore>(client, 'restore', runbookWorkflowIds.restore(input), checkRestoreInput(input), summary, { runbook: 'restore', input: restoreInputSchema.parse(input) }, options);
}

export function startDeploy(client: Client, input: DeployInput, options: StartOptions = {}) {
  const summary = `deploy ${input.image} to ${input.service} of stack ${input.stack}${input.strategy === 'blueGreen' ? ' (blue-green)' : ''}`;
  return start<typeof deploy>(client, 'deploy', runbookWorkflowIds.deploy(input), checkDeployInput(input), summary, { runbook: 'deploy', input: deployInputSchema.parse(input) }, options, [
    { key: RagopsService, value: input.service },
    { key: RagopsImage, value: input.image },
  ]);
}

export function startReingest(client: Client, input: ReingestInput, options: StartOptions = {}) {
  const summary = `reingest of alias ${input.alias} from ${input.source} with ${input.embedder} (stack ${input.stack}${input.approve === 'manual' ? ', approve: manual' : ''})`;
  return start<typeof reingest>(client, 'reingest', runbookWorkflowIds.reingest(input), checkReingestInput(input), summary, { runbook: 'reingest', input: reingestInputSchema.parse(input) }, options);
}

export function startDisasterRecovery(client: Client, input: DisasterRecoveryInput, options: StartOptions = {}) {
  const summary = `disaster recovery (${input.mode}) of stack ${input.stack}${input.into ? ` into ${input.into}` : ''}${input.at ? ` as of ${input.at}` : ''}${input.approve === 'auto' ? ', approve: auto' : ''}`;
  return start<typeof disasterRecovery>(client, 'disasterRecovery', runbookWorkflowIds.disasterRecovery(input), checkDisasterRecoveryInput(input), summary, { runbook: 'disasterRecovery', input: disasterRecoveryInputSchema.parse(input) }, options);
}

/** Whether an update was refused (with the workflow's reason) or answered with its result. */
export type UpdateAnswer<R> = { accepted: false; reason: string } | { accepted: true; result: R };

/**
 * Sends an update that a workflow's validator may refuse; the refusal's reason comes back
 * instead of being lost, and so does the end of a run that takes no updates any more.
 */
export async function askUpdate<R>(client: Client, workflowId: string, name: string, args: unknown[], whenEnded: (status: string) => string): Promise<UpdateAnswer<R>> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return { accepted: true, result: await (args.length === 0 ? handle.executeUpdate<R, []>(name) : handle.executeUpdate<R, [unknown, ...unknown[]]>(name, { args: args as [unknown, ...unknown[]] })) };
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause as Error | undefined;
      return { accepted: false, reason: cause?.message ?? error.message };
    }
    const status = await handle.describe().then((d) => d.status.name, () => undefined);
    if (status && status !== 'RUNNING') return { accepted: false, reason: whenEnded(status.toLowerCase()) };
    throw error;
  }
}

/** Whether a `rollback` update was refused (with the workflow's reason) or answered with its result. */
export type RollbackAnswer = UpdateAnswer<RollbackResult>;

/**
 * Asks a blue-green deploy to switch back while its window is open, and waits for the
 * verified result. A deploy that cannot roll back (rolling, window not open or closed,
 * a rollback already running) refuses, and the reason comes back instead of being lost.
 */
export function requestRollback(client: Client, workflowId: string): Promise<RollbackAnswer> {
  return askUpdate<RollbackResult>(client, workflowId, 'rollback', [], (status) => `the deploy has ended (${status}): its rollback window is closed — deploy the previous image to go back`);
}
