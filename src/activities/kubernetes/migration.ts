// The migration as a Kubernetes Job named for the run: created once, attached to by any retry
// (a worker that died mid-migration leaves it running; the next attempt waits for it instead of
// starting another), deleted once its result is taken or when the run cancels it.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesTarget } from '../../config/stacks/deploy.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import type { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { kubectlCommands } from './commands.js';
import { getJson, kube, type Container, type DeploymentJson } from './state.js';

export interface MigrationRequest {
  target: KubernetesTarget;
  deployment: string;
  container: string;
  image: string;
  command: string[];
  /** Named for the run (made once per execution, recorded in history): the key of idempotency. */
  jobName: string;
  /** The Job's activeDeadlineSeconds: Kubernetes fails it after this, whether or not a worker watches. */
  timeoutSeconds: number;
}

export interface MigrationJobResult {
  succeeded: boolean;
  /** Logs tail (and, for a failure, why the Job failed). */
  output: string;
}

/** What an attempt heartbeats, so the next one knows the Job was created, and its result once taken. */
type MigrationProgress = {
  job?: string;
  created?: boolean;
  result?: MigrationJobResult;
};

interface JobJson {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { template: { spec: { containers: Container[] } } };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

const MANAGED_BY = 'app.kubernetes.io/managed-by';
const JOB_LABEL = 'ragops.io/job';
/** What keeps a container alive in a Deployment and kills a long migration in a Job. */
const DROPPED_FIELDS = ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle'] as const;
/** Polling the Job; the heartbeat timer beats meanwhile. */
const POLL_MS = 1_000;
/** After the Job's own deadline, how long to wait for Kubernetes to say it failed before giving up on it. */
const DEADLINE_GRACE_MS = 60_000;

/**
 * A migration Job made from the Deployment's pod template: the app container with the new image
 * and the migration command, without probes or lifecycle hooks; the pod spec's volumes, service
 * account, init containers and the like kept; `restartPolicy: Never`, `backoffLimit: 0` (a
 * migration runs once), `activeDeadlineSeconds` when given. The app's labels are not copied, so
 * no Service selects the migration pod.
 */
export function migrationJob(deployment: DeploymentJson, container: string, image: string, command: string[], jobName: string, options: { activeDeadlineSeconds?: number } = {}): object {
  const template = deployment.spec.template;
  const source = template.spec.containers.find((c) => c.name === container);
  if (!source) throw new Error(`deployment/${deployment.metadata.name} has no container "${container}"`);
  const migrate: Container = { ...source, name: 'migrate', image, command, args: [] };
  for (const field of DROPPED_FIELDS) delete migrate[field];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName, labels: { [MANAGED_BY]: 'ragops', [JOB_LABEL]: jobName }, annotations: { 'ragops.io/deployment': deployment.metadata.name } },
    spec: {
      backoffLimit: 0,
      ...(options.activeDeadlineSeconds ? { activeDeadlineSeconds: options.activeDeadlineSeconds } : {}),
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { [MANAGED_BY]: 'ragops', [JOB_LABEL]: jobName } },
        spec: { ...template.spec, restartPolicy: 'Never', containers: [migrate] },
      },
    },
  };
}

async function findJob(request: MigrationRequest, signal?: AbortSignal): Promise<JobJson | null> {
  const { stdout } = await runCommand(kubectlCommands.findJob(kube(request.target), request.jobName), { signal });
  return stdout.trim() ? (JSON.parse(stdout) as JobJson) : null;
}

/** A Job found under the run's name must be this migration; anything else is not ours to wait for or delete. */
function checkSameMigration(job: JobJson, request: MigrationRequest): void {
  const migrate = job.spec.template.spec.containers.find((c) => c.name === 'migrate');
  const same = job.metadata.labels?.[MANAGED_BY] === 'ragops' && migrate?.image === request.image && JSON.stringify(migrate.command) === JSON.stringify(request.command);
  if (!same) {
    throw ApplicationFailure.nonRetryable(
      `job/${request.jobName} exists in namespace ${request.target.namespace} but is not this migration (image ${migrate?.image ?? 'none'}, command ${JSON.stringify(migrate?.command ?? null)}); ` +
        'it was left alone: delete it if it is stale, then deploy again',
      'MigrationConflict',
    );
  }
}

