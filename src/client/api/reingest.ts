// Typed helpers to steer a re-ingestion: the status query, and the approve and rollback
// updates (a refusal comes back with the workflow's reason; the caller is named as user@host).
import type { Client } from '@temporalio/client';
import { hostname, userInfo } from 'node:os';
import type { AliasRollbackResult, ReingestReport } from '../../workflows/reingest/report.js';
import { askUpdate, type UpdateAnswer } from './runbooks.js';

/** Who is asking, as recorded by the run. */
export function callerIdentity(): string {
  return `${userInfo().username}@${hostname()}`;
}

export const reingestStatus = (client: Client, workflowId: string) => client.workflow.getHandle(workflowId).query<ReingestReport>('status');

export function approveReingest(client: Client, workflowId: string, by = callerIdentity()): Promise<UpdateAnswer<{ switchedTo: string }>> {
  return askUpdate(client, workflowId, 'approve', [{ by }], (status) => `the re-ingestion has ended (${status}): there is nothing to approve`);
}

export function rollbackReingest(client: Client, workflowId: string, by = callerIdentity()): Promise<UpdateAnswer<AliasRollbackResult>> {
  return askUpdate(client, workflowId, 'rollback', [{ by }], (status) => `the re-ingestion has ended (${status}): its rollback window is closed — re-ingest again to go back`);
}
