// A drill that cannot finish is inconclusive, not failed: the Qdrant stand-in answers 503 to
// every recovery of one scratch collection for the whole drill (all ten attempts of that
// step, about three minutes of retries), the run fails with DrillInconclusive, its evidence
// says so, and retention keeps the backup's restore-verified protection from the drill before.
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import { checkOutcome, verificationSchema } from '../src/config/manifest.js';
import type { PruneReport } from '../src/workflows/pruneBackups.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { startWorker, uniqueName } from './support/ragops.js';
import { useBackupSuite } from './support/suite.js';
import { readBuffer, s3Objects } from './support/verify.js';

describe('verifyBackup: an inconclusive drill', () => {
  const suite = useBackupSuite('verify-inconclusive', { documents: 200 });

  test('Qdrant failing every recovery: DrillInconclusive, inconclusive evidence, and the backup stays protected', { timeout: 600_000 }, async (t) => {
    if (suite.fixture.qdrant.external) return t.skip('fault injection needs the Qdrant stand-in');
    const prefix = 'inconclusive/';
    const stacks = suite.fixture.stacks({ store: 's3', prefix }) as { stacks: { prod: Record<string, unknown> } };
    stacks.stacks.prod.drill = { qdrantRecovery: 'upload', samplePoints: 1 };
    // A backup prunes after itself: keepLast 1 alone keeps only the newest, so the drilled backup
    // survives the next backup only by its restore-verified protection.
    stacks.stacks.prod.retention = { keepLast: 1, minVerified: 1 };
    const taskQueue = uniqueName('inconclusive');
    suite.workers.push(await startWorker({ address: suite.fixture.temporal.address, taskQueue, stacksText: stringify(stacks) }));
    const client = suite.fixture.temporal.client;
    const backup = await (await startBackup(client, { stack: 'prod' }, { taskQueue })).result();
    const drill = () => client.workflow.start('verifyBackup', { taskQueue, workflowId: uniqueName('verify'), args: [{ stack: 'prod', depth: 'restore' }] });

    const passed = (await (await drill()).result()) as VerifyReport;
    assert.equal(passed.outcome, 'passed');

    suite.fixture.qdrant.faults.failNext({ status: 503, count: 1_000, pathIncludes: '_faq_u/snapshots' });
    let failure: unknown;
    try {
      failure = await (await drill()).result().then(() => assert.fail('the drill passed'), (error: unknown) => error);
    } finally {
      suite.fixture.qdrant.faults.reset();
    }
    assert.ok(failure instanceof WorkflowFailedError);
    const cause = failure.cause as Error & { type?: string; nonRetryable?: boolean; details?: unknown[] };
    assert.equal(cause.type, 'DrillInconclusive');
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /was inconclusive .*faq .*503/s);
    const report = cause.details?.[0] as VerifyReport;
    assert.equal(report.outcome, 'inconclusive');
    assert.equal(report.passed, false);

    const evidence = verificationSchema.parse(JSON.parse((await readBuffer(await s3Objects(suite.fixture.moto, suite.fixture.bucket, prefix).read(report.evidenceKey))).toString()));
    assert.equal(evidence.outcome, 'inconclusive');
    const outcomes = evidence.checks.map((check) => `${check.artifact}: ${checkOutcome(check)}`);
    assert.ok(outcomes.includes('faq: inconclusive'), outcomes.join(', '));
    assert.ok(!outcomes.some((outcome) => outcome.endsWith(': failed')), outcomes.join(', '));
    assert.ok(evidence.checks.filter((check) => check.artifact !== 'faq').every((check) => check.passed), 'the other artifacts were drilled and passed');

    const next = await (await startBackup(client, { stack: 'prod' }, { taskQueue })).result();
    assert.notEqual(next.backupId, backup.backupId);
    const prune = await client.workflow.start('pruneBackups', { taskQueue, workflowId: uniqueName('prune'), args: [{ stack: 'prod', dryRun: true }] });
    const plan = (await prune.result()) as PruneReport;
    const kept = plan.kept.find((entry) => entry.backupId === backup.backupId);
    assert.ok(kept, `the backup is kept: ${JSON.stringify(plan)}`);
    assert.equal(kept.state, 'good');
    const reasons = kept.reasons.join(' | ');
    assert.match(reasons, /protected: restore-verified/);
    assert.match(reasons, /last restore drill inconclusive .*not counted against it/);
  });
});
