// The backup workflow's own logic with every activity replaced by a fake: order of steps,
// what reaches the manifest, the UI details, search attributes and failures. The real
// activities are exercised by backup.test.ts and backup-crash.test.ts.
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Activities } from '../src/activities/index.js';
import { startBackup } from '../src/client/api/runbooks.js';
import type { Manifest, PostgresArtifact, QdrantArtifact } from '../src/config/manifest.js';
import type { BackupPlan } from '../src/config/plan.js';
import { startFakeWorkerEnv, type FakeWorkerEnv } from './support/fake-workers.js';
import { uniqueName } from './support/ragops.js';
import type { TestTemporal } from './support/temporal.js';

const sha = (c: string) => c.repeat(64);

function fakeActivities(calls: string[], overrides: Partial<Activities> = {}): Partial<Activities> {
  return {
    async resolveBackupPlan({ options }): Promise<BackupPlan> {
      calls.push('plan');
      return {
        stack: options.stack,
        backupId: '20261124T051500Z-0a1b2c3d',
        runTag: '0a1b2c3d',
        store: { type: 'fs', path: '/nowhere' },
        storeLocation: '/nowhere/',
        components: ['postgres', 'qdrant'],
        postgres: [{ name: 'app', host: 'h', port: 5432, database: 'appdb', user: 'u', sanityChecks: [] }],
        qdrant: { url: 'http://q:6333', collections: ['docs'] },
        redis: [],
        mirrors: [],
        execDumps: [],
      };
    },
    async dumpPostgres({ key }): Promise<PostgresArtifact> {
      calls.push(`dump ${key}`);
      return { component: 'postgres', name: 'app', key, size: 10, sha256: sha('a'), durationMs: 5, database: 'appdb', serverVersion: '15', pgDumpVersion: 'pg_dump 15', tables: { 'public.t': 3 } };
    },
    async snapshotQdrantCollection({ key, collection }): Promise<QdrantArtifact> {
      calls.push(`snapshot ${collection}`);
      return { component: 'qdrant', name: collection, key, size: 20, sha256: sha('b'), durationMs: 5, pointsCount: 7, vectors: { size: 4, distance: 'Dot' }, snapshotName: 's' };
    },
    async describeQdrant() {
      calls.push('aliases');
      return { version: '1.19.0', aliases: [{ alias: 'prod', collection: 'docs' }] };
    },
    async checkStoredArtifact({ artifact }) {
      calls.push(`verify ${artifact.name}`);
      return { name: 'checksum', component: artifact.component, artifact: artifact.name, passed: true, detail: 'ok', figures: {}, durationMs: 1 };
    },
    async writeManifest({ manifest }: { manifest: Manifest }) {
      calls.push(`manifest ${manifest.artifacts.length}`);
      return `${manifest.stack}/${manifest.backupId}/manifest.json`;
    },
    ...overrides,
  };
}

describe('backup workflow logic (fake activities)', () => {
  let env: FakeWorkerEnv;
  let temporal: TestTemporal;
  before(async () => {
    env = await startFakeWorkerEnv();
    temporal = env.temporal;
  });
  after(async () => env?.stop());
  const withFakeWorker: FakeWorkerEnv['withFakeWorker'] = (activities, run) => env.withFakeWorker(activities, run);

  test('steps run in runbook order, the manifest last, with details and search attributes for the UI', async () => {
    const calls: string[] = [];
    await withFakeWorker(fakeActivities(calls), async (taskQueue) => {
      const handle = await startBackup(temporal.client, { stack: 'prod', verify: 'checksum' }, { taskQueue });
      const report = await handle.result();
      assert.deepEqual(calls, [
        'plan',
        `dump prod/${report.backupId}/postgres/app.dump`,
        'snapshot docs',
        'aliases',
        'verify app',
        'verify docs',
        'manifest 2',
      ]);
      assert.equal(report.total.bytes, 30);
      assert.equal(report.checksumVerified, true);
      const description = await handle.describe();
      assert.equal(description.typedSearchAttributes.get({ name: 'RagopsStack', type: 'KEYWORD' } as never), 'prod');
      assert.equal(description.typedSearchAttributes.get({ name: 'RagopsRunbook', type: 'KEYWORD' } as never), 'backup');
      assert.equal(description.typedSearchAttributes.get({ name: 'RagopsPhase', type: 'KEYWORD' } as never), 'finished');
      assert.equal(await description.staticSummary(), 'backup of stack prod (all components, checksum-verified)');
      const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
      assert.match(metadata.currentDetails ?? '', /\*\*backup\*\* of stack `prod`/);
      assert.match(metadata.currentDetails ?? '', /✅ done \| pg_dump app \(appdb\)/);
      assert.match(metadata.currentDetails ?? '', /complete: 2 artifact\(s\), 30 B/);
    });
  });

  test('a failed step fails the run naming the step and writes no manifest', async () => {
    const calls: string[] = [];
    const failing = fakeActivities(calls, {
      async snapshotQdrantCollection() {
        calls.push('snapshot fails');
        throw ApplicationFailure.nonRetryable('Qdrant says no', 'ChecksumMismatch');
      },
    });
    await withFakeWorker(failing, async (taskQueue) => {
      const handle = await startBackup(temporal.client, { stack: 'prod' }, { taskQueue });
      const failure = await handle.result().catch((error: unknown) => error);
      assert.ok(failure instanceof WorkflowFailedError);
      const cause = failure.cause as ApplicationFailure;
      assert.equal(cause.message, 'snapshot docs failed: Qdrant says no');
      assert.equal(cause.type, 'ChecksumMismatch');
      assert.ok(!calls.some((call) => call.startsWith('manifest')));
      const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
      assert.match(metadata.currentDetails ?? '', /❌ failed \| snapshot docs/);
    });
  });

  test('invalid input fails before the first activity', async () => {
    const calls: string[] = [];
    await withFakeWorker(fakeActivities(calls), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('backup', { taskQueue, workflowId: uniqueName('bad'), args: [{ stack: 'prod', verify: 'restore-ish' }] });
      const failure = await handle.result().catch((error: unknown) => error);
      assert.ok(failure instanceof WorkflowFailedError);
      assert.match((failure.cause as Error).message, /invalid backup input: verify:/);
      assert.deepEqual(calls, []);
    });
  });
});