/** Creates the run's Job unless it exists; `created` says whether this call made it. Never makes a second one. */
export async function ensureMigrationJob(request: MigrationRequest, signal?: AbortSignal): Promise<{ created: boolean }> {
  const existing = await findJob(request, signal);
  if (existing) {
    checkSameMigration(existing, request);
    return { created: false };
  }
  const deployment = await getJson<DeploymentJson>(kubectlCommands.getDeployment(kube(request.target), request.deployment), signal);
  const manifest = migrationJob(deployment, request.container, request.image, request.command, request.jobName, { activeDeadlineSeconds: request.timeoutSeconds });
  try {
    await runCommand(kubectlCommands.createFromStdin(kube(request.target), `job/${request.jobName}`), { stdin: Readable.from([JSON.stringify(manifest)]), signal });
    return { created: true };
  } catch (error) {
    // Another attempt created it between our look and our create: attach to it.
    if (!(error instanceof CommandFailed && /AlreadyExists|already exists/.test(error.stderrTail))) throw error;
    const raced = await findJob(request, signal);
    if (!raced) throw error;
    checkSameMigration(raced, request);
    return { created: false };
  }
}

function outcome(job: JobJson): { succeeded: boolean; why: string } | null {
  const done = job.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  if (!done) return null;
  return { succeeded: done.type === 'Complete', why: [done.reason, done.message].filter(Boolean).join(': ') };
}

async function logsTail(request: MigrationRequest, signal?: AbortSignal): Promise<string> {
  try {
    return (await runCommand(kubectlCommands.jobLogs(kube(request.target), request.jobName, 100), { signal })).stdout;
  } catch {
    return '(no logs)';
  }
}

/**
 * Waits until the Job completed or failed and returns its result with its logs tail; never
 * deletes it. `onPoll` runs after every look (to heartbeat). A Job that vanishes before it
 * finished fails closed: whether the migration ran is unknown.
 */
export async function waitForMigrationJob(request: MigrationRequest, opts: { signal?: AbortSignal; onPoll?: () => void } = {}): Promise<MigrationJobResult> {
  const giveUpAt = Date.now() + request.timeoutSeconds * 1000 + DEADLINE_GRACE_MS;
  for (;;) {
    const job = await findJob(request, opts.signal);
    if (!job) {
      throw ApplicationFailure.nonRetryable(
        `job/${request.jobName} disappeared before it finished: whether the migration ran is unknown; check the database, then deploy again`,
        'MigrationLost',
      );
    }
    const done = outcome(job);
    if (done) {
      const logs = (await logsTail(request, opts.signal)).slice(-4000);
      return done.succeeded ? { succeeded: true, output: logs } : { succeeded: false, output: `${done.why}\n${logs}`.slice(-2000) };
    }
    if (Date.now() > giveUpAt) {
      return { succeeded: false, output: `did not finish in ${request.timeoutSeconds} s (Kubernetes did not fail it at its activeDeadlineSeconds either)\n${(await logsTail(request, opts.signal)).slice(-1500)}` };
    }
    opts.onPoll?.();
    await sleep(POLL_MS, undefined, { signal: opts.signal });
  }
}

async function deleteJob(request: MigrationRequest): Promise<void> {
  // Without the activity's signal: this runs also when it was cancelled.
  await runCommand(kubectlCommands.deleteJob(kube(request.target), request.jobName), { timeoutMs: 60_000 });
}

/** Only the run asking to cancel deletes the Job; a worker shutting down, a timeout or a pause leaves it for the next attempt. */
function cancelRequested(signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  const details = Context.current().cancellationDetails;
  if (details) return details.cancelRequested;
  return signal.reason instanceof Error && signal.reason.message === 'CANCELLED';
}

/**
 * The activity's body: attach to the run's Job or create it, wait for its result (heartbeating),
 * delete it once the result is taken, return its logs tail or fail with them.
 */
export async function runMigration(request: MigrationRequest, progress: ProgressHeartbeat): Promise<string> {
  const signal = progress.signal;
  const previous = progress.previousDetails<MigrationProgress>();
  const earlier = previous?.job === request.jobName ? previous : undefined;
  const details: MigrationProgress = { job: request.jobName };
  const result = await progress.during(
    (async (): Promise<MigrationJobResult> => {
      try {
        if (earlier?.created && !(await findJob(request, signal))) {
          // An earlier attempt created it and it is gone: it took the result and deleted it (then
          // died before reporting), or someone else removed it. Never run the migration twice.
          if (earlier.result) return earlier.result;
          throw ApplicationFailure.nonRetryable(
            `job/${request.jobName} was created by an earlier attempt and is gone, with no result recorded: the migration may have run; check the database, then deploy again`,
            'MigrationLost',
          );
        }
        await ensureMigrationJob(request, signal);
        details.created = true;
        progress.beat(details, true);
        const taken = await waitForMigrationJob(request, { signal, onPoll: () => progress.beat(details) });
        details.result = taken;
        progress.beat(details, true);
        return taken;
      } catch (error) {
        if (cancelRequested(signal)) await deleteJob(request).catch(() => undefined);
        throw error;
      }
    })(),
    details,
  );
  await deleteJob(request);
  if (!result.succeeded) throw ApplicationFailure.nonRetryable(`migration job ${request.jobName} failed: ${result.output}`, 'MigrationFailed');
  return result.output;
}
