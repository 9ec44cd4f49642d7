import type { Client } from '@temporalio/client';
import { z } from 'zod';

/** A ragops schedule, the stack its runs are for (from its action's input) and whether it is paused. */
export interface ScheduleState {
  scheduleId: string;
  stack: string;
  paused: boolean;
}

const runbookInput = z.object({ stack: z.string() });

/**
 * Every ragops-* schedule with its stack. A schedule id cannot tell a stack "prod-eu" from stack
 * "prod"'s plan "eu", so each schedule is described and its input read; one that names no
 * stack is left out.
 */
export async function listScheduleStates(client: Client): Promise<ScheduleState[]> {
  const states: ScheduleState[] = [];
  for await (const summary of client.schedule.list()) {
    if (!summary.scheduleId.startsWith('ragops-')) continue;
    const description = await client.schedule.getHandle(summary.scheduleId).describe();
    const input = description.action.type === 'startWorkflow' ? runbookInput.safeParse(description.action.args?.[0]) : undefined;
    if (input?.success) states.push({ scheduleId: summary.scheduleId, stack: input.data.stack, paused: description.state.paused });
  }
  return states;
}
