import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, continueAsNew, ContinueAsNew, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import { reingestInputSchema, type ReingestOptions } from '../../config/inputs.js';
import type { ReingestPlan } from '../../config/plan.js';
import { durationMs } from '../../core/duration.js';
import { countParity, formatEta, judgeGate, progressOf } from '../../core/reingest.js';
import { compensationActivities, quickActivities, streamingActivities } from '../lib/activities.js';
import { parseInput } from '../lib/input.js';
import { RollbackWindow, type CallerRequest } from '../lib/rollbackWindow.js';
import { StepTracker } from '../lib/steps.js';
import { Notifier } from '../lib/notify.js';
import { reingestApproveCommand } from '../../core/notify.js';
import type { IngestProgress } from '../../activities/reingest/index.js';
import { approveUpdate, reingestRollbackUpdate, reingestStatusQuery, type AliasRollbackResult, type ReingestCarried, type ReingestReport } from './report.js';

/** Ingest calls (each up to PAGES_PER_CALL pages) per run before continuing as new, so a 10-million-row history stays small. */
const DEFAULT_CALLS_PER_RUN = 100;
const PAGES_PER_CALL = 20;
/** Writers whose transaction began before the clock was read and committed after carry an older updatedAt. */
const CATCH_UP_MARGIN_MS = 60_000;

function newReport(options: ReingestOptions): ReingestReport {
  return {
    ...{ stack: options.stack, alias: options.alias, source: options.source, embedder: options.embedder, phase: 'plan', outcome: 'running' },
    ...{ live: null, livePoints: null, collection: null, vectorSize: null, configChanges: [], sourceRows: null },
    ingest: { checkpoint: undefined, rows: 0, pages: 0, embedRequests: 0, embedRetries: 0, embedMs: 0, startedAtMs: null, rowsPerSecond: 0, etaSeconds: null, done: false },
    ...{ sourceClock: null, catchUp: null, parity: null, gate: null, switchedAt: null, approvedBy: null, windowUntil: null, rollback: null },
    ...{ oldCollectionDeleted: false, newCollectionDeleted: false, generation: 1 },
  };
}

