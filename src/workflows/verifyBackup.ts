import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { verifyInputSchema } from '../config/inputs.js';
import { checkOutcome, outcomeOfChecks, type DrillOutcome, type VerificationCheck, type Verification } from '../config/manifest.js';
import { quickActivities, streamingActivities } from './lib/activities.js';
import { parseInput } from './lib/input.js';
import { ownedCollectionName, ownedDatabaseName } from '../core/runNames.js';
import { recordChecks, withBackupHeld } from './lib/resources.js';
import { StepTracker } from './lib/steps.js';
import { withLeases } from './lib/leases.js';
import { verifyClaims } from '../core/leases.js';
import { backupKeys } from '../core/storeKeys.js';
import { storeForArtifact } from '../config/stacks/encryption.js';
import type { VerifyPlan } from '../config/plan.js';
import { Notifier } from './lib/notify.js';

export interface VerifyReport {
  stack: string;
  backupId: string;
  depth: 'checksum' | 'restore';
  passed: boolean;
  outcome: DrillOutcome;
  evidenceKey: string;
  checks: VerificationCheck[];
  durationMs: number;
}

/**
 * The restore drill. Checksum depth re-reads every artifact from the store. Restore depth
 * restores each dump into a scratch database (checking the SHA-256 of what it restored)
 * and each snapshot into scratch collections (Qdrant checks the manifest's checksum), compares counts with the manifest exactly, runs sample queries and the
 * stack's sanity SQL, and always removes the scratch targets. The evidence is written
 * beside the manifest; a failed drill fails the run so schedules and alerts see it
 * (DrillFailed), and so does one that could not finish (DrillInconclusive: a store or server
 * unreachable, a timeout), which retention does not hold against the backup.
 */
