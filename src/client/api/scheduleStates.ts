import type { Client } from '@temporalio/client';
import { z } from 'zod';

/** A ragops schedule, the stack its runs are for (from its action's input), and its state. */
export interface ScheduleState {
  scheduleId: string;
  stack: string;
  paused: boolean;
  note?: string;
  workflowType?: string;
  nextRun?: string;
  /** The newest run the schedule started. */
  lastAction?: { at: string; workflowId: string };
}

const runbookInput = z.object({ stack: z.string() });

/**
 * Every ragops-* schedule with its stack, in id order (`ragops status` and the worker's
 * paused-schedule gauge). A schedule id cannot tell a stack "prod-eu" from stack "prod"'s plan
 * "eu", so each schedule is described and its input read; one that names no stack is left out.
 */
export async function listScheduleStates(client: Client): Promise<ScheduleState[]> {
  const ids: string[] = [];
  for await (const summary of client.schedule.list()) if (summary.scheduleId.startsWith('ragops-')) ids.push(summary.scheduleId);
  const states = await Promise.all(
    ids.sort().map(async (scheduleId): Promise<ScheduleState | undefined> => {
      const described = await client.schedule.getHandle(scheduleId).describe();
      const action = described.action.type === 'startWorkflow' ? described.action : undefined;
      const input = runbookInput.safeParse(action?.args?.[0]);
      if (!input.success) return undefined;
      const last = described.info.recentActions.at(-1);
      const lastWorkflow = last?.action.type === 'startWorkflow' ? last.action.workflow : undefined;
      return {
        scheduleId,
        stack: input.data.stack,
        paused: described.state.paused,
        ...(described.state.note ? { note: described.state.note } : {}),
        ...(action ? { workflowType: action.workflowType } : {}),
        ...(described.info.nextActionTimes[0] ? { nextRun: described.info.nextActionTimes[0].toISOString() } : {}),
        ...(last && lastWorkflow ? { lastAction: { at: last.takenAt.toISOString(), workflowId: lastWorkflow.workflowId } } : {}),
      };
    }),
  );
  return states.filter((state): state is ScheduleState => state !== undefined);
}
