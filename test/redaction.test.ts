// A presigned S3 URL handed to Qdrant comes back inside Qdrant's error when the recovery
// fails; it must not reach the workflow history, the drill's evidence or the worker's log.
import { QdrantClient } from '@qdrant/js-client-rest';
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBackup } from '../src/client/api/runbooks.js';
import { verificationSchema } from '../src/config/manifest.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { startBackupFixture, type BackupFixture } from './support/fixtures.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { exportHistoryJson } from './support/temporal.js';
import { readBuffer, s3Objects } from './support/verify.js';

let fixture: BackupFixture;
let dir: { path: string; remove(): Promise<void> };
let worker: WorkerProcess | undefined;

before(async () => {
  fixture = await startBackupFixture({ documents: 2_000 });
  dir = await tempDir('redaction');
});
after(async () => {
  await worker?.stop();
  await fixture?.stop();
  await dir?.remove();
});

test('a location recovery that fails with the presigned URL echoed leaves no signature in history, evidence or worker log', async (t) => {
  if (fixture.qdrant.external || fixture.moto.external) return t.skip('needs the Qdrant stand-in and moto (fault injection)');
  const prefix = 'redaction/';
  const stacks = fixture.stacks({ store: 's3', prefix }) as { stacks: { prod: Record<string, unknown> } };
  stacks.stacks.prod.drill = { qdrantRecovery: 'location' };
  const configPath = await writeStacksFile(dir.path, stacks);
  const taskQueue = uniqueName('redaction');
  worker = spawnWorkerProcess({ address: fixture.temporal.address, taskQueue, configPath, env: fixture.secretEnv });

  const backup = await (await startBackup(fixture.temporal.client, { stack: 'prod' }, { taskQueue })).result();
  // S3's answer to an expired presigned URL; Qdrant's error then carries the URL, query and all.
  fixture.qdrant.faults.locationDownloadStatus = 403;
  const handle = await fixture.temporal.client.workflow.start('verifyBackup', {
    taskQueue,
    workflowId: uniqueName('verify-redaction'),
    args: [{ stack: 'prod', backupId: backup.backupId, depth: 'restore' }],
  });
  const failure = await handle.result().then(
    () => assert.fail('the drill passed although every location download failed'),
    (error: unknown) => error,
  );
  fixture.qdrant.faults.locationDownloadStatus = undefined;
  assert.ok(failure instanceof WorkflowFailedError);
  const cause = failure.cause as Error & { type?: string; details?: unknown[] };
  // Qdrant could not fetch the snapshot: that says nothing about the backup, so the drill is inconclusive.
  assert.equal(cause.type, 'DrillInconclusive');
  // The failure still says what happened and where, only without the query string.
  assert.match(cause.message, /Failed to download snapshot from http:\/\/127\.0\.0\.1:\d+\/ragops-backups\/redaction\/prod\/[^ ]+\/faq\.snapshot\?redacted: status - 403 Forbidden/);
  const report = cause.details?.[0] as VerifyReport;

  const evidenceText = (await readBuffer(await s3Objects(fixture.moto, fixture.bucket, prefix).read(report.evidenceKey))).toString();
  const evidence = verificationSchema.parse(JSON.parse(evidenceText));
  assert.equal(evidence.passed, false);
  assert.equal(evidence.outcome, 'inconclusive');
  assert.ok(evidence.checks.some((check) => check.outcome === 'inconclusive' && check.detail.includes('Failed to download snapshot from')), evidenceText);

  await worker.stop();
  const places = {
    'the failure message': cause.message,
    'the workflow history': await exportHistoryJson(fixture.temporal.client, handle.workflowId),
    'the evidence file': evidenceText,
    "the worker's output": worker.output(),
  };
  assert.match(places["the worker's output"], /Failed to download snapshot from/, 'the worker logged the failure (so the log check below means something)');
  for (const [where, text] of Object.entries(places)) {
    for (const needle of ['X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-', fixture.secrets.s3SecretKey, fixture.secrets.pgPassword]) {
      assert.ok(!text.includes(needle), `${needle} appears in ${where}`);
    }
  }

  const qdrant = new QdrantClient({ url: fixture.qdrant.url, apiKey: fixture.qdrant.apiKey, checkCompatibility: false });
  assert.deepEqual((await qdrant.getCollections()).collections.map((c) => c.name).sort(), ['docs_v1', 'faq'], 'no scratch collection is left');
});
