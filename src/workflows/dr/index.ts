import { ApplicationFailure, CancellationScope, condition, executeChild, isCancellation, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { disasterRecoveryInputSchema, type DisasterRecoveryOptions } from '../../config/inputs.js';
import type { DrPlan } from '../../config/plan.js';
import { durationMs } from '../../core/duration.js';
import { againstTarget, secondsBetween, type DrPhase } from '../../core/dr.js';
import { leaseTargets } from '../../core/leases.js';
import { backupKeys } from '../../core/storeKeys.js';
import { compensationActivities, quickActivities, streamingActivities } from '../lib/activities.js';
import { parseInput } from '../lib/input.js';
import { withLeases } from '../lib/leases.js';
import { StepTracker } from '../lib/steps.js';
import type { DeployReport } from '../deploy/index.js';
import type { RestoreReport } from '../restore.js';
import { drApproveUpdate, drStatusQuery, type DrReport } from './report.js';
import type { RestoredFreshness } from '../../activities/dr/freshness.js';
import { describePlan, phasePlanOf, restoreInputOf } from './plan.js';
import { Notifier } from '../lib/notify.js';
import { drApproveCommand } from '../../core/notify.js';

/** Marks histories that read the restored databases' freshness columns after the restore. */
const DR_FRESHNESS_PATCH = 'ragops-dr-freshness';
/** Marks histories whose restore groups wait for every child before failing (so a drill's teardown sees all they created). */
const DR_SETTLE_PATCH = 'ragops-dr-settle-group';

/** A dump holds nothing newer than its end: a later value (future-dated rows, a zone-less column) is taken as the end, and said. */
function notAfterBackup(entry: RestoredFreshness, finishedAt: string): RestoredFreshness {
  if (entry.at === null || entry.at <= finishedAt) return entry;
  return { ...entry, at: finishedAt, note: `${entry.basis} reads ${entry.at}, after the backup ended at ${finishedAt}: taken as the backup's end` };
}

/** All of `work` at once; fails with the first failure — after every one has ended, when `settle`. */
async function inParallel(settle: boolean, work: Array<Promise<void>>): Promise<void> {
  if (!settle) {
    await Promise.all(work);
    return;
  }
  const failed = (await Promise.allSettled(work)).find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}
/** Marks histories whose drill teardown stops and removes the clusters the drill recovered from pgBackRest. */
const DR_DRILL_CLUSTER_PATCH = 'ragops-dr-drill-physical';

/** A phase that stops the recovery: the report says where each component stands and what to do. */
class PhaseFailed extends Error {
  constructor(readonly phase: DrPhase, message: string, readonly whatNow: string) {
    super(message);
  }
}

const nowIso = () => new Date().toISOString();

/**
 * Disaster recovery as one durable run, in the order of the Aegis guide's runbook: assess,
 * approve, stop writers, restore data (child `restore` runs), verify dependencies, deploy
 * services (child `deploy` runs at the backup's versions), traffic, validate end to end, then
 * report RTO and RPO against the stack's targets. Child runs have ids derived from this run's,
 * so a resumed run never redoes a finished phase. A failed phase is not "rolled back": the
 * report says what state the stack is in and what to do.
 */
export async function disasterRecovery(rawInput: unknown): Promise<DrReport> {
  const options = parseInput(disasterRecoveryInputSchema, rawInput, 'disasterRecovery');
  const runStartedAt = new Date(workflowInfo().startTime).toISOString();
  const steps = new StepTracker('disasterRecovery', options.stack);
  const report: DrReport = { stack: options.stack, mode: options.mode, outcome: 'running', phase: 'assess', phases: [], restores: [], deploys: [], dependencies: [], validation: [], components: {} };
  setHandler(drStatusQuery, () => report);
  setHandler<{ approvedBy: string }, [{ by?: string }?], typeof drApproveUpdate>(
    drApproveUpdate,
    async (request) => {
      report.approvedBy = request?.by ?? 'unknown';
      return { approvedBy: report.approvedBy };
    },
    {
      validator: () => {
        if (report.approvedBy) throw new Error(`already approved by ${report.approvedBy}`);
        if (report.phase !== 'approve') throw new Error(`the run is not waiting for approval (phase ${report.phase}${options.approve === 'auto' ? ', approve: auto' : ''})`);
      },
      description: 'approve the recovery the assess phase planned (approve: manual); the caller is recorded',
    },
  );

  /** Runs one phase as a named step, recording its outcome and duration. */
  const phase = async <T>(name: DrPhase, title: string, work: () => Promise<T>, describe: (result: T) => string): Promise<T> => {
    report.phase = name;
    const startedAt = nowIso();
    try {
      const result = await steps.step(name, title, work, describe);
      report.phases.push({ phase: name, outcome: 'done', detail: describe(result), startedAt, durationMs: Date.now() - Date.parse(startedAt) });
      return result;
    } catch (error) {
      report.phases.push({ phase: name, outcome: 'failed', detail: error instanceof Error ? error.message : String(error), startedAt, durationMs: Date.now() - Date.parse(startedAt) });
      throw error;
    }
  };
  const skip = (name: DrPhase, why: string) => {
    report.phases.push({ phase: name, outcome: 'skipped', detail: why, startedAt: nowIso(), durationMs: 0 });
  };

  const plan = await phase('assess', 'assess the stack and choose the backup', () => quickActivities(`assess ${options.stack}`).resolveDrPlan({ options }), describePlan);
  report.plan = plan;
  report.targetStack = plan.targetStack;
  report.phasePlan = phasePlanOf(plan, options);
  steps.setHeadline(`**disasterRecovery** (${options.mode}) of stack \`${plan.stack}\`${plan.targetStack !== plan.stack ? ` into \`${plan.targetStack}\`` : ''} from backup \`${plan.backup.backupId}\``);
  if (options.mode === 'plan') {
    report.outcome = 'planned';
    steps.finish(`planned: ${describePlan(plan)}`);
    return report;
  }
  const notifier = new Notifier('disasterRecovery', plan);
  try {
    return await withLeases(steps, 'disasterRecovery', [{ target: leaseTargets.dr(plan.targetStack), mode: 'exclusive' }], async () => {
      try {
        return await recover(options, plan, report, phase, skip, steps, runStartedAt, notifier);
      } finally {
        if (plan.teardown && !options.keep) await CancellationScope.nonCancellable(() => tearDownDrill(plan, report, steps));
      }
    });
  } catch (error) {
    if (isCancellation(error)) throw error;
    if (error instanceof ApplicationFailure) {
      await notifier.failed(error, { mode: options.mode });
      throw error;
    }
    const failedPhase = error instanceof PhaseFailed ? error.phase : report.phase;
    const reason = error instanceof Error ? error.message : String(error);
    report.outcome = 'failed';
    report.failure = { phase: failedPhase, reason, whatNow: error instanceof PhaseFailed ? error.whatNow : 'look at the failed step in the UI, fix the cause, and run the recovery again: finished restores are repeated, nothing is rolled back' };
    steps.finish(`FAILED at ${failedPhase}: ${reason.split('\n')[0]}`);
    const failure = ApplicationFailure.create({ type: 'DisasterRecoveryFailed', nonRetryable: true, message: `disaster recovery of ${plan.stack} failed at ${failedPhase}: ${reason}`, details: [report] });
    await notifier.failed(failure, { mode: options.mode, phase: failedPhase, whatNow: report.failure.whatNow, components: Object.entries(report.components).map(([component, state]) => `${component}: ${state}`).join('; ') });
    throw failure;
  }
}

