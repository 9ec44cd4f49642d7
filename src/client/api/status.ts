// Reads what `ragops status` shows: each stack's catalog from its store (the primary truth),
// then schedules and running runs from Temporal, and PITR figures from physical targets.
import type { Client } from '@temporalio/client';
import { withStore } from '../../activities/store/open.js';
import { readStackCatalogWithSource } from '../../activities/store/stackCatalog.js';
import { effectiveSlo, hasPhysical, type StackConfig, type StacksFile } from '../../config/stacks/index.js';
import { RagopsPhase, RagopsRunbook, RagopsStack } from '../../core/searchAttributes.js';
import { stackStatus, statusReport, type Known, type PitrFigure, type RunState, type ScheduleState, type StatusReport } from '../../core/status.js';
import { connectClient, webUiUrl, type Connected } from './connect.js';
import { listScheduleStates } from './scheduleStates.js';
import { InvalidInput } from './runbooks.js';
import { probeTcp } from '../../activities/runtime/tcp.js';
import { temporalConnectConfig } from '../../config/temporal.js';

export interface StatusOptions {
  /** Only these stacks (default every stack of the file). */
  stacks?: string[];
  now?: () => Date;
  /** How Temporal is reached; undefined: not asked (schedules and runs unknown). Default connectClient. */
  connect?: (() => Promise<Connected>) | undefined;
  /** How long connecting and each Temporal question may take before they are reported unknown. */
  temporalTimeoutMs?: number;
  /** Read PITR status of physical postgres targets (a database connection and `pgbackrest info` each). */
  pitr?: boolean;
}

const briefly = (error: unknown) => (error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)).split('\n')[0]!.slice(0, 300);

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  promise.catch(() => undefined); // a late failure after the timeout is not unhandled
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * connectClient, after one TCP attempt at the address: a server that refuses is said at once,
 * where the client would retry until its connect timeout.
 */
function defaultConnect(timeoutMs: number): () => Promise<Connected> {
  return async () => {
    const address = temporalConnectConfig().connectionOptions.address;
    const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
    if (match) {
      const probe = await probeTcp(match[1]!, Number(match[2]), timeoutMs);
      if (probe.state !== 'answers') throw new Error(`${address} ${probe.state === 'refused' ? 'refuses connections' : probe.detail}`);
    }
    return connectClient();
  };
}

export async function readStatus(file: StacksFile, options: StatusOptions = {}): Promise<StatusReport> {
  const now = options.now ?? (() => new Date());
  const names = options.stacks ?? Object.keys(file.stacks).sort();
  for (const name of names) if (!file.stacks[name]) throw new InvalidInput(`--stack: no stack "${name}" in the stacks file (stacks: ${Object.keys(file.stacks).join(', ')})`);
  const timeoutMs = options.temporalTimeoutMs ?? 5_000;
  const connect = 'connect' in options ? options.connect : defaultConnect(timeoutMs);

  const temporal = (async (): Promise<{ connected: Connected } | { cause: string }> => {
    if (!connect) return { cause: 'Temporal not asked' };
    try {
      return { connected: await withTimeout(connect(), timeoutMs, 'connecting to Temporal') };
    } catch (error) {
      return { cause: `Temporal unreachable: ${briefly(error)}` };
    }
  })();
  const catalogs = Promise.all(
    names.map((name) =>
      withStore(file.stacks[name]!.store, (store) => readStackCatalogWithSource(store, name, { now })).catch((error: unknown) => ({ error: `store unreadable: ${briefly(error)}` })),
    ),
  );
  const pitr = Promise.all(names.map((name) => (options.pitr === false ? Promise.resolve([]) : readPitr(file.stacks[name]!))));

  const connection = await temporal;
  try {
    const [schedules, runs] =
      'connected' in connection
        ? await Promise.all([
            withTimeout(readSchedules(connection.connected.client), timeoutMs, 'listing schedules').catch((error: unknown) => ({ cause: `schedules unreadable: ${briefly(error)}` })),
            withTimeout(readRuns(connection.connected, names), timeoutMs, 'listing running runs').catch((error: unknown) => ({ cause: `runs unreadable: ${briefly(error)}` })),
          ])
        : [connection, connection];
    const [read, pitrFigures] = await Promise.all([catalogs, pitr]);
    const at = now();
    const known = <T extends { stack?: string }>(found: Map<string, T[]> | { cause: string }, stack: string): Known<Omit<T, 'stack'>> =>
      found instanceof Map ? { known: true, items: (found.get(stack) ?? []).map(({ stack: _stack, ...rest }) => rest) } : { known: false, cause: found.cause };
    return statusReport(
      at,
      names.map((name, index) => {
        const stack = file.stacks[name]!;
        return stackStatus({
          stack: name,
          now: at,
          catalog: read[index]!,
          plans: Object.keys(stack.plans ?? {}),
          slo: effectiveSlo(stack),
          ...(stack.dr ? { drTargets: stack.dr.targets } : {}),
          schedules: known(schedules, name),
          runs: known(runs, name),
          pitr: pitrFigures[index]!,
        });
      }),
    );
  } finally {
    if ('connected' in connection) await connection.connected.close().catch(() => undefined);
  }
}