export async function verifyBackup(rawInput: unknown): Promise<VerifyReport> {
  const options = parseInput(verifyInputSchema, rawInput, 'verifyBackup');
  const startedAt = new Date();
  const steps = new StepTracker('verifyBackup', options.stack);
  const plan = await steps.step(
    'plan',
    'find the backup',
    () => quickActivities(`plan drill of ${options.stack}`).resolveVerifyPlan({ options }),
    (p) => `backup ${p.backupId}: ${p.manifest.artifacts.length} artifact(s) in ${p.storeLocation}`,
  );
  steps.setHeadline(`**verifyBackup** (${options.depth} depth${plan.at ? `, to ${plan.at}` : ''}) of stack \`${plan.stack}\`, backup \`${plan.backupId}\``);

  const artifacts = plan.manifest.artifacts;
  // Named after this execution's tag (from the plan, so recorded): only such names are ever dropped.
  const scratchDatabaseFor = (label: string) => ownedDatabaseName('drill', plan.runTag, label);
  const scratchCollectionFor = (collection: string, method: string) => ownedCollectionName(plan.runTag, collection, method[0]!);
  const scratchCollections = artifacts
    .filter((a) => a.component === 'qdrant')
    .flatMap((a) => plan.drill.qdrantRecovery.map((method) => scratchCollectionFor(a.name, method)));

  const notifier = new Notifier('verifyBackup', plan);
  const checks = await notifier.failures(() => withLeases(steps, 'verifyBackup', verifyClaims(plan.stack), () => withBackupHeld(
    steps,
    { store: plan.store, stack: plan.stack, backupId: plan.backupId, runbook: 'verifyBackup' },
    async () => {
      const found: VerificationCheck[] = [];
      for (const artifact of artifacts) {
        // Each artifact is read as it was written: decrypted only when its manifest entry says it was encrypted.
        const readable = storeForArtifact(plan.store, artifact);
        if ('refused' in readable) {
          found.push({ name: 'read', component: artifact.component, artifact: artifact.name, passed: false, outcome: 'inconclusive', detail: readable.refused, figures: {}, durationMs: 0 });
          continue;
        }
        const store = readable.store;
        if (options.depth === 'checksum') {
          found.push(
            ...(await recordChecks(steps, 'checksum', `checksum ${artifact.key}`, artifact, () =>
              streamingActivities(`checksum ${artifact.name}`).checkStoredArtifact({ store, artifact }),
            )),
          );
          continue;
        }
        // At restore depth each restore hashes what it reads (or hands Qdrant the manifest's
        // checksum to verify), so a separate checksum pass would only read everything twice.
        if (artifact.component === 'postgres') {
          const target = plan.postgresTargets[artifact.name]!;
          const scratchDatabase = scratchDatabaseFor(artifact.name);
          found.push(
            ...(await recordChecks(steps, 'restore', `restore ${artifact.name} into ${scratchDatabase}`, artifact, () =>
              streamingActivities(`restore drill ${artifact.name}`).drillPostgresRestore({ target, store, artifact, scratchDatabase, mode: plan.drill }),
            )),
          );
        } else if (artifact.component === 'qdrant') {
          for (const method of plan.drill.qdrantRecovery) {
            const scratchCollection = scratchCollectionFor(artifact.name, method);
            found.push(
              ...(await recordChecks(steps, 'restore', `recover ${artifact.name} into ${scratchCollection} (${method})`, artifact, () =>
                streamingActivities(`restore drill ${artifact.name} (${method})`).drillQdrantRestore({
                  qdrant: plan.qdrant!,
                  store,
                  artifact,
                  scratchCollection,
                  method,
                  samplePoints: plan.drill.samplePoints,
                }),
              )),
            );
          }
        } else if (artifact.component === 'redis') {
          found.push(
            ...(await recordChecks(steps, 'restore', `load ${artifact.name}'s RDB into a scratch redis-server`, artifact, () =>
              streamingActivities(`restore drill ${artifact.name}`).drillRedis({ artifact, store }),
            )),
          );
        } else if (artifact.component === 'mirror') {
          const component = plan.mirrors![artifact.name]!;
          found.push(
            ...(await recordChecks(steps, 'restore', `restore ${artifact.name} into a scratch prefix of s3://${component.bucket}`, artifact, () =>
              streamingActivities(`restore drill ${artifact.name}`).drillMirror({ component, store, key: artifact.key, runTag: plan.runTag }),
            )),
          );
        } else {
          const component = plan.execDumps![artifact.name]!;
          found.push(
            ...(await recordChecks(steps, 'restore', `restore ${artifact.name} with its drill command`, artifact, () =>
              streamingActivities(`restore drill ${artifact.name}`).drillExecDump({ component, store, artifact }),
            )),
          );
        }
      }
      found.push(...(await checkPhysical(steps, plan, options.depth)));
      return found;
    },
    async () => {
      // The drill activities drop their own scratch targets; this covers an attempt that died mid-way.
      if (options.depth !== 'restore') return;
      const activities = quickActivities('drop scratch targets');
      for (const backup of plan.manifest.physical ?? []) {
        await streamingActivities(`remove the scratch server of ${backup.name}`).removePgbackrestScratch({ target: plan.physicalTargets![backup.name]!, store: plan.store, backup, runTag: plan.runTag, tempDir: plan.drill.tempDir });
      }
      for (const artifact of artifacts) {
        if (artifact.component !== 'postgres') continue;
        await activities.dropRunDatabase({ target: plan.postgresTargets[artifact.name]!, database: scratchDatabaseFor(artifact.name) });
      }
      for (const collection of scratchCollections) await activities.deleteRunCollection({ qdrant: plan.qdrant!, collection });
    },
  )));

  const outcome = outcomeOfChecks(checks);
  const passed = outcome === 'passed';
  const verification: Verification = {
    formatVersion: 1,
    backupId: plan.backupId,
    stack: plan.stack,
    depth: options.depth,
    workflowId: workflowInfo().workflowId,
    runId: workflowInfo().runId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    passed,
    outcome,
    checks,
  };
  const evidenceKey = await steps.step('evidence', 'write the evidence', () =>
    quickActivities('write drill evidence').writeVerification({
      store: plan.store,
      verification,
      key: backupKeys.verification(plan.stack, plan.backupId, startedAt, plan.runTag, options.depth),
    }),
  );
  const notPassed = checks.filter((check) => checkOutcome(check) === (outcome === 'failed' ? 'failed' : 'inconclusive'));
  steps.finish(
    outcome === 'passed'
      ? `passed: ${checks.length} check(s)`
      : `${outcome === 'failed' ? 'FAILED' : 'INCONCLUSIVE'}: ${notPassed.length} of ${checks.length} check(s)`,
  );
  const report: VerifyReport = {
    stack: plan.stack,
    backupId: plan.backupId,
    depth: options.depth,
    passed,
    outcome,
    evidenceKey,
    checks,
    durationMs: Date.parse(verification.finishedAt) - startedAt.getTime(),
  };
  if (outcome !== 'passed') {
    const reasons = notPassed.map((check) => `${check.artifact} ${check.name}: ${check.detail}`).join('; ');
    await notifier.send(outcome, `${options.depth} drill of backup ${plan.backupId} ${outcome === 'failed' ? 'FAILED' : 'was INCONCLUSIVE (it could not finish)'}: ${reasons}`, { backupId: plan.backupId, depth: options.depth, notPassed: `${notPassed.length} of ${checks.length} check(s)`, evidenceKey });
    throw outcome === 'failed'
      ? ApplicationFailure.create({ message: `drill of backup ${plan.backupId} failed: ${reasons}`, type: 'DrillFailed', nonRetryable: true, details: [report] })
      : ApplicationFailure.create({
          message: `drill of backup ${plan.backupId} was inconclusive (it could not finish; the backup is not judged): ${reasons}`,
          type: 'DrillInconclusive',
          nonRetryable: true,
          details: [report],
        });
  }
  return report;
}

