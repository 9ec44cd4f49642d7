// Who ran what, read back from workflow histories: each activity's worker identity and its
// start and end as the server recorded them, and the identities that completed workflow tasks.
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface ActivityRun {
  workflowId: string;
  activityType: string;
  identity: string;
  startedMs: number;
  endedMs: number;
}

const ms = (event: HistoryEvent): number => Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;

/** Every activity of a history that started and finished (completed, failed or timed out). */
export function activityRuns(workflowId: string, events: HistoryEvent[]): ActivityRun[] {
  const byId = new Map(events.map((event) => [String(event.eventId), event]));
  return events.flatMap((event) => {
    const end = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
    if (!end) return [];
    const scheduled = byId.get(String(end.scheduledEventId));
    const started = byId.get(String(end.startedEventId));
    const identity = started?.activityTaskStartedEventAttributes?.identity;
    if (!scheduled || !started || !identity) return [];
    return [{ workflowId, activityType: scheduled.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', identity, startedMs: ms(started), endedMs: ms(event) }];
  });
}

/** The identities that completed the history's workflow tasks, each with how many. */
export function workflowTaskIdentities(events: HistoryEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events) {
    const identity = event.workflowTaskCompletedEventAttributes?.identity;
    if (identity) counts.set(identity, (counts.get(identity) ?? 0) + 1);
  }
  return counts;
}

/** The most runs in progress at one moment (an end at the very instant another starts does not overlap it). */
export function maxOverlap(runs: Array<Pick<ActivityRun, 'startedMs' | 'endedMs'>>): number {
  const edges = runs.flatMap((run) => [
    { at: run.startedMs, delta: 1 },
    { at: run.endedMs, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.delta;
    most = Math.max(most, now);
  }
  return most;
}