/** Every ragops schedule, by the stack its action's input names, with its next run and its last run's result. */
async function readSchedules(client: Client): Promise<Map<string, Array<ScheduleState & { stack: string }>>> {
  const found = await Promise.all(
    (await listScheduleStates(client)).map(async ({ lastAction, ...schedule }) => {
      const result = lastAction
        ? await client.workflow
            .getHandle(lastAction.workflowId)
            .describe()
            .then((run) => run.status.name, (error: unknown) => `unknown (${briefly(error)})`)
        : undefined;
      return { ...schedule, ...(lastAction && result ? { lastRun: { ...lastAction, result } } : {}) };
    }),
  );
  return groupByStack(found);
}

/** Running runs of the stacks, by the RagopsStack search attribute, with their current phase. */
async function readRuns({ client, namespace }: Connected, stacks: string[]): Promise<Map<string, Array<RunState & { stack: string }>>> {
  const runs: Array<RunState & { stack: string }> = [];
  const query = `ExecutionStatus = "Running" AND ${RagopsStack.name} IN (${stacks.map((stack) => `"${stack}"`).join(', ')})`;
  for await (const execution of client.workflow.list({ query })) {
    const phase = execution.typedSearchAttributes.get(RagopsPhase);
    runs.push({
      stack: execution.typedSearchAttributes.get(RagopsStack) ?? '',
      workflowId: execution.workflowId,
      runId: execution.runId,
      runbook: execution.typedSearchAttributes.get(RagopsRunbook) ?? execution.type,
      ...(phase ? { phase } : {}),
      startedAt: execution.startTime.toISOString(),
      uiUrl: webUiUrl(namespace, execution.workflowId, execution.runId),
    });
  }
  return groupByStack(runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.workflowId.localeCompare(b.workflowId)));
}

function groupByStack<T extends { stack: string }>(items: T[]): Map<string, T[]> {
  const grouped = new Map<string, T[]>();
  for (const item of items) grouped.set(item.stack, [...(grouped.get(item.stack) ?? []), item]);
  return grouped;
}

async function readPitr(stack: StackConfig): Promise<PitrFigure[]> {
  const targets = stack.postgres.filter(hasPhysical);
  if (targets.length === 0) return [];
  // Loaded only when needed: the PostgreSQL client and pgBackRest code are half a second of CLI start-up.
  const { readPitrStatus } = await import('../../activities/pgbackrest/status.js');
  return Promise.all(
    targets.map(async (target): Promise<PitrFigure> => {
      const base = { target: target.name, database: target.database };
      try {
        const status = await withTimeout(readPitrStatus(target, stack.store), 15_000, `PITR status of ${target.name}`);
        return {
          ...base,
          ...(status.rpo ? { rpoSeconds: status.rpo.seconds, basis: status.rpo.basis, recoverableTo: status.rpo.recoverableTo } : {}),
          problems: [status.repositoryError, status.serverError, status.archiver?.failing ? 'the archiver is failing' : undefined].filter((problem): problem is string => Boolean(problem)),
        };
      } catch (error) {
        return { ...base, problems: [briefly(error)] };
      }
    }),
  );
}