/** Removes what the drill created in the drill stack: deployed services, restored databases and collections. */
async function tearDownDrill(plan: DrPlan, report: DrReport, steps: StepTracker): Promise<void> {
  const teardown = plan.teardown!;
  const done: string[] = [];
  await steps.step('teardown', 'tear down what the drill created', async () => {
    const activities = compensationActivities('drill teardown');
    for (const service of teardown.services) {
      if (!report.deploys.some((deploy) => deploy.service === service.service)) continue;
      done.push(await activities.removeDrillService({ target: plan.deployTarget!, service }));
    }
    for (const restore of report.restores) {
      for (const { label } of restore.clusters ?? []) {
        const cluster = teardown.clusters?.find((entry) => entry.label === label);
        if (cluster && patched(DR_DRILL_CLUSTER_PATCH)) done.push(await compensationActivities('drill teardown', 'streaming').removeDrillCluster({ cluster }));
      }
      for (const created of restore.created ?? []) {
        const [kind, name] = created.split(/:(.*)/s) as [string, string];
        if (kind === 'postgres') {
          const { target } = teardown.postgres.find((entry) => entry.label === name)!;
          done.push(await activities.dropDrillDatabase({ target, database: target.database, backupId: plan.backup.backupId, artifactName: name, restoreRunTag: restore.runTag! }));
        } else if (kind === 'qdrant' && teardown.qdrant) {
          done.push(await activities.deleteDrillCollection({ qdrant: teardown.qdrant, collection: name }));
        }
      }
      for (const label of restore.redis ?? []) {
        const target = teardown.redis?.find((candidate) => candidate.name === label);
        if (target) done.push(await activities.flushDrillRedis({ target }));
      }
    }
    return done;
  }, (lines) => lines.join('; ') || 'nothing to remove').catch((error: unknown) => {
    done.push(`teardown did not finish: ${error instanceof Error ? error.message : String(error)}`);
  });
  report.teardown = done;
}

