import { Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure, type Workflow } from '@temporalio/common';
import { leaseWorkflowId, normalizeClaims, type LeaseAnswer, type LeaseClaim, type LeaseHolder, type LeaseRequest } from '../../core/leases.js';
import { workflowUiUrl } from '../../core/webUi.js';

export interface TemporalDeps {
  /** A client of the namespace the worker serves (made once, on first use). */
  temporalClient: () => Promise<Client>;
  /** Base of the Web UI links in TargetBusy messages (RAGOPS_UI_URL). */
  uiUrl?: string;
}

export interface LeaseHolderRef {
  workflowId: string;
  runId: string;
  runbook: string;
}

/** A holder that is no longer running (crashed, terminated, timed out) never released: it may be evicted. */
async function isClosed(client: Client, workflowId: string): Promise<boolean> {
  try {
    const described = await client.workflow.getHandle(workflowId).describe();
    return described.status.name !== 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return true;
    throw error;
  }
}

function acquireOnce(client: Client, taskQueue: string, claim: LeaseClaim, request: LeaseRequest): Promise<LeaseAnswer> {
  const startWorkflowOperation = new WithStartWorkflowOperation('lease', {
    workflowId: leaseWorkflowId(claim.target),
    taskQueue,
    args: [],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `lease on ${claim.target}`,
  });
  return client.workflow.executeUpdateWithStart<Workflow, LeaseAnswer, [LeaseRequest]>('acquire', { args: [request], startWorkflowOperation });
}

async function releaseOne(client: Client, target: string, workflowId: string): Promise<void> {
  try {
    await client.workflow.getHandle(leaseWorkflowId(target)).executeUpdate('release', { args: [{ workflowId }] });
  } catch (error) {
    // A lease workflow that is gone holds nobody: released already.
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

export function createTemporalActivities(deps: TemporalDeps) {
  async function releaseLeases(input: { targets: string[]; holder: { workflowId: string } }): Promise<void> {
    const client = await deps.temporalClient();
    for (const target of [...input.targets].reverse()) await releaseOne(client, target, input.holder.workflowId);
  }

  function busy(client: Client, target: string, blockers: LeaseHolder[]): ApplicationFailure {
    const namespace = client.options.namespace;
    const named = blockers
      .map((b) => `${b.runbook} run ${b.workflowId} (${b.mode}, since ${b.since}): ${workflowUiUrl(deps.uiUrl, namespace, b.workflowId, b.runId)}`)
      .join('; ');
    return ApplicationFailure.create({
      type: 'TargetBusy',
      nonRetryable: true,
      message: `${target} is held by ${named}. Wait for it to finish, or cancel it (temporal workflow cancel --workflow-id ${blockers[0]?.workflowId}), then start again`,
      details: [{ target, holders: blockers }],
    });
  }

  /**
   * Takes every lease (in sorted target order) or none: a busy target releases what was
   * taken and fails TargetBusy, naming who holds it. Holders that closed without releasing
   * are evicted first.
   */
  async function acquireLeases(input: { claims: LeaseClaim[]; holder: LeaseHolderRef }): Promise<{ targets: string[] }> {
    const client = await deps.temporalClient();
    const { taskQueue } = Context.current().info;
    const taken: string[] = [];
    try {
      for (const claim of normalizeClaims(input.claims)) {
        const request: LeaseRequest = { ...input.holder, mode: claim.mode };
        let answer = await acquireOnce(client, taskQueue, claim, request);
        for (let round = 0; !answer.granted && round < 3; round += 1) {
          const closed: string[] = [];
          for (const blocker of answer.blockers) if (await isClosed(client, blocker.workflowId)) closed.push(blocker.workflowId);
          if (closed.length === 0) break;
          answer = await acquireOnce(client, taskQueue, claim, { ...request, evict: closed });
        }
        if (!answer.granted) throw busy(client, claim.target, answer.blockers);
        taken.push(claim.target);
      }
    } catch (error) {
      await releaseLeases({ targets: taken, holder: input.holder }).catch(() => undefined);
      throw error;
    }
    return { targets: taken };
  }

  return { acquireLeases, releaseLeases };
}