/**
 * pgBackRest's backups in the set: `pgbackrest verify` at checksum depth; at restore depth a
 * recovery (to the plan's `at`, or the backup's end) in a scratch server, whose checks say
 * what it recovered and how far before the target its newest data lies.
 */
async function checkPhysical(steps: StepTracker, plan: VerifyPlan, depth: 'checksum' | 'restore'): Promise<VerificationCheck[]> {
  const found: VerificationCheck[] = [];
  for (const backup of plan.manifest.physical ?? []) {
    const target = plan.physicalTargets![backup.name]!;
    const request = { target, store: plan.store };
    const component = { component: 'pgbackrest' as const, name: backup.name };
    if (depth === 'checksum') {
      found.push(
        ...(await recordChecks(steps, 'checksum', `pgbackrest verify ${backup.label}`, component, async () => {
          const started = Date.now();
          const verdict = await streamingActivities(`pgbackrest verify ${backup.name}`).pgbackrestVerify({ ...request, label: backup.label, priorLabels: backup.priorLabel ? [backup.priorLabel] : [] });
          const passed = verdict.status === 'ok';
          return {
            name: 'pgbackrest verify',
            component: 'pgbackrest',
            artifact: backup.name,
            passed,
            outcome: passed ? 'passed' : 'failed',
            detail: passed ? `${verdict.filesValid} of ${verdict.filesChecked} file(s) of ${backup.label} and the archived WAL valid` : `pgbackrest verify found problems in ${backup.label}: ${verdict.problems.join('; ')}`,
            figures: { label: backup.label, ...verdict },
            durationMs: Date.now() - started,
          };
        })),
      );
      continue;
    }
    found.push(
      ...(await recordChecks(steps, 'restore', `recover ${backup.name} from ${backup.label} ${plan.at ? `to ${plan.at}` : 'to its end'} in a scratch server`, component, () =>
        streamingActivities(`point-in-time drill ${backup.name}`).drillPgbackrest({ ...request, backup, ...(plan.at ? { at: plan.at } : {}), runTag: plan.runTag, tempDir: plan.drill.tempDir }),
      )),
    );
  }
  return found;
}