/** From a failed restore's details (each component's state): the physical ones it had recovered, still running. */
function clustersRestoredBefore(error: unknown, plan: DrPlan): NonNullable<DrReport['restores'][number]['clusters']> {
  let failure: unknown = error;
  while (failure instanceof Error && !(failure instanceof ApplicationFailure && failure.type === 'RestoreFailed') && failure.cause) failure = failure.cause;
  const states = failure instanceof ApplicationFailure ? (failure.details?.[0] as Record<string, string> | undefined) : undefined;
  return plan.components.postgres.flatMap((p) => {
    if (!p.physical) return [];
    const state = Object.entries(states ?? {}).find(([component]) => component.startsWith(`postgres ${p.label} → new cluster `))?.[1];
    return state === 'restored' ? [{ label: p.label, dataDirectory: p.physical.dataDirectory, port: p.physical.port, recoveredPoint: null, tables: {} }] : [];
  });
}

type PhaseRunner = <T>(name: DrPhase, title: string, work: () => Promise<T>, describe: (result: T) => string) => Promise<T>;

async function recover(
  options: DisasterRecoveryOptions,
  plan: DrPlan,
  report: DrReport,
  phase: PhaseRunner,
  skip: (name: DrPhase, why: string) => void,
  steps: StepTracker,
  runStartedAt: string,
  notifier: Notifier,
): Promise<DrReport> {
  const { workflowId } = workflowInfo();
  /** The newest data of each database recovered to a point in time (its last replayed commit). */
  const recoveredPoints: string[] = [];
  for (const { label, database } of plan.components.postgres) report.components[`postgres ${label} (${database})`] = 'untouched';
  for (const collection of plan.components.qdrant) report.components[`qdrant ${collection}`] = 'untouched';
  for (const label of plan.components.redis) report.components[`redis ${label}`] = 'untouched';
  for (const { label, restorable, why } of plan.components.mirror ?? []) report.components[`mirror ${label}`] = restorable ? 'untouched' : `untouched, not restored: ${why}`;
  for (const { label, restorable, why } of plan.components.exec ?? []) report.components[`exec ${label}`] = restorable ? 'untouched' : `untouched, not restored: ${why}`;
  for (const { service } of plan.services) report.components[`service ${service}`] = plan.writers.some((writer) => writer.service === service) ? 'running' : 'untouched';

  if (options.approve === 'auto') {
    report.approvedBy = 'auto (input approve: auto)';
    skip('approve', 'approve: auto');
  } else {
    const approved = await phase(
      'approve',
      `wait for approval (update "approve", timeout ${plan.approvalTimeout})`,
      () => {
        notifier.inBackground('approval', `${options.mode} of ${plan.stack}${plan.targetStack !== plan.stack ? ` into ${plan.targetStack}` : ''} from backup ${plan.backup.backupId} waits for approval (for ${plan.approvalTimeout}): ${drApproveCommand(workflowId)}`, {
          approveCommand: drApproveCommand(workflowId),
          mode: options.mode,
          backupId: plan.backup.backupId,
          timeout: plan.approvalTimeout,
          plan: describePlan(plan),
        });
        return condition(() => report.approvedBy !== undefined, durationMs(plan.approvalTimeout));
      },
      (ok) => (ok ? `approved by ${report.approvedBy}` : `not approved within ${plan.approvalTimeout}`),
    );
    if (!approved) {
      report.outcome = 'not approved';
      steps.finish(`not approved within ${plan.approvalTimeout}: nothing was touched`);
      throw ApplicationFailure.create({ type: 'NotApproved', nonRetryable: true, message: `the recovery of ${plan.stack} was not approved within ${plan.approvalTimeout}; nothing was touched`, details: [report] });
    }
  }

  if (plan.writers.length === 0) skip('stop writers', options.mode === 'drill' ? 'a drill leaves production running' : 'no writers declared');
  else {
    const target = plan.deployTarget!;
    await phase('stop writers', `stop ${plan.writers.map((w) => w.service).join(', ')}`, async () => {
      for (const writer of plan.writers) {
        await quickActivities(`stop ${writer.service}`).stopDrWriter({ target, service: writer });
        report.components[`service ${writer.service}`] = 'stopped';
      }
      return plan.writers.map((w) => w.service);
    }, (stopped) => `stopped ${stopped.join(', ')}`);
  }

  await phase('restore data', `restore ${plan.restoreGroups.map((group) => group.join(' + ')).join(', then ')}`, async () => {
    const settle = patched(DR_SETTLE_PATCH);
    for (const group of plan.restoreGroups) {
      await inParallel(
        settle,
        group.map(async (kind) => {
          const childId = `${workflowId}-restore-${kind}`;
          const entry: DrReport['restores'][number] = { kind, workflowId: childId };
          report.restores.push(entry);
          const restored = (await executeChild('restore', { workflowId: childId, args: [restoreInputOf(plan, kind)] }).catch((error: unknown) => {
            // A drill's clusters the failed restore had already recovered and left running: the teardown stops them.
            if (plan.teardown?.clusters) entry.clusters = clustersRestoredBefore(error, plan);
            throw new PhaseFailed('restore data', `restore of ${kind} failed: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`, `the ${kind} restore says which components it put back (its run ${childId}); the services are stopped: fix the cause and run the recovery again`);
          })) as RestoreReport;
          entry.runTag = restored.runTag;
          entry.redis = restored.redis.map((r) => r.label);
          // What did not exist before: a drill's teardown removes only these.
          entry.created = [...restored.postgres.filter((p) => !p.replaced).map((p) => `postgres:${p.label}`), ...restored.qdrant.filter((q) => !q.replaced).map((q) => `qdrant:${q.collection}`)];
          for (const done of restored.postgres) report.components[`postgres ${done.label} (${done.database})`] = 'restored';
          if (restored.physical?.length) {
            entry.clusters = restored.physical.map((done) => ({ label: done.name, dataDirectory: done.dataDirectory, port: done.port, recoveredPoint: done.recoveredPoint, tables: done.tables }));
          }
          for (const done of restored.physical ?? []) {
            const component = plan.components.postgres.find((p) => p.label === done.name)!;
            report.components[`postgres ${done.name} (${component.database})`] = `recovered to ${done.recoveredPoint ?? 'the end of the backup'}`;
            if (done.recoveredPoint) recoveredPoints.push(done.recoveredPoint);
          }
          for (const done of restored.qdrant) report.components[`qdrant ${done.source}`] = 'restored';
          for (const done of restored.redis) report.components[`redis ${done.label}`] = 'restored';
          for (const done of restored.mirrors ?? []) report.components[`mirror ${done.label}`] = `restored${done.notInBackup ? ` (${done.notInBackup} object(s) the backup does not hold left in place)` : ''}`;
          for (const done of restored.exec ?? []) report.components[`exec ${done.label}`] = 'restored';
        }),
      );
    }
    return report.restores.length;
  }, (count) => `${count} restore run(s) complete`);

  // Before any service writes again. patched: histories recorded before it replay without it.
  const logicalLabels = plan.components.postgres.filter((p) => !p.physical).map((p) => p.label);
  if (logicalLabels.length > 0 && patched(DR_FRESHNESS_PATCH)) {
    // The data is back: a freshness column that cannot be read only costs the RPO its precision.
    report.freshness = await quickActivities('read the restored data\'s freshness')
      .measureRestoredFreshness({ stack: plan.stack, targetStack: plan.targetStack, labels: logicalLabels })
      .catch((error: unknown) => logicalLabels.map((label) => ({ label, database: '', at: null, basis: 'freshness column', error: error instanceof Error ? error.message : String(error) })))
      .then((measured) => measured.map((entry) => notAfterBackup(entry, plan.backup.finishedAt)));
  }

  if (plan.dependencies.length === 0) skip('verify dependencies', 'none declared');
  else {
    const evidence = await phase('verify dependencies', `check ${plan.dependencies.map((d) => d.name).join(', ')}`, () => streamingActivities('verify dependencies').checkDrDependencies({ dependencies: plan.dependencies }), (e) => `${e.filter((x) => x.passed).length} of ${e.length} answer`);
    report.dependencies = evidence;
    const down = evidence.filter((entry) => !entry.passed);
    if (down.length > 0) throw new PhaseFailed('verify dependencies', `dependencies not answering: ${down.map((d) => `${d.name} (${d.detail})`).join('; ')}`, 'the data is restored and the services are not started: bring the dependencies up, then run the recovery again or deploy the services by hand');
  }

  if (plan.services.length === 0) skip('deploy services', 'no services declared');
  else {
    await phase('deploy services', `deploy ${plan.services.map((s) => `${s.service} ${s.image}`).join(', ')}`, async () => {
      for (const { service, image } of plan.services) {
        const childId = `${workflowId}-deploy-${service}`;
        report.deploys.push({ service, image, workflowId: childId });
        await (executeChild('deploy', { workflowId: childId, args: [{ stack: plan.targetStack, service, image, strategy: 'rolling' }] }) as Promise<DeployReport>).catch((error: unknown) => {
          report.components[`service ${service}`] = 'deploy failed';
          throw new PhaseFailed('deploy services', `deploy of ${service} ${image} failed: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`, `the data is restored; ${service} is not healthy (its deploy run ${childId} has the evidence): fix it and deploy ${image} again`);
        });
        report.components[`service ${service}`] = `running ${image}`;
      }
      return plan.services.length;
    }, (count) => `${count} service(s) deployed and healthy`);
  }

  if (!plan.traffic) skip('traffic', 'no traffic step declared: the services answer where they did');
  else {
    const { shifter, weight } = plan.traffic;
    await phase('traffic', `${shifter.type}: ${weight} % to the recovered side`, async () => {
      const set = await quickActivities(`set ${shifter.type} traffic`).setTrafficWeight({ shifter, weight, ...(plan.deployTarget ? { target: plan.deployTarget } : {}) });
      const read = await quickActivities(`read ${shifter.type} traffic`).readTrafficWeight({ shifter, ...(plan.deployTarget ? { target: plan.deployTarget } : {}) });
      if (read.weight !== null && read.weight !== weight) {
        throw new PhaseFailed('traffic', `${shifter.type} reports ${read.weight} % to the recovered side after setting ${weight} %: ${read.detail}`, 'the services run and the data is restored; set the traffic by hand and validate');
      }
      report.components[`traffic (${shifter.type})`] = `${weight} % to the recovered side${read.weight === null ? ' (this shifter cannot read it back)' : ''}`;
      return read.weight === null ? `${set.detail}; ${shifter.type} cannot read the weight back: not verified` : `${read.weight} % verified: ${read.detail}`;
    }, (detail) => detail);
  }

  const validation = await phase('validate', `end-to-end checks (${plan.validation.length})`, () => streamingActivities('validate the recovery').runHttpChecks({ checks: plan.validation, what: 'validate the recovery' }), (e) => `${e.filter((x) => x.passed).length} of ${e.length} passed`);
  report.validation = validation;
  const failing = validation.filter((entry) => !entry.passed);
  if (failing.length > 0) {
    throw new PhaseFailed('validate', `end-to-end checks failing: ${failing.map((e) => `${e.url}: ${e.status ?? e.error ?? 'no answer'}`).join('; ')}`, 'data restored and services deployed, but the stack does not answer as it should: look at the evidence; nothing was rolled back');
  }

  const validatedAt = nowIso();
  const incidentAt = options.incidentAt ?? runStartedAt;
  report.rto = { ...againstTarget(secondsBetween(incidentAt, validatedAt), plan.targets.rtoMinutes), from: incidentAt, to: validatedAt };
  // The stack is as old as its oldest component: a database's declared freshness column or the
  // point it was recovered to, else the backup's snapshot.
  const freshAt = (report.freshness ?? []).flatMap((entry) => (entry.at === null ? [] : [{ label: entry.label, at: entry.at }]));
  const { postgres, qdrant, redis, mirror = [], exec = [] } = plan.components;
  const fromSnapshot =
    postgres.some((p) => !p.physical && !freshAt.some((f) => f.label === p.label)) ||
    qdrant.length > 0 ||
    redis.length > 0 ||
    [...mirror, ...exec].some((component) => component.restorable);
  const measured = [...recoveredPoints, ...freshAt.map((f) => f.at)];
  const newestEverywhere = [...measured, ...(fromSnapshot || measured.length === 0 ? [plan.dataAsOf] : [])].sort()[0]!;
  report.rpo = { ...againstTarget(secondsBetween(newestEverywhere, incidentAt), plan.targets.rpoMinutes), dataAsOf: newestEverywhere, incidentAt };
  report.outcome = options.mode === 'drill' ? 'drilled' : 'recovered';
  report.evidenceKey = await phase(
    'report',
    'write the evidence beside the backup',
    () => quickActivities('write DR evidence').writeDrEvidence({ store: plan.store, key: backupKeys.drEvidence(plan.stack, plan.backup.backupId, new Date(runStartedAt), plan.runTag, options.mode), evidence: report }),
    (key) => key,
  );
  const figures = `RTO ${report.rto.seconds} s (target ${report.rto.targetSeconds} s${report.rto.met ? '' : ', MISSED'}), RPO ${report.rpo.seconds} s (target ${report.rpo.targetSeconds} s${report.rpo.met ? '' : ', MISSED'})`;
  steps.finish(`${report.outcome}: ${figures}`);
  const met = report.rto.met && report.rpo.met;
  await notifier.send('dr-result', `${report.outcome} from backup ${plan.backup.backupId}, targets ${met ? 'met' : 'MISSED'}: ${figures}`, {
    mode: options.mode,
    outcome: report.outcome,
    targetsMet: met,
    rtoSeconds: report.rto.seconds,
    rtoTargetSeconds: report.rto.targetSeconds,
    rpoSeconds: report.rpo.seconds,
    rpoTargetSeconds: report.rpo.targetSeconds,
    evidenceKey: report.evidenceKey,
  });
  await notifier.settled();
  return report;
}
