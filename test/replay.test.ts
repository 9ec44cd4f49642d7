// Replays the committed histories (test/histories/, recorded from the integration tests with
// RAGOPS_RECORD_HISTORIES=1) on the current workflow code: a change that would break runs in
// flight — a blue-green window open for days, a long drill — fails here instead of in production.
import { bundleWorkflowCode, ReplayError, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { workflowsPath } from '../src/worker.js';
import { loadRecordedHistories } from './support/histories.js';
import { quietRuntime } from './support/ragops.js';

const RUNBOOKS = ['backup', 'verifyBackup', 'restore', 'pruneBackups', 'deploy'];
const BACKUP_SOURCE = fileURLToPath(new URL('../src/workflows/backup.ts', import.meta.url));
const SWAP_LOADER = fileURLToPath(new URL('./support/replay/swap-loader.cjs', import.meta.url));
const silent = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} };

/** The block that starts with `head` (at two spaces of indentation) through its closing brace. */
function block(source: string, head: string): string {
  const start = source.indexOf(head);
  assert.ok(start >= 0, `src/workflows/backup.ts no longer has "${head}"; update this test`);
  const end = source.indexOf('\n  }\n', start);
  return source.slice(start, end + '\n  }'.length);
}

test('every committed history replays on the current workflow code', async () => {
  quietRuntime();
  const histories = await loadRecordedHistories();
  for (const runbook of RUNBOOKS) {
    assert.ok(histories.some((h) => h.workflowType === runbook), `no recorded history of ${runbook} in test/histories/`);
  }
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowsPath, replayName: 'ragops-replay' }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  assert.deepEqual(failures, [], `histories that no longer replay:\n${failures.join('\n')}`);
});

test('two steps of a runbook swapped: the recorded history no longer replays (the replay test can fail)', async () => {
  quietRuntime();
  const recorded = (await loadRecordedHistories()).find(
    (h) =>
      h.workflowType === 'backup' &&
      ['dumpPostgres', 'snapshotQdrantCollection'].every((type) => h.history.events?.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)),
  );
  assert.ok(recorded, 'no recorded backup of both Postgres and Qdrant in test/histories/');
  const source = readFileSync(BACKUP_SOURCE, 'utf8');
  // The developer's change: snapshot the collections before dumping the databases.
  const options = { first: block(source, '  for (const target of plan.postgres) {'), second: block(source, '  if (plan.qdrant) {') };
  const reordered = await bundleWorkflowCode({
    workflowsPath,
    logger: silent,
    webpackConfigHook: (config) => {
      config.module?.rules?.push({ test: (path: string) => path === BACKUP_SOURCE, enforce: 'pre', use: [{ loader: SWAP_LOADER, options }] });
      return config;
    },
  });
  await assert.rejects(Worker.runReplayHistory({ workflowBundle: reordered, replayName: 'ragops-replay-reordered' }, recorded.history, recorded.workflowId), (error: Error) => {
    assert.ok(error instanceof DeterminismViolationError || error instanceof ReplayError, `expected a replay failure, got ${error.name}: ${error.message}`);
    assert.match(error.message, /[Nn]ondetermin/);
    return true;
  });
  // And the same history replays on the unchanged code, so it is the swap that broke it.
  await Worker.runReplayHistory({ workflowsPath, replayName: 'ragops-replay-unchanged' }, recorded.history, recorded.workflowId);
});
