// Issue 13's checks that test/pitr-workflow.test.ts leaves open, on a cluster, stanza and store
// of this file's own (the same support code: archive_mode on, a posix pgBackRest repository,
// the Temporal dev server, a worker in this process): a diff with no full made full; a backup
// run with `verify: checksum` recording pgBackRest's verdict; the stack's sanity SQL in a
// physical drill; `ragops status --json` showing the achievable RPO; and a corrupted backup
// marked bad as the operator reads it (the backup listing, `ragops status`, expire's protection).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startBackup, startVerify } from '../src/client/api/runbooks.js';
import { manifestSchema, verificationSchema, type Manifest } from '../src/config/manifest.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import type { StatusReport } from '../src/core/status.js';
import { infoCommand } from '../src/activities/pgbackrest/commands.js';
import { parsePgbackrestInfo } from '../src/activities/pgbackrest/info.js';
import { withStore } from '../src/activities/store/open.js';
import { listBackupsIn } from '../src/activities/store/catalog.js';
import { formatBackupListing } from '../src/client/cli/listing.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';
import { startWorker, tempDir, uniqueName, writeStacksFile, type RunningWorker } from './support/ragops.js';
import { startPitrStack, type PitrStack } from './support/pitr-stack.js';

const STANZA = 'pitr-checks';
const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const SANITY = { name: 'no late rows', sql: "SELECT count(*)::int FROM events WHERE body LIKE 'late%'", expect: 0 };