/** Ends the run before the switch with the new collection cleaned up; `type` is the failure's. */
class NoSwitch extends Error {
  constructor(
    readonly outcome: 'gate failed' | 'not approved',
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Blue-green re-ingestion of the collection behind an alias: plan (the live collection, a
 * clone of its config at the embedder's size), create the new collection, ingest the source
 * through the embedder page by page, validate (exact count parity, the golden set's recall
 * and overlap against the gate), switch the alias in one request (at once or on `approve`),
 * then keep the old collection for the window, in which `rollback` switches back.
 */
export async function reingest(rawInput: unknown, carried?: ReingestCarried): Promise<ReingestReport> {
  const { ingestCallsPerRun, ...input } = (rawInput ?? {}) as { ingestCallsPerRun?: number };
  const options = parseInput(reingestInputSchema, input, 'reingest');
  const steps = new StepTracker('reingest', options.stack);
  steps.setHeadline(`**reingest** of alias \`${options.alias}\` from \`${options.source}\` with \`${options.embedder}\` (stack \`${options.stack}\`)`);
  const report: ReingestReport = carried ? { ...carried.report, generation: carried.report.generation + 1 } : newReport(options);
  setHandler(reingestStatusQuery, () => report);

  // approve: only while the run waits for it, once.
  let switchedTo: string | undefined;
  setHandler<{ switchedTo: string }, CallerRequest, typeof approveUpdate>(
    approveUpdate,
    async (request) => {
      report.approvedBy = request?.by ?? 'unknown';
      await condition(() => switchedTo !== undefined || report.outcome !== 'running');
      if (switchedTo === undefined) throw ApplicationFailure.create({ message: `the run ended (${report.outcome}) before the switch`, nonRetryable: true });
      return { switchedTo };
    },
    {
      validator: () => {
        if (report.approvedBy) throw new Error(`already approved by ${report.approvedBy}`);
        if (report.phase !== 'approve') throw new Error(report.switchedAt ? 'the alias is already switched' : `the run is not waiting for approval (phase ${report.phase}${options.approve === 'auto' ? ', approve: auto' : ''})`);
      },
      description: 'approve the switch of the alias to the new collection (approve: manual); the caller is recorded',
    },
  );
  const window = new RollbackWindow<AliasRollbackResult>(reingestRollbackUpdate, {
    notOpen: 'the alias is not switched yet: there is nothing to roll back; cancel the run to stop it (the new collection is deleted)',
    closed: (at) => `the rollback window closed at ${at}; the old collection is deleted — re-ingest again to go back`,
    description: 'switch the alias back to the old collection while the window is open',
  });

  let plan: ReingestPlan | undefined = carried?.plan;
  let vectorName = carried?.vectorName;
  let liveVectorName = carried?.liveVectorName;
  const ingestCalls = { thisRun: 0 };

  const dropNewCollection = async (why: string) => {
    if (!plan || !report.collection || options.keepOnFailure) return;
    await steps.step('cleanup', `delete the new collection ${report.collection} (${why})`, () =>
      compensationActivities(`delete ${report.collection}`).deleteReingestCollection({ qdrant: plan!.qdrant, collection: report.collection!, kind: 'new' }),
    );
    report.newCollectionDeleted = true;
  };

  const planAndCreate = async (): Promise<ReingestPlan> => {
    const resolved = await steps.step('plan', 'check the source, the embedder, the golden set and the gate', () => quickActivities('plan reingest').resolveReingestPlan({ options }));
    plan = resolved;
    const probe = await steps.step('plan', `probe the embedder ${options.embedder}`, () => streamingActivities('probe embedder').probeEmbedder({ embedder: resolved.embedder }), (p) => `${p.dimensions} dimensions, model ${p.model}`);
    if (!probe.modelMatches) throw ApplicationFailure.create({ type: 'EmbedderModelMismatch', nonRetryable: true, message: `embedder "${options.embedder}" answers with model "${probe.model}", not the configured "${probe.configuredModel}"` });
    const target = await steps.step(
      'plan',
      `resolve alias ${options.alias} and clone its collection's config`,
      () =>
        quickActivities(`plan ${options.alias}`).planReingestTarget({
          qdrant: resolved.qdrant,
          alias: options.alias,
          runTag: resolved.runTag,
          vectorSize: options.vectorSize ?? probe.dimensions,
          ...(options.distance ? { distance: options.distance } : {}),
          ...(options.vectorName ? { vectorName: options.vectorName } : {}),
        }),
      (t) => `${t.alias} → ${t.live} (${t.livePoints} points); new ${t.collection}${t.clone.changes.length > 0 ? `: ${t.clone.changes.join('; ')}` : ''}`,
    );
    Object.assign(report, { live: target.live, livePoints: target.livePoints, collection: target.collection, vectorSize: target.clone.vectorSize, configChanges: target.clone.changes });
    vectorName = target.clone.vectorName;
    liveVectorName = target.clone.vectorName;
    const counted = await steps.step('plan', `count the rows of source ${options.source}`, () => streamingActivities('count source').countReingestSource({ name: options.source, source: resolved.source, ...resolved.connections }), (c) => `${c.rows} rows`);
    if (counted.nullKeys > 0 || counted.duplicateKeys > 0) {
      throw ApplicationFailure.create({
        type: 'InvalidInput',
        nonRetryable: true,
        message: `source "${options.source}": ${counted.nullKeys} rows with a NULL key and ${counted.duplicateKeys} with a duplicate key — keyset pages would miss them; make "${resolved.source.key}" unique and not null`,
      });
    }
    report.sourceRows = counted.rows;
    report.phase = 'create';
    await steps.step('create', `create ${target.collection} and its payload indexes`, () =>
      quickActivities(`create ${target.collection}`).createReingestCollection({ qdrant: resolved.qdrant, collection: target.collection, clone: target.clone }),
      (c) => (c.created ? 'created' : 'already there, as planned'),
    );
    report.sourceClock = await steps.step('create', 'read the source database\'s clock (the catch-up pass starts from it)', () => quickActivities('source clock').reingestSourceClock({ plan: resolved }), (t) => t ?? 'no updatedAt column: no catch-up pass');
    report.ingest.startedAtMs = Date.now();
    return resolved;
  };

  /** One call of the ingest activity; continues as new when this run has made enough of them. */
  const ingestCall = async (resolved: ReingestPlan, from: IngestProgress, catchUpSince?: string) => {
    const after = from.checkpoint?.kind === 'postgres' ? `after key ${from.checkpoint.lastKey}` : from.rows > 0 ? `after row ${from.rows}` : 'from the start';
    const what = catchUpSince ? `catch up on rows changed since ${catchUpSince}, ${after}` : `ingest up to ${PAGES_PER_CALL} pages ${after}`;
    const result = await steps.step(catchUpSince ? 'catch-up' : 'ingest', what, () =>
      streamingActivities(what).ingestReingestPages({
        plan: resolved,
        collection: report.collection!,
        ...(vectorName ? { vectorName } : {}),
        from,
        maxPages: PAGES_PER_CALL,
        startedAtMs: report.ingest.startedAtMs ?? Date.now(),
        ...(report.sourceRows === null || catchUpSince ? {} : { totalRows: report.sourceRows }),
        ...(catchUpSince ? { catchUpSince } : {}),
      }),
      (r) => `${r.rows} rows in ${r.pages} pages${r.done ? ', all read' : ''}`,
    );
    ingestCalls.thisRun += 1;
    return result;
  };
  const continueAsNewWhenLong = async (resolved: ReingestPlan) => {
    if (ingestCalls.thisRun < (ingestCallsPerRun ?? DEFAULT_CALLS_PER_RUN)) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof reingest>({ ...input, ...(ingestCallsPerRun ? { ingestCallsPerRun } : {}) }, { report, plan: resolved, ...(vectorName ? { vectorName } : {}), ...(liveVectorName ? { liveVectorName } : {}) });
  };

  const ingest = async (resolved: ReingestPlan) => {
    report.phase = 'ingest';
    while (!report.ingest.done) {
      const { startedAtMs, rowsPerSecond, etaSeconds, done, ...from } = report.ingest;
      const result = await ingestCall(resolved, from);
      const rate = progressOf(result.rows, Date.now() - (startedAtMs ?? Date.now()), report.sourceRows ?? undefined);
      report.ingest = { ...result, startedAtMs, rowsPerSecond: rate.rowsPerSecond, etaSeconds: rate.etaSeconds ?? null };
      steps.setSection(`**ingested** ${result.rows}${report.sourceRows === null ? '' : ` of ${report.sourceRows}`} rows · ${rate.rowsPerSecond} rows/s · ETA ${formatEta(rate.etaSeconds)}`);
      if (!result.done) await continueAsNewWhenLong(resolved);
    }
  };

  /** Rows a writer changed while the pages went by: re-read from the clock (less a margin) and written again. */
  const catchUp = async (resolved: ReingestPlan) => {
    if (!report.sourceClock) {
      report.catchUp = { skipped: `source "${options.source}" declares no updatedAt column: rows changed during the ingestion are not re-read (the source was not frozen)` };
      return;
    }
    report.phase = 'catch-up';
    if (!report.catchUp || !('since' in report.catchUp)) {
      report.catchUp = { since: new Date(Date.parse(report.sourceClock) - CATCH_UP_MARGIN_MS).toISOString(), progress: { checkpoint: undefined, rows: 0, pages: 0, embedRequests: 0, embedRetries: 0, embedMs: 0 }, done: false };
    }
    while (!report.catchUp.done) {
      const { done, ...progress } = await ingestCall(resolved, report.catchUp.progress, report.catchUp.since);
      report.catchUp = { since: report.catchUp.since, progress, done };
      if (!done) await continueAsNewWhenLong(resolved);
    }
  };

  const validate = async (resolved: ReingestPlan) => {
    report.phase = 'validate';
    const collection = report.collection!;
    const points = await steps.step('validate', `count ${collection} exactly`, () => quickActivities(`count ${collection}`).countCollectionPoints({ qdrant: resolved.qdrant, collection }), (n) => `${n} points`);
    const source = await steps.step('validate', `count the rows of source ${options.source} again`, () => streamingActivities('count source').countReingestSource({ name: options.source, source: resolved.source, ...resolved.connections }), (c) => `${c.rows} rows`);
    report.parity = { sourceRows: source.rows, points, ...countParity(source.rows, points) };
    const golden = await steps.step('validate', `${resolved.golden.length} golden queries against ${collection} and ${report.live}`, () =>
      streamingActivities('golden queries').evaluateGoldenSet({ plan: resolved, collection, live: report.live!, ...(vectorName ? { vectorName } : {}), ...(liveVectorName ? { liveVectorName } : {}) }),
    );
    report.gate = judgeGate(golden.results, resolved.gate);
    if (golden.liveUnavailable) report.liveUnavailable = golden.liveUnavailable;
    const failures = [...(report.parity.passed ? [] : [`count parity: ${report.parity.detail}`]), ...report.gate.failures];
    steps.setSection(
      `**gate** ${failures.length === 0 ? 'passed' : 'FAILED'} · recall@${report.gate.k} ${report.gate.recall} · overlap with live ${report.gate.overlapWithLive ?? 'n/a'} · ${report.parity.detail}`,
    );
    if (failures.length > 0) throw new NoSwitch('gate failed', 'ReingestGateFailed', `the new collection did not pass the gate: ${failures.join('; ')}`);
  };

  const approveAndSwitch = async (resolved: ReingestPlan) => {
    if (options.approve === 'manual') {
      report.phase = 'approve';
      const command = reingestApproveCommand(workflowInfo().workflowId);
      new Notifier('reingest', resolved).inBackground('approval', `the switch of alias ${options.alias} to ${report.collection} waits for approval (for ${options.approveTimeout}): ${command}`, { approveCommand: command, alias: options.alias, collection: report.collection ?? '', timeout: options.approveTimeout });
      const approved = await steps.step('approve', `wait for the approve update (up to ${options.approveTimeout})`, () =>
        condition(() => report.approvedBy !== null, durationMs(options.approveTimeout), { summary: `approve the switch of ${options.alias} (timeout ${options.approveTimeout})` }),
        (ok) => (ok ? `approved by ${report.approvedBy}` : 'timed out'),
      );
      if (!approved) throw new NoSwitch('not approved', 'ReingestNotApproved', `nobody approved the switch within ${options.approveTimeout}`);
    }
    report.phase = 'switch';
    await steps.step('switch', `switch alias ${options.alias} from ${report.live} to ${report.collection} (one request)`, () =>
      quickActivities(`switch ${options.alias}`).switchReingestAlias({ qdrant: resolved.qdrant, alias: options.alias, to: report.collection!, expectFrom: report.live! }),
    );
    report.switchedAt = new Date().toISOString();
    switchedTo = report.collection!;
  };

  const rollBack = async (resolved: ReingestPlan, by: string | null): Promise<AliasRollbackResult> => {
    const back = await steps.step('rollback', `switch alias ${options.alias} back to ${report.live}`, () =>
      compensationActivities(`switch ${options.alias} back`).switchReingestAlias({ qdrant: resolved.qdrant, alias: options.alias, to: report.live!, expectFrom: report.collection! }),
    );
    const result: AliasRollbackResult = { ok: true, alias: options.alias, to: back.to, detail: back.switched ? `switched back from ${report.collection}` : 'it already pointed there' };
    report.rollback = { ...result, by, at: new Date().toISOString() };
    report.outcome = 'rolled back';
    window.settle(result);
    await dropNewCollection('rolled back');
    return result;
  };

  const windowAndCleanup = async (resolved: ReingestPlan) => {
    report.phase = 'window';
    report.windowUntil = new Date(Date.now() + durationMs(options.window)).toISOString();
    const requested = await steps.step('window', `rollback window ${options.window}: rollback switches ${options.alias} back to ${report.live}`, () =>
      window.wait(durationMs(options.window), `rollback window ${options.window}, then ${report.live} is deleted`),
      (asked) => (asked ? `rollback asked by ${window.requestedBy ?? 'unknown'}` : 'passed'),
    );
    if (requested) {
      await rollBack(resolved, window.requestedBy ?? null);
      steps.finish(`rolled back: ${options.alias} → ${report.live}`);
      return;
    }
    window.settle({ ok: false, alias: options.alias, to: report.collection!, detail: 'the window closed' });
    await steps.step('cleanup', `delete the old collection ${report.live}`, () =>
      quickActivities(`delete ${report.live}`).deleteReingestCollection({ qdrant: resolved.qdrant, collection: report.live!, kind: 'previous' }),
    );
    report.oldCollectionDeleted = true;
    report.outcome = 'switched';
    steps.finish(`switched: ${options.alias} → ${report.collection}`);
  };

  try {
    const resolved = plan ?? (await planAndCreate());
    await ingest(resolved);
    await catchUp(resolved);
    await validate(resolved);
    await approveAndSwitch(resolved);
    await windowAndCleanup(resolved);
    report.phase = 'finished';
    return report;
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    // Set before anything waits: a waiting approve update returns as soon as the outcome is not 'running'.
    if (report.outcome === 'running') report.outcome = error instanceof NoSwitch ? error.outcome : isCancellation(error) ? 'cancelled' : 'failed';
    report.reason = error instanceof Error ? error.message : String(error);
    window.settle({ ok: false, alias: options.alias, to: report.live ?? '', detail: `the run ended: ${report.reason}` });
    report.phase = 'finished';
    await CancellationScope.nonCancellable(async () => {
      if (report.switchedAt && !report.rollback && isCancellation(error)) await rollBack(plan!, 'cancelled');
      else if (!report.switchedAt) await dropNewCollection(report.outcome);
    });
    steps.finish(`${report.outcome}: ${report.reason}`);
    if (plan) await new Notifier('reingest', plan).failed(error, { alias: options.alias, outcome: report.outcome });
    if (error instanceof NoSwitch) throw ApplicationFailure.create({ type: error.type, nonRetryable: true, message: error.message, details: [report] });
    throw error;
  } finally {
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}
