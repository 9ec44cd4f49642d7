// The Kubernetes migration Job is idempotent (issue 9): named for the run, attached to by a
// retry instead of deleted and recreated, made without the app's probes, deleted once its
// result is taken or when the run cancels it. The activity runs in MockActivityEnvironment
// (with the worker's cancellation interceptor), the real kubectl against the API stand-in.
import { ActivityCancellationDetails, ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubernetesTarget } from '../src/config/stacks/deploy.js';
import { createKubernetesActivities, type MigrationRequest } from '../src/activities/kubernetes/index.js';
import { ensureMigrationJob, waitForMigrationJob } from '../src/activities/kubernetes/migration.js';
import { cancellationInterceptor } from '../src/activities/runtime/cancellation.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';

const NS = 'migrations';
const IMAGE = 'ragops-test/api:v2';
const k8s = createKubernetesActivities();
const quiet = new DefaultLogger('ERROR');
/** How long a Job's pod runs before it ends (the stand-in's readyDelayMs). */
const JOB_RUNS_MS = 2_000;
let kube: KubeStandin;
let target: KubernetesTarget;
let serial = 0;

const environment = (heartbeatDetails?: unknown) =>
  new MockActivityEnvironment({ heartbeatDetails, attempt: heartbeatDetails === undefined ? 1 : 2 }, { logger: quiet, interceptors: [cancellationInterceptor] });
const migrate = (env: MockActivityEnvironment, request: MigrationRequest) => env.run(k8s.k8sRunMigration, request) as Promise<string>;
const request = (overrides: Partial<MigrationRequest> = {}): MigrationRequest => ({
  target, deployment: 'api', container: 'api', image: IMAGE, command: ['sh', '-c', 'migrate'], jobName: `api-migrate-run${++serial}`, timeoutSeconds: 30, ...overrides,
});
const createsSince = (from: number) => kube.requests.slice(from).filter((r) => r.verb === 'create' && r.path === `/apis/batch/v1/namespaces/${NS}/jobs`);
const podsOfJob = (jobName: string) => kube.list('pod', NS).filter((pod) => pod.metadata.labels?.['job-name'] === jobName);

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

before(async () => {
  kube = await startKubeStandin({ readyDelayMs: JOB_RUNS_MS });
  target = { type: 'kubernetes', kubeconfig: kube.kubeconfigPath, context: kube.context, namespace: NS };
  const labels = { app: 'api' };
  const probe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 };
  kube.apply({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: 'api',
          volumes: [{ name: 'config', configMap: { name: 'api-config' } }],
          containers: [{
            name: 'api', image: 'ragops-test/api:v1', ports: [{ containerPort: 8080 }],
            env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } }],
            volumeMounts: [{ name: 'config', mountPath: '/etc/api' }],
            livenessProbe: probe, readinessProbe: probe, startupProbe: { ...probe, failureThreshold: 30 },
            lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
          }],
        },
      },
    },
  });
});
after(() => kube?.stop());

