// The pure rendering behind `--wait`: heartbeat figures, the bar, the progress line, tables and
// report summaries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backupSummary, verifySummary } from '../src/client/cli/summary.js';
import { activityText, fitToWidth, formatElapsed, progressBar, progressFigures, progressLine } from '../src/core/progress.js';
import { renderTable, summarizeReport } from '../src/core/table.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';

const MiB = 1024 * 1024;

test('heartbeat figures: what ProgressHeartbeat records is read, anything malformed dropped', () => {
  assert.deepEqual(progressFigures({ step: 'pg_dump app', bytes: 5 * MiB, mibPerSecond: 2.5, phase: 'uploading' }), {
    step: 'pg_dump app',
    bytes: 5 * MiB,
    mibPerSecond: 2.5,
    phase: 'uploading',
  });
  // An ingestion's rows live in `progress`; a negative or textual figure is not a figure.
  assert.deepEqual(progressFigures({ step: 'ingest into c', progress: { rows: 1200, pages: 3 }, rowsPerSecond: 40, etaSeconds: 30 }), {
    step: 'ingest into c',
    rows: 1200,
    rowsPerSecond: 40,
    etaSeconds: 30,
  });
  assert.deepEqual(progressFigures({ bytes: -1, mibPerSecond: 'fast', step: 3 }), {});
  assert.deepEqual(progressFigures('not an object'), {});
  assert.deepEqual(progressFigures(undefined), {});
});

test('the bar: ASCII, clamped, width as asked', () => {
  assert.equal(progressBar(0, 10), '[----------]');
  assert.equal(progressBar(0.5, 10), '[#####-----]');
  assert.equal(progressBar(1, 10), '[##########]');
  assert.equal(progressBar(3, 4), '[####]');
  assert.equal(progressBar(-1, 4), '[----]');
  assert.equal(progressBar(Number.NaN, 4), '[----]');
  assert.equal(progressBar(0.25).length, 22);
});

test('elapsed times read short', () => {
  assert.equal(formatElapsed(0), '0s');
  assert.equal(formatElapsed(42_900), '42s');
  assert.equal(formatElapsed(185_000), '3m05s');
  assert.equal(formatElapsed(7_380_000), '2h03m');
});

test('an activity: its step and phase, bytes and rate; a bar only when the total is known; a retry says why', () => {
  assert.equal(
    activityText({ activityType: 'dumpPostgres', attempt: 1, details: { step: 'pg_dump app', phase: 'uploading', bytes: 412.3 * MiB, mibPerSecond: 85.1 } }),
    'pg_dump app: uploading | 412.3 MiB | 85.1 MiB/s',
  );
  assert.equal(
    activityText({ activityType: 'verifyArtifact', attempt: 1, details: { bytes: 256 * MiB, totalBytes: 1024 * MiB }, measuredMibPerSecond: 50 }),
    'verifyArtifact | 256.0 MiB of 1.0 GiB | 50.0 MiB/s | [#####---------------] 25.0 %',
  );
  assert.equal(
    activityText({ activityType: 'ingestReingestPages', attempt: 1, details: { progress: { rows: 300 }, totalRows: 1200, rowsPerSecond: 10, etaSeconds: 90 } }),
    'ingestReingestPages | 300 of 1200 rows | 10 rows/s | [#####---------------] 25.0 % | ETA 1m30s',
  );
  assert.equal(activityText({ activityType: 'dumpPostgres', attempt: 3, details: undefined, lastFailure: 'connection refused\nat ...' }), 'dumpPostgres | attempt 3 after: connection refused');
});

test('the line: elapsed, run, phase, the activity moving the most, how many more; waiting when none runs', () => {
  const line = progressLine({
    workflowId: 'backup-prod',
    phase: 'dump',
    elapsedMs: 65_000,
    activities: [
      { activityType: 'snapshotCollection', attempt: 1, details: { step: 'snapshot docs', bytes: 3 * MiB } },
      { activityType: 'dumpPostgres', attempt: 1, details: { step: 'pg_dump app', bytes: 300 * MiB, mibPerSecond: 80 } },
    ],
  });
  assert.equal(line, '[ 1m05s] backup-prod | dump | pg_dump app | 300.0 MiB | 80.0 MiB/s (+1 more running)');
  assert.equal(progressLine({ workflowId: 'verify-prod', elapsedMs: 1_000, activities: [] }), '[    1s] verify-prod | waiting');
  assert.equal(progressLine({ workflowId: 'dr-recover-prod', phase: 'approve', elapsedMs: 60_000, activities: [] }), '[ 1m00s] dr-recover-prod | approve | waiting for approval');
  assert.match(
    progressLine({ workflowId: 'deploy-prod-api', phase: 'backup', child: 'backup backup-prod (dump)', elapsedMs: 0, activities: [], stale: 'deadline exceeded\nmore' }),
    /deploy-prod-api \| backup \| child backup backup-prod \(dump\) \| waiting \| \(no answer from the server: deadline exceeded\)$/,
  );
  assert.doesNotMatch(line, /[\x1b\r\n]/, 'a plain line carries no control codes');
});

