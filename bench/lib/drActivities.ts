// Where a child run's time goes, read from its Temporal history: each activity type's time
// from scheduled to completed (retries included), summed, in the order first scheduled.
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';

export interface ActivityTimes {
  /** Activity type → summed scheduled-to-closed milliseconds. */
  activities: Record<string, number>;
  /** The run's wall time, first event to last. */
  wallMs: number;
}

export async function activityTimesOf(client: Client, workflowId: string): Promise<ActivityTimes> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = new Map<string, { type: string; at: number }>();
  const activities: Record<string, number> = {};
  for (const event of events) {
    const at = tsToMs(event.eventTime);
    const attributes = event.activityTaskScheduledEventAttributes;
    if (attributes) {
      const type = attributes.activityType?.name ?? '?';
      scheduled.set(String(event.eventId), { type, at });
      activities[type] ??= 0;
      continue;
    }
    const closed =
      event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes ?? event.activityTaskCanceledEventAttributes;
    const start = closed?.scheduledEventId == null ? undefined : scheduled.get(String(closed.scheduledEventId));
    if (start) activities[start.type] = (activities[start.type] ?? 0) + (at - start.at);
  }
  const first = events[0];
  const last = events.at(-1);
  return { activities, wallMs: first && last ? tsToMs(last.eventTime) - tsToMs(first.eventTime) : 0 };
}

/** "name 1.23 s, name 0.45 s, …", largest first. */
export function formatActivityTimes(times: Record<string, number>): string {
  return Object.entries(times)
    .sort(([, a], [, b]) => b - a)
    .map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)} s`)
    .join(', ');
}
