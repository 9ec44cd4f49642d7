// `--wait`: follows a run to its end, showing its progress from what the server says about it
// (describe: RagopsPhase and the running activities' heartbeat details) about once a second.
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { mibPerSecond } from '../../core/format.js';
import { fitToWidth, progressFigures, progressLine, type ActivityProgress, type RunProgress } from '../../core/progress.js';
import { RagopsPhase } from '../../core/searchAttributes.js';

/** Where progress goes: a terminal redraws one line, anything else gets plain lines. */
export interface ProgressOutput {
  write(text: string): void;
  isTTY: boolean;
  columns?: number;
}

export interface FollowOptions {
  /** How often to ask the server; default 1 s. */
  pollMs?: number;
  /** Off a terminal, the longest a reader waits for a line; default 1 s (a line at least every 2 s, with margin). */
  plainEveryMs?: number;
}

type Described = Awaited<ReturnType<WorkflowHandle['describe']>>;

/** The running activities of a description, their heartbeat details decoded by the client's converter. */
async function activitiesOf(client: Client, described: Described): Promise<ActivityProgress[]> {
  const pending = described.raw.pendingActivities ?? [];
  return Promise.all(
    pending.map(async (activity) => {
      const payloads = (activity.heartbeatDetails?.payloads ?? []) as Payload[];
      const details = payloads.length > 0 ? (await decodeArrayFromPayloads(client.options.loadedDataConverter, payloads).catch(() => []))[0] : undefined;
      return {
        activityType: activity.activityType?.name ?? 'activity',
        attempt: activity.attempt ?? 1,
        details,
        ...((activity.attempt ?? 1) > 1 && activity.lastFailure?.message ? { lastFailure: activity.lastFailure.message } : {}),
      };
    }),
  );
}

/** What the run is doing: its own activities, or those of a running child when it only waits on one. */
export async function lookAt(client: Client, handle: WorkflowHandle): Promise<Omit<RunProgress, 'elapsedMs'>> {
  const described = await handle.describe();
  const phase = described.typedSearchAttributes.get(RagopsPhase);
  let activities = await activitiesOf(client, described);
  let child: string | undefined;
  const children = described.raw.pendingChildren ?? [];
  if (activities.length === 0 && children[0]?.workflowId) {
    const childDescribed = await client.workflow.getHandle(children[0].workflowId, children[0].runId ?? undefined).describe().catch(() => undefined);
    if (childDescribed) {
      activities = await activitiesOf(client, childDescribed);
      const childPhase = childDescribed.typedSearchAttributes.get(RagopsPhase);
      child = `${childDescribed.type} ${childDescribed.workflowId}${childPhase ? ` (${childPhase})` : ''}`;
    }
  }
  return { workflowId: handle.workflowId, phase, activities, ...(child ? { child } : {}) };
}

/**
 * Waits for the run's result while showing its progress. The look at the server and the
 * printing are separate loops, so a slow or silent server delays the figures, never the lines.
 * The line ends cleared on a terminal, so what follows starts on a clean line.
 */
export async function followRun<R>(client: Client, handle: WorkflowHandle & { result(): Promise<R> }, output: ProgressOutput, options: FollowOptions = {}): Promise<R> {
  const pollMs = options.pollMs ?? 1_000;
  const plainEveryMs = options.plainEveryMs ?? 1_000;
  const startedAt = Date.now();
  let latest: Omit<RunProgress, 'elapsedMs'> = { workflowId: handle.workflowId, activities: [] };
  /** Bytes each activity had at the previous look, for a rate when details carry none. */
  let previousBytes = new Map<string, { bytes: number; at: number }>();
  let done = false;
  let drawn = false;

  const result = handle.result();
  const finished = result.then(
    () => undefined,
    () => undefined,
  );

  const draw = () => {
    if (done) return;
    const line = progressLine({ ...latest, elapsedMs: Date.now() - startedAt });
    if (output.isTTY) {
      output.write(`\r\x1b[2K${fitToWidth(line, output.columns ?? 80)}`);
      drawn = true;
    } else {
      output.write(`${line}\n`);
    }
  };

  const poll = async () => {
    while (!done) {
      const lookedAt = Date.now();
      try {
        const look = await lookAt(client, handle);
        const bytesNow = new Map<string, { bytes: number; at: number }>();
        look.activities = look.activities.map((activity, index) => {
          const { bytes, mibPerSecond: recorded } = progressFigures(activity.details);
          if (bytes === undefined) return activity;
          const key = `${activity.activityType}#${index}`;
          bytesNow.set(key, { bytes, at: lookedAt });
          const before = previousBytes.get(key);
          return recorded === undefined && before && bytes >= before.bytes && lookedAt > before.at
            ? { ...activity, measuredMibPerSecond: mibPerSecond(bytes - before.bytes, lookedAt - before.at) }
            : activity;
        });
        previousBytes = bytesNow;
        latest = look;
        if (output.isTTY) draw();
      } catch (error) {
        latest = { ...latest, stale: error instanceof Error ? error.message : String(error) };
      }
      await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, Math.max(0, pollMs - (Date.now() - lookedAt))))]);
    }
  };

  // A first line at once, then on the timer: every second on a terminal (the clock moves), and
  // every `plainEveryMs` off one, so a log shows the run is alive even when nothing changes.
  draw();
  const timer = setInterval(draw, output.isTTY ? 1_000 : plainEveryMs);
  // Never rejects (each look catches its own error); not awaited at the end, since a look may
  // hang on a server that went away — closing the connection ends it.
  void poll();
  try {
    return await result;
  } finally {
    done = true;
    clearInterval(timer);
    if (output.isTTY && drawn) output.write('\r\x1b[2K');
  }
}