describe('point-in-time recovery: the checks pitr-workflow leaves open', { timeout: 600_000 }, () => {
  let temporal: TestTemporal;
  let stack: PitrStack;
  let worker: RunningWorker;
  let store: { path: string; remove(): Promise<void> };
  let configDir: { path: string; remove(): Promise<void> };
  let configPath: string;
  const taskQueue = uniqueName('pitrchecks');
  const backups: Manifest[] = [];

  const readManifest = async (report: BackupReport) => manifestSchema.parse(JSON.parse(await readFile(join(store.path, report.manifestKey), 'utf8')));
  const backUp = async (input: Record<string, unknown>) => {
    const report = await (await startBackup(temporal.client, { stack: 'prod', components: ['pgbackrest'], ...input }, { taskQueue })).result();
    const manifest = await readManifest(report);
    backups.push(manifest);
    return { report, manifest, physical: manifest.physical![0]! };
  };
  const verify = (input: Record<string, unknown>) => startVerify(temporal.client, { stack: 'prod', ...input }, { taskQueue });
  const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => (error as { cause?: { type?: string; message?: string; details?: unknown[] } }).cause);
  const info = async () => parsePgbackrestInfo((await stack.pitr.run(infoCommand(stack.pitr.invocation))).stdout, STANZA);
  /** `ragops status --json --stack prod` as the operator runs it: its own process, the stacks file, the secrets from the environment. */
  const ragopsStatus = async (...flags: string[]) => {
    const cli = await execa(process.execPath, [RAGOPS, 'status', '--stack', 'prod', ...flags], {
      env: { ...stack.secretEnv(), RAGOPS_CONFIG: configPath, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace },
      reject: false,
    });
    assert.equal(cli.exitCode, 0, cli.stderr);
    return cli.stdout;
  };
  const statusJson = async () => {
    const report = JSON.parse(await ragopsStatus('--json')) as StatusReport;
    assert.deepEqual(report.stacks.map((entry) => entry.stack), ['prod']);
    return report.stacks[0]!;
  };

  before(async () => {
    temporal = await startTestTemporal();
    stack = await startPitrStack(STANZA);
    store = await tempDir('pitrchecks-store');
    configDir = await tempDir('pitrchecks-config');
    const prod = stack.stack({ type: 'fs', path: store.path });
    const app = (prod.postgres as Array<Record<string, unknown>>)[0]!;
    app.sanityChecks = [SANITY];
    // The drill counts the declared table only.
    app.physical = { ...(app.physical as Record<string, unknown>), drillTables: ['public.events'] };
    const stacks = { stacks: { prod } };
    configPath = await writeStacksFile(configDir.path, stacks);
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await stack?.stop();
    await store?.remove();
    await configDir?.remove();
    await temporal?.stop();
  });

  test('a differential backup with no full backup yet is made full by pgBackRest, and the manifest says so', async () => {
    const { report, physical } = await backUp({ physicalType: 'diff' });
    assert.deepEqual([physical.requestedType, physical.type, physical.priorLabel], ['diff', 'full', undefined]);
    assert.match(physical.label, /^[0-9]{8}-[0-9]{6}F$/);
    assert.equal(physical.stanza, STANZA);
    assert.deepEqual(report.physical?.map(({ label, type, requestedType }) => [label, type, requestedType]), [[physical.label, 'full', 'diff']]);
    assert.deepEqual((await info()).backups.map((backup) => [backup.label, backup.type]), [[physical.label, 'full']]);
  });

  test('a backup run with verify: checksum records pgBackRest\'s own verify result in the manifest: passed', async () => {
    const full = backups[0]!.physical![0]!;
    const { report, manifest, physical } = await backUp({ physicalType: 'diff', verify: 'checksum' });
    assert.equal(report.checksumVerified, true);
    assert.ok(manifest.checksumVerifiedAt, 'the manifest carries the time of the check');
    assert.deepEqual([physical.requestedType, physical.type, physical.priorLabel], ['diff', 'diff', full.label]);
    assert.match(physical.label, new RegExp(`^${full.label}_[0-9]{8}-[0-9]{6}D$`));
    const verdict = physical.verify;
    assert.ok(verdict, JSON.stringify(physical));
    assert.equal(verdict.status, 'ok');
    assert.deepEqual(verdict.problems, []);
    assert.ok(verdict.filesChecked > 0, JSON.stringify(verdict));
    assert.equal(verdict.filesValid, verdict.filesChecked, 'every file of the diff and its full is valid');
  });

  test('the stack\'s sanity SQL in a physical drill: it passes when recovery stops before the late row, and fails the drill naming it when it does not', async () => {
    const diff = backups[1]!;
    const db = await stack.connect();
    let early: Date;
    let late: Date;
    let last: Date;
    try {
      early = await stack.insertEvent(db, 'early row');
      await sleep(1_000);
      late = await stack.insertEvent(db, 'late row');
      await sleep(1_000);
      last = await stack.insertEvent(db, 'the archive reaches past the last target');
    } finally {
      await db.end();
    }
    // A second either side: each row's commit is well inside it.
    const beforeLate = new Date((early.getTime() + late.getTime()) / 2).toISOString();
    const afterLate = new Date((late.getTime() + last.getTime()) / 2).toISOString();

    // Past the late row first, so that the backup's last conclusive drill is the passing one (the next test relies on it).
    const failed = await verify({ depth: 'restore', at: afterLate });
    const failure = await failureOf(failed.result());
    assert.equal(failure?.type, 'DrillFailed', JSON.stringify(failure));
    assert.match(failure?.message ?? '', /app sanity: no late rows: returned 1, expected 0/);
    const failedReport = failure!.details![0] as VerifyReport;
    assert.equal(failedReport.backupId, diff.backupId);
    assert.deepEqual(failedReport.checks.filter((check) => !check.passed).map((check) => check.name), ['sanity: no late rows'], 'only the sanity check failed');

    const passed = (await (await verify({ depth: 'restore', at: beforeLate })).result()) as VerifyReport;
    assert.equal(passed.passed, true, JSON.stringify(passed.checks));
    assert.equal(passed.backupId, diff.backupId);
    const evidence = verificationSchema.parse(JSON.parse(await readFile(join(store.path, passed.evidenceKey), 'utf8')));
    const sanity = evidence.checks.filter((check) => check.name.startsWith('sanity: '));
    assert.deepEqual(
      sanity.map((check) => ({ name: check.name, component: check.component, artifact: check.artifact, passed: check.passed, figures: check.figures })),
      [{ name: 'sanity: no late rows', component: 'pgbackrest', artifact: 'app', passed: true, figures: { actual: 0, expected: 0 } }],
    );
    assert.equal(evidence.checks.find((check) => check.name === 'recovered point')!.figures.recoveredPoint, early.toISOString());
    const counted = evidence.checks.find((check) => check.name === 'row counts')!;
    assert.deepEqual([counted.outcome, Object.keys(counted.figures.tables as object)], ['passed', ['public.events']], JSON.stringify(counted));
  });

  test('ragops status --json shows the archive\'s last pushed WAL time as the achievable RPO', async () => {
    const db = await stack.connect();
    let lastArchivedAt: Date;
    try {
      await stack.insertEvent(db, 'for the status');
      const { rows } = await db.query<{ at: Date }>('SELECT last_archived_time AS at FROM pg_stat_archiver');
      lastArchivedAt = rows[0]!.at;
    } finally {
      await db.end();
    }
    const asked = Date.now();
    const prod = await statusJson();
    const answered = Date.now();
    assert.equal(prod.pitr.length, 1, JSON.stringify(prod.pitr));
    const pitr = prod.pitr[0]!;
    assert.deepEqual([pitr.target, pitr.database, pitr.basis, pitr.recoverableTo, pitr.problems], ['app', stack.database, 'archived-wal', lastArchivedAt.toISOString(), []]);
    const low = Math.floor((asked - lastArchivedAt.getTime()) / 1000) - 1;
    const high = Math.ceil((answered - lastArchivedAt.getTime()) / 1000) + 1;
    assert.ok(typeof pitr.rpoSeconds === 'number' && pitr.rpoSeconds >= low && pitr.rpoSeconds <= high, `rpoSeconds ${pitr.rpoSeconds}, expected ${low}…${high}`);
    // The same figure in the tables an operator reads.
    assert.match(await ragopsStatus(), new RegExp(`^  PITR app \\(${stack.database}\\): achievable RPO \\S.* \\(archived-wal, to ${lastArchivedAt.toISOString().replace(/[.]/g, '\\.')}\\)$`, 'm'));
  });

  test('a flipped byte in a full backup: the failed checksum drill marks it bad — in the backup listing, in ragops status, and for expire, which protects the older good full again', async () => {
    const good = backups[0]!.physical![0]!;
    const { manifest: second, physical: bad } = await backUp({ physicalType: 'full' });
    assert.equal(bad.type, 'full');
    // The diff's passing drill proved the first full good: this full's expire keeps it.
    assert.deepEqual(bad.expire, { retentionFull: 2, protecting: good.label, expired: [] });

    // Proved good by a checksum drill first: without a mark of its own later, it would count as good from now on.
    const checked = (await (await verify({ backupId: second.backupId, depth: 'checksum' })).result()) as VerifyReport;
    assert.equal(checked.passed, true, JSON.stringify(checked.checks));

    const { stdout: files } = await execa('find', [join(stack.pitr.repositoryPath, 'backup', STANZA, bad.label, 'pg_data', 'base'), '-type', 'f', '-size', '+8k']);
    const victim = files.split('\n')[0]!;
    const bytes = await readFile(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(victim, bytes);
    const failure = await failureOf((await verify({ backupId: second.backupId, depth: 'checksum' })).result());
    assert.equal(failure?.type, 'DrillFailed', JSON.stringify(failure));
    assert.ok(failure?.message?.includes(`invalid checksum '${bad.label}/${victim.split(`/${bad.label}/`)[1]}'`), failure?.message);

    // The backup listing (`ragops backup list`): its last verification is the failed checksum drill.
    const listings = await withStore({ type: 'fs', path: store.path }, (opened) => listBackupsIn(opened, 'prod'));
    const listed = listings.find((listing) => listing.backupId === second.backupId)!;
    assert.deepEqual([listed.lastVerification?.depth, listed.lastVerification?.outcome], ['checksum', 'failed']);
    assert.deepEqual([listed.lastConclusiveVerification?.depth, listed.lastConclusiveVerification?.outcome], ['checksum', 'failed']);
    const row = formatBackupListing(listings).split('\n').find((line) => line.startsWith(second.backupId));
    // pgBackRest's backup is counted and named though its files live in pgBackRest's repository.
    assert.match(row ?? '', new RegExp(` 1 pgbackrest .*checksum drill FAILED ${listed.lastVerification!.finishedAt.replace(/[.]/g, '\\.')}  pgBackRest app: full ${bad.label}$`));
    const diffRow = formatBackupListing(listings).split('\n').find((line) => line.startsWith(backups[1]!.backupId));
    assert.match(diffRow ?? '', /restore drill passed /, 'the diff keeps its passing drill');

    // `ragops status --json`: the stack's last drill is that failed one, and it is a breach.
    const prod = await statusJson();
    assert.deepEqual(
      prod.drills?.last && { backupId: prod.drills.last.backupId, depth: prod.drills.last.depth, outcome: prod.drills.last.outcome },
      { backupId: second.backupId, depth: 'checksum', outcome: 'failed' },
    );
    assert.deepEqual(prod.drills?.counts, { passed: 2, failed: 2, inconclusive: 0 });
    assert.deepEqual(prod.breaches.filter((breach) => breach.kind === 'drill-failed').map((breach) => breach.detail), [`the last drill (checksum, backup ${second.backupId}) failed`]);

    // expire reads the same mark: the corrupted full is no longer good, so the first full stays protected.
    const { physical: incr } = await backUp({ physicalType: 'incr' });
    assert.equal(incr.priorLabel, bad.label);
    assert.deepEqual(incr.expire, { retentionFull: 2, protecting: good.label, expired: [] });
    assert.ok((await info()).backups.some((backup) => backup.label === good.label), 'the good full backup is still in the repository');
  });
});