describe('k8sRunMigration (real kubectl, API stand-in)', () => {
  test("the Job: the app pod's spec without probes or hooks, restartPolicy Never, backoffLimit 0; its logs returned, then it is deleted", async () => {
    const input = request();
    const env = environment();
    const beats: unknown[] = [];
    env.on('heartbeat', (details) => beats.push(details));
    const running = migrate(env, input);
    const job = await until('the Job', () => kube.get('job', NS, input.jobName));
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(job.spec.activeDeadlineSeconds, 30, 'Kubernetes enforces the timeout even with no worker watching');
    const pod = job.spec.template.spec;
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.serviceAccountName, 'api');
    assert.deepEqual(pod.volumes.map((v: { name: string; configMap?: { name: string } }) => [v.name, v.configMap?.name]), [['config', 'api-config']]);
    assert.equal(pod.containers.length, 1);
    const [container] = pod.containers;
    assert.equal(container.name, 'migrate');
    assert.equal(container.image, IMAGE);
    assert.deepEqual(container.command, ['sh', '-c', 'migrate']);
    assert.deepEqual(container.env, [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } }]);
    assert.deepEqual(container.volumeMounts, [{ name: 'config', mountPath: '/etc/api' }]);
    for (const field of ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']) assert.equal(container[field], undefined, field);
    assert.notEqual(job.spec.template.metadata.labels.app, 'api', "the app's labels are not copied: no Service selects the migration pod");
    const output = await running;
    assert.match(output, /running: sh -c migrate\ndone/);
    assert.equal(kube.get('job', NS, input.jobName), undefined, 'deleted once its result was taken');
    assert.deepEqual(podsOfJob(input.jobName), [], 'with its pods');
    assert.ok(beats.some((b) => (b as { job?: string; created?: boolean }).job === input.jobName && (b as { created?: boolean }).created), `heartbeats name the Job: ${JSON.stringify(beats)}`);
  });

  test('called again while the first call still waits (a retry after its worker died): one Job created, the second call returns its result', async () => {
    const input = request();
    const from = kube.requests.length;
    const first = environment();
    const beats: unknown[] = [];
    first.on('heartbeat', (details) => beats.push(details));
    const firstRun = migrate(first, input);
    await until('the Job', () => kube.get('job', NS, input.jobName));
    await until('the first call waiting on it', () => beats.some((b) => (b as { created?: boolean }).created));
    // The server gave up on the first attempt and retried (with its last heartbeat); the first
    // one's worker then goes away, which is no reason to stop the migration.
    const secondRun = migrate(environment(beats.at(-1)), input);
    await new Promise((resolve) => setTimeout(resolve, 400)); // the second call has found the Job (a kubectl call takes ~100 ms)
    first.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    await assert.rejects(firstRun);
    assert.ok(kube.get('job', NS, input.jobName), 'a worker going away leaves the Job running');
    assert.equal(kube.get('job', NS, input.jobName).status?.conditions, undefined, 'and it has not finished yet');
    const output = await secondRun;
    assert.match(output, /running: sh -c migrate\ndone/);
    const creates = createsSince(from);
    assert.equal(creates.length, 1, `exactly one create: ${JSON.stringify(creates)}`);
    assert.equal(creates[0]?.status, 201);
    assert.equal(kube.get('job', NS, input.jobName), undefined, 'deleted after the second call took its result');
  });

  test('the internal steps: ensure twice creates once; waiting returns the result and leaves the Job for the caller to delete', async () => {
    const input = request();
    const from = kube.requests.length;
    assert.deepEqual(await ensureMigrationJob(input), { created: true });
    assert.deepEqual(await ensureMigrationJob(input), { created: false });
    const [a, b] = await Promise.all([waitForMigrationJob(input), waitForMigrationJob(input)]);
    assert.deepEqual(a, b);
    assert.equal(a.succeeded, true);
    assert.equal(createsSince(from).length, 1);
    assert.ok(kube.get('job', NS, input.jobName), 'waiting deletes nothing');
    // The activity now attaches to the finished Job: no second run, its result, then the delete.
    assert.match(await migrate(environment(), input), /done/);
    assert.equal(createsSince(from).length, 1);
    assert.equal(kube.get('job', NS, input.jobName), undefined);
  });

  test('cancelled by the run: the Job and its pod are deleted', async () => {
    const input = request();
    const env = environment();
    const running = migrate(env, input);
    await until('the Job pod', () => podsOfJob(input.jobName).length === 1);
    env.cancel();
    await assert.rejects(running);
    assert.equal(kube.get('job', NS, input.jobName), undefined);
    assert.deepEqual(podsOfJob(input.jobName), [], 'deleted with propagation: its pod went too');
  });

  test('a failing migration: MigrationFailed (not retried) with its logs, and the Job deleted after', async () => {
    const input = request({ command: ['sh', '-c', 'migrate --fail'] });
    await assert.rejects(migrate(environment(), input), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure, String(error));
      assert.equal(error.type, 'MigrationFailed');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /BackoffLimitExceeded[\s\S]*migration failed/);
      return true;
    });
    assert.equal(kube.get('job', NS, input.jobName), undefined);
  });

  test('an earlier attempt took the result and deleted the Job before dying: the retry returns that result and creates nothing', async () => {
    const input = request();
    const from = kube.requests.length;
    const output = await migrate(environment({ step: 'x', job: input.jobName, created: true, result: { succeeded: true, output: 'running: sh -c migrate\ndone' } }), input);
    assert.equal(output, 'running: sh -c migrate\ndone');
    await assert.rejects(migrate(environment({ step: 'x', job: input.jobName, created: true }), input), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'MigrationLost');
      assert.equal(error.nonRetryable, true);
      return true;
    });
    assert.equal(createsSince(from).length, 0, 'never a second run of the migration');
  });

  test('a Job of that name that is not this migration is left alone', async () => {
    const input = request();
    kube.apply({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: input.jobName, namespace: NS },
      spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'other', image: 'someone/else:1', command: ['true'] }] } } },
    });
    await assert.rejects(migrate(environment(), input), (error: unknown) => error instanceof ApplicationFailure && error.type === 'MigrationConflict');
    assert.ok(kube.get('job', NS, input.jobName), 'not deleted');
  });
});

describe('k8sRunMigration past its deadline', () => {
  let slow: KubeStandin;
  before(async () => {
    slow = await startKubeStandin({ readyDelayMs: 4_000 });
    const labels = { app: 'api' };
    slow.apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: NS },
      spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: 'ragops-test/api:v1' }] } } },
    });
  });
  after(() => slow?.stop());

  test('a migration longer than timeoutSeconds fails at the Job deadline Kubernetes enforces (DeadlineExceeded), then the Job is deleted', async () => {
    const input = request({ target: { type: 'kubernetes', kubeconfig: slow.kubeconfigPath, context: slow.context, namespace: NS }, timeoutSeconds: 1 });
    await assert.rejects(migrate(environment(), input), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure, String(error));
      assert.equal(error.type, 'MigrationFailed');
      assert.match(error.message, /DeadlineExceeded/);
      return true;
    });
    assert.equal(slow.get('job', NS, input.jobName), undefined);
  });
});
