import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, ContinueAsNew, continueAsNew, isCancellation, log, patched } from '@temporalio/workflow';
import { canaryInputSchema } from '../../config/inputs.js';
import type { AnalysisConfig, CanaryStep } from '../../config/stacks/canary.js';
import { emptyCounters, judgeRound } from '../../core/canary.js';
import { canaryDetailsMarkdown } from '../../core/canaryDetails.js';
import { durationMs } from '../../core/duration.js';
import { deployClaims } from '../../core/leases.js';
import { parseInput } from '../lib/input.js';
import { withLeases } from '../lib/leases.js';
import { Notifier } from '../lib/notify.js';
import { StepTracker } from '../lib/steps.js';
import { runChecks } from '../deploy/report.js';
import { versionLabel } from '../../core/format.js';
import { deployTargetOps } from '../deploy/targets.js';
import { canaryActivities } from './activities.js';
import { MEASUREMENTS_KEPT, type CanaryReport } from './report.js';
import { Steering } from './steering.js';

/** Marks histories whose rollback also removes a canary whose launch did not finish. */
const REMOVE_HALF_LAUNCHED = 'ragops-canary-remove-half-launched';

/** Ends the step loop: an automatic rollback or an operator's abort. */
class Stop extends Error {
  constructor(
    readonly outcome: 'rolled back' | 'aborted',
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Measurements per run before the canary continues as new, carrying its state (history stays small). */
const DEFAULT_MEASUREMENTS_PER_RUN = 200;

/**
 * Progressive delivery of one service: the canary version runs beside the stable one, a
 * traffic shifter gives it the weight each step sets, analyses measure it, and the run
 * promotes it (the stable one rolls to its digest) or rolls it back (weight 0 first, then
 * the canary removed, then the stable one checked). Pause, resume, promote and abort are
 * signals; setWeight is an update; status is a query.
 */
export async function canary(rawInput: unknown, carried?: CanaryReport): Promise<CanaryReport> {
  const { measurementsPerRun, ...input } = (rawInput ?? {}) as { measurementsPerRun?: number };
  const options = parseInput(canaryInputSchema, input, 'canary');
  const steps = new StepTracker('canary', options.stack);
  const { deploy: plan, canary: config } = await steps.step('plan', 'check the service, its canary steps, shifter and metrics', () =>
    canaryActivities('plan canary').resolveCanaryPlan({ options }),
  );
  steps.setHeadline(`**canary** of \`${plan.image}\` for ${plan.service} (stack \`${plan.stack}\`)`);
  const report: CanaryReport = carried
    ? { ...carried, generation: carried.generation + 1 }
    : {
        ...{ stack: plan.stack, service: plan.service, image: plan.image, steps: config.steps, stepIndex: 0, roundInStep: 0, weight: 0, paused: null },
        ...{ stable: null, canary: null, launched: false, measurements: [], measurementCount: 0, counters: emptyCounters(), lastAnalysisFailed: false, outcome: 'running', generation: 1 },
      };
  const measuredAtStart = report.measurementCount;
  const notifier = new Notifier('canary', plan);
  const ops = deployTargetOps(plan);

  /** The UI's canary block and RagopsPhase, from the report. */
  const show = () => {
    steps.setSection(canaryDetailsMarkdown(report));
    if (report.outcome !== 'running') return;
    const step = report.steps[report.stepIndex];
    steps.setPhase(report.paused ? 'paused' : !step ? 'promote' : 'setWeight' in step ? 'traffic' : 'pause' in step ? 'pause' : 'analysis');
  };

  // One shift at a time: a setWeight update and a step's shift never race at the proxy, and
  // the weight reported is the one the proxy was given last.
  let shifting: Promise<unknown> = Promise.resolve();
  const shift = (weight: number) => {
    const next = shifting.then(async () => {
      const result = await steps.step('traffic', `canary weight ${report.weight} → ${weight} %`, () =>
        canaryActivities(`shift to ${weight} %`).setTrafficWeight({ shifter: config.traffic, weight, target: plan.target }),
        (r) => r.detail,
      );
      report.weight = weight;
      show();
      return result;
    });
    shifting = next.catch(() => undefined);
    return next;
  };
  const steering = new Steering(report, config.maxWeight, config.traffic, shift, show);
  const signalled = () => {
    const seen = steering.generation;
    return () => steering.generation !== seen;
  };
  /** Waits until `wake` or `ms` (no timer when undefined); the timer's summary says what it waits for. */
  const waitFor = async (wake: () => boolean, ms: number | undefined, summary: string): Promise<boolean> => {
    if (ms === undefined) {
      await condition(wake);
      return true;
    }
    return condition(wake, ms, { summary });
  };

  /** Measures every metric once, records the round, and acts on the verdict. */
  const measureRound = async (metricNames: string[], interval: string) => {
    const metrics = config.metrics.filter((metric) => metricNames.includes(metric.name));
    const context = { service: plan.service, canary: report.canary?.pinned ?? plan.image, stable: report.stable?.pinned ?? report.stable?.image ?? '', interval };
    const round = await steps.step('analysis', `measure ${metricNames.join(', ')} at ${report.weight} %`, () =>
      Promise.all(metrics.map((metric) => canaryActivities(`measure ${metric.name}`).measureMetric({ metric, context }))),
      (measured) => measured.map((m) => `${m.metric} ${m.value ?? 'n/a'} ${m.outcome}`).join(', '),
    );
    report.measurements = [...report.measurements, ...round].slice(-MEASUREMENTS_KEPT);
    report.measurementCount += round.length;
    const { verdict, counters } = judgeRound(round, report.counters, metrics);
    report.counters = counters;
    report.lastAnalysisFailed = round.some((m) => m.outcome === 'failed');
    if (verdict.action === 'pause' && !report.paused) {
      report.paused = { reason: verdict.reason, since: new Date().toISOString() };
      notifier.inBackground('inconclusive', `canary of ${plan.image} paused at ${report.weight} %: ${verdict.reason}; resume, promote or abort it`, { service: plan.service, image: plan.image, weight: report.weight });
    }
    show();
    if (verdict.action === 'rollback') throw new Stop('rolled back', `analysis failed: ${verdict.reason}`);
  };

  const background = config.analysis;
  /** Waits up to `ms` (or until a signal), running the background analysis every interval meanwhile. */
  const waitWithAnalysis = async (ms: number | undefined, summary: string): Promise<void> => {
    const wake = signalled();
    if (!background || report.stepIndex < background.startingStep) {
      await waitFor(wake, ms, summary);
      return;
    }
    const interval = durationMs(background.interval);
    const until = ms === undefined ? undefined : Date.now() + ms;
    while (!wake()) {
      const left = until === undefined ? interval : Math.min(interval, until - Date.now());
      if (left <= 0 || (await waitFor(wake, left, summary))) return;
      if (until !== undefined && Date.now() >= until) return;
      await measureRound(background.metrics, background.interval);
      if (report.paused) return;
      show();
    }
  };

  /** Acts on abort and promote; true when the current step should end now. */
  const steer = (): boolean => {
    if (steering.abortRequested) throw new Stop('aborted', steering.abortRequested);
    const promote = steering.promoteRequested;
    if (!promote) return false;
    if (promote.full) report.stepIndex = report.steps.length;
    else steering.promoteRequested = undefined;
    report.paused = null;
    return true;
  };

  /** Holds while paused, until resume, promote or abort (or the step's timeout). */
  const holdWhilePaused = async (timeoutAt?: number): Promise<'resumed' | 'timed out' | 'steered'> => {
    while (report.paused) {
      if (steer()) return 'steered';
      const left = timeoutAt === undefined ? undefined : timeoutAt - Date.now();
      if (left !== undefined && left <= 0) return 'timed out';
      show();
      await waitFor(signalled(), left, `paused at ${report.weight} % until resume, or the step's timeout`);
    }
    return steer() ? 'steered' : 'resumed';
  };

  const pauseStep = async ({ duration, timeout }: { duration?: string; timeout?: string }) => {
    const timeoutAt = timeout ? Date.now() + durationMs(timeout) : undefined;
    if (duration === undefined) {
      report.paused = { reason: `step ${report.stepIndex + 1}: waiting for resume or promote`, since: new Date().toISOString() };
      show();
      const held = await holdWhilePaused(timeoutAt);
      if (held === 'timed out') {
        if (config.pauseTimeoutAction === 'abort') throw new Stop('aborted', `the pause of step ${report.stepIndex + 1} timed out after ${timeout}`);
        report.stepIndex = report.steps.length;
        report.paused = null;
      }
      return;
    }
    let remaining = durationMs(duration);
    while (remaining > 0) {
      if (steer()) return;
      if (report.paused) {
        if ((await holdWhilePaused(timeoutAt)) === 'steered') return;
        continue;
      }
      const started = Date.now();
      show();
      await waitWithAnalysis(remaining, `pause ${duration} at ${report.weight} %`);
      remaining -= Date.now() - started;
    }
  };

  const analysisStep = async (analysis: AnalysisConfig) => {
    while (report.roundInStep < analysis.count) {
      if (steer()) return;
      if (report.paused && (await holdWhilePaused()) === 'steered') return;
      show();
      // Each round measures the interval before it, so the first one sees this step's weight
      // only; a signal meanwhile is acted on first, and the interval starts again.
      if (await waitFor(signalled(), durationMs(analysis.interval), `analysis ${analysis.metrics.join(', ')}: next round in ${analysis.interval} at ${report.weight} %`)) continue;
      await measureRound(analysis.metrics, analysis.interval);
      // A round that paused the run (inconclusive data, or a pause meanwhile) is not one of the
      // step's rounds: it is measured again after resume, so the step never ends on it.
      if (report.paused) continue;
      report.roundInStep += 1;
      await continueAsNewWhenLong();
    }
    show();
  };

  const continueAsNewWhenLong = async () => {
    if (report.measurementCount - measuredAtStart < (measurementsPerRun ?? DEFAULT_MEASUREMENTS_PER_RUN)) return;
    await condition(allHandlersFinished);
    await notifier.settled();
    await continueAsNew<typeof canary>({ ...options, measurementsPerRun }, report);
  };

  const runStep = async (step: CanaryStep) => {
    if ('setWeight' in step) await shift(step.setWeight);
    else if ('pause' in step) await pauseStep(step.pause);
    else await analysisStep(step.analysis);
  };

  const promote = async () => {
    // Promote exactly what was measured: a tag may have moved since the canary pulled it.
    const running = await steps.step('promote', 'read the digest the canary runs', () => ops.canaryPinned(), (p) => p ?? 'as pulled');
    if (running) report.canary = { pinned: running, digest: running.split('@')[1] ?? null };
    const pinned = report.canary?.pinned ?? plan.image;
    const rollout = await steps.step('promote', `roll the stable ${plan.service} to ${pinned}`, () => ops.rollout(pinned), (r) => (r.ok ? 'done' : 'FAILED'));
    const checks = rollout.ok ? await steps.step('promote', 'check the promoted stable version', () => runChecks('verify the promotion', plan.config.health)) : [];
    if (!rollout.ok || checks.some((check) => !check.passed)) {
      if (report.stable) await steps.step('promote', `roll the stable one back to ${versionLabel(report.stable)}`, () => ops.rollback(report.stable!));
      throw new Stop('rolled back', `promotion failed: ${rollout.ok ? 'the promoted version is not healthy' : rollout.evidence}`);
    }
    await shift(0);
    await steps.step('promote', 'remove the canary version', () => canaryActivities('remove canary').removeCanaryVersion({ plan }));
    report.outcome = 'promoted';
    show();
    steps.finish(`promoted ${plan.image}`);
  };

  let launchBegun = false;

  /** Weight 0 first, then the canary removed, then the stable version checked. */
  const rollBack = async (stop: Stop) => {
    await shift(0);
    // A launch cancelled or timed out part-way may have left the container or Deployment behind;
    // removal is idempotent. patched: histories recorded before it replay without that removal.
    if (report.launched) await steps.step('rollback', 'remove the canary version', () => canaryActivities('remove canary').removeCanaryVersion({ plan }));
    else if (launchBegun && patched(REMOVE_HALF_LAUNCHED)) {
      // What the failed launch may have left; one that is not ragops's (the reason the launch failed) is kept, and the rollback goes on.
      await steps
        .step('rollback', 'remove what the unfinished launch left', () => canaryActivities('remove canary').removeCanaryVersion({ plan }))
        .catch((error: unknown) => log.warn(`the canary version was not removed: ${error instanceof Error ? error.message : String(error)}`));
    }
    const checks = await steps.step('rollback', 'check the stable version', () => runChecks('verify the stable version', plan.config.health));
    report.outcome = stop.outcome;
    report.reason = `${stop.reason}${checks.some((check) => !check.passed) ? '; the stable version is NOT healthy' : ''}`;
    report.paused = null;
    show();
    steps.finish(`${stop.outcome}: ${stop.reason}`);
  };

  const run = async (): Promise<CanaryReport> => {
    try {
      if (!report.launched) {
        report.stable = await steps.step('record', 'record the stable version', () => ops.current(), versionLabel);
        const pulled = await steps.step('pull', `pull ${plan.image}`, () => ops.pull(), (p) => `${p.note}; canary runs ${p.pinned}`);
        report.canary = { pinned: pulled.pinned, digest: pulled.digest };
        launchBegun = true;
        await steps.step('launch', `start the canary version beside the stable one`, () =>
          canaryActivities('launch canary').launchCanaryVersion({ plan, image: pulled.pinned }),
        );
        report.launched = true;
      }
      while (report.stepIndex < report.steps.length) {
        if (steering.abortRequested) throw new Stop('aborted', steering.abortRequested);
        if (steering.promoteRequested?.full) {
          report.stepIndex = report.steps.length;
          break;
        }
        // A pause left at the end of a step (an operator's, or inconclusive data) holds here:
        // no further step, and no promotion, while paused.
        if (report.paused) {
          await holdWhilePaused();
          continue;
        }
        await runStep(report.steps[report.stepIndex]!);
        if (report.stepIndex < report.steps.length) {
          report.stepIndex += 1;
          report.roundInStep = 0;
        }
        show();
        await continueAsNewWhenLong();
      }
      while (report.paused) await holdWhilePaused();
      if (steering.abortRequested) throw new Stop('aborted', steering.abortRequested);
      await promote();
      return report;
    } catch (error) {
      if (error instanceof ContinueAsNew) throw error;
      const stop = error instanceof Stop ? error : new Stop('rolled back', isCancellation(error) ? 'the run was cancelled' : error instanceof Error ? error.message : String(error));
      await CancellationScope.nonCancellable(() => rollBack(stop));
      if (isCancellation(error)) throw error;
      if (stop.outcome === 'rolled back') await notifier.send('rolled-back', `canary of ${plan.image} rolled back: ${report.reason}`, { service: plan.service, image: plan.image });
      if (stop.outcome === 'aborted') return report;
      throw ApplicationFailure.create({ type: 'CanaryRolledBack', nonRetryable: true, message: `canary of ${plan.image} rolled back: ${report.reason}`, details: [report] });
    }
  };

  try {
    return await notifier.failures(() => withLeases(steps, 'canary', deployClaims(plan.stack, plan.service), run));
  } finally {
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}
