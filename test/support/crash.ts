// What the crash tests share: data big enough to kill a worker in the middle of a step,
// and the progress a running step reports in its heartbeats.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestDatabase } from './postgres.js';

/** About 80 MB of pg_dump output: a dump or restore of it lasts a few seconds. */
export async function addBulkTable(db: TestDatabase, rows = 1_000_000): Promise<void> {
  const client = await db.client();
  await client.query(
    `CREATE TABLE bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) AS body
     FROM generate_series(1, $1::int) g`,
    [rows],
  );
}

/** Bytes so far in the latest heartbeat of the workflow's pending `activityType`, 0 before any. */
export async function pendingActivityBytes(client: Client, workflowId: string, activityType: string): Promise<number> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const pending = description.raw.pendingActivities?.find((activity) => activity.activityType?.name === activityType);
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  return payload ? ((defaultPayloadConverter.fromPayload(payload) as { bytes?: number }).bytes ?? 0) : 0;
}