test('a redrawn line never wraps', () => {
  assert.equal(fitToWidth('short', 80), 'short');
  const fitted = fitToWidth('x'.repeat(100), 40);
  assert.equal(fitted.length, 39);
  assert.ok(fitted.endsWith('…'));
});

test('tables: padded columns, numbers right-aligned, no trailing spaces', () => {
  const table = renderTable([{ header: 'NAME' }, { header: 'SIZE', align: 'right' }, { header: 'NOTE' }], [
    ['app', '1.0 GiB', ''],
    ['globals', '2 KiB', 'roles'],
  ]);
  assert.equal(table, ['NAME        SIZE  NOTE', 'app      1.0 GiB', 'globals    2 KiB  roles'].join('\n'));
});

test('the backup summary: one row per artifact with size, duration, rate and outcome, then the total', () => {
  const report: BackupReport = {
    backupId: '20261206T120000Z-ab12',
    stack: 'prod',
    store: 'fs:/srv/backups',
    manifestKey: 'prod/20261206T120000Z-ab12/manifest.json',
    artifacts: [
      { component: 'postgres', name: 'app', key: 'k1', size: 1024 * MiB, sha256: 'a'.repeat(64), durationMs: 40_000, mibPerSecond: 25.6 },
      { component: 'qdrant', name: 'docs', key: 'k2', size: 10 * MiB, sha256: 'b'.repeat(64), durationMs: 2_000, mibPerSecond: 5 },
    ],
    total: { artifacts: 2, bytes: 1034 * MiB, durationMs: 42_000, mibPerSecond: 24.6 },
    checksumVerified: true,
    retention: { workflowId: 'prune-prod', kept: 7, deleted: 1 },
  };
  const text = backupSummary(report);
  const lines = text.split('\n');
  assert.equal(lines[0], 'backup 20261206T120000Z-ab12 of stack prod: complete, checksum-verified');
  assert.match(text, /^COMPONENT\s+NAME\s+SIZE\s+DURATION\s+MiB\/s\s+SHA-256\s+OUTCOME$/m);
  assert.match(text, /^postgres\s+app\s+1\.0 GiB\s+40\.0 s\s+25\.6\s+aaaaaaaaaaaa\s+stored$/m);
  assert.match(text, /^qdrant\s+docs\s+10\.0 MiB\s+2\.0 s\s+5\.0\s+bbbbbbbbbbbb\s+stored$/m);
  assert.match(text, /^TOTAL\s+2 artifact\(s\)\s+1\.0 GiB\s+42\.0 s\s+24\.6\s+checksum-verified$/m);
  assert.match(text, /^retention: prune-prod kept 7, deleted 1$/m);
  assert.doesNotMatch(text, /[{}"]/, 'no JSON in the readable summary');
});

test('the drill summary and any other report: verdict and a row per check; scalars as lines, lists as tables', () => {
  const verify: VerifyReport = {
    stack: 'prod',
    backupId: 'b1',
    depth: 'restore',
    passed: false,
    outcome: 'failed',
    evidenceKey: 'prod/b1/verification.json',
    durationMs: 12_500,
    checks: [
      { name: 'row counts', component: 'postgres', artifact: 'app', passed: true, outcome: 'passed', detail: '3 tables exact', figures: {}, durationMs: 1_000 },
      { name: 'points count', component: 'qdrant', artifact: 'docs', passed: false, outcome: 'failed', detail: '10 of 12 points', figures: {}, durationMs: 500 },
    ],
  };
  const drill = verifySummary(verify);
  assert.match(drill, /^restore-depth drill of backup b1 \(stack prod\): FAILED in 12\.5 s$/m);
  assert.match(drill, /^postgres\s+app\s+row counts\s+passed\s+1\.0 s\s+3 tables exact$/m);
  assert.match(drill, /^qdrant\s+docs\s+points count\s+FAILED\s+0\.5 s\s+10 of 12 points$/m);

  const generic = summarizeReport({
    stack: 'prod',
    backupId: 'b1',
    runTag: 'hidden',
    postgres: [
      { label: 'app', database: 'app_restored', replaced: false, tables: { docs: 10, chunks: 50 } },
      { label: 'audit', database: 'audit', replaced: true, tables: { log: 3 } },
    ],
    aliases: [],
    total: { bytes: 2048, durationMs: 90_000 },
  });
  assert.match(generic, /^stack:\s+prod$/m);
  assert.match(generic, /^aliases:\s+none$/m);
  assert.match(generic, /^total:\s+bytes 2\.0 KiB, durationMs 1m30s$/m);
  assert.match(generic, /^postgres:\n  label\s+database\s+replaced\s+tables\n  app\s+app_restored\s+no\s+docs 10, chunks 50\n  audit\s+audit\s+yes\s+log 3$/m);
  assert.doesNotMatch(generic, /hidden/);
});
