// Workers killed with SIGKILL in the middle of pgBackRest's work — during `pgbackrest backup`
// and during a drill's recovery — against an S3 repository (moto behind TLS): the runs
// complete on a new worker, no scratch server is left, the repository passes `check`, and the
// repository's secrets appear in no argv (`ps` while it runs), history or worker log.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackup, startVerify } from '../src/client/api/runbooks.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { checkCommand } from '../src/activities/pgbackrest/commands.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { processesMentioning, startPitrStack, type PitrStack } from './support/pitr-stack.js';
import { startTlsS3, type TlsS3 } from './support/pgbackrest-s3.js';
import { runTagsOf } from './support/run-tags.js';

const STANZA = 'pitr-crash';
const BUCKET = 'pitr-crash';
// moto takes any key: a random one, since its own 'testing' is a word any process's argv may hold.
const S3_SECRET = `pitr-s3-${randomBytes(12).toString('hex')}`;
const KEY_ENV = { id: `RAGOPS_TEST_PITR_S3_ID_${randomBytes(3).toString('hex').toUpperCase()}`, secret: `RAGOPS_TEST_PITR_S3_SECRET_${randomBytes(3).toString('hex').toUpperCase()}` };

describe('pgBackRest work survives a worker killed with SIGKILL', { timeout: 900_000 }, () => {
  let temporal: TestTemporal;
  let s3: TlsS3;
  let stack: PitrStack;
  let store: { path: string; remove(): Promise<void> };
  let configPath: string;
  const taskQueue = uniqueName('pitr-crash');
  const workers: WorkerProcess[] = [];
  const secrets = () => [S3_SECRET, stack.pitr.cipherPass.value, stack.password.value];
  const startWorkerProcess = (extraEnv: Record<string, string> = {}) => {
    const worker = spawnWorkerProcess({ address: temporal.address, taskQueue, configPath, env: { ...stack.secretEnv(), ...extraEnv } });
    workers.push(worker);
    return worker;
  };
  /** Polls `ps` for any secret while `until` is pending. */
  const watchArgv = (until: Promise<unknown>) => {
    let done = false;
    const seen: string[] = [];
    void until.finally(() => (done = true)).catch(() => undefined);
    return (async () => {
      while (!done) {
        const { stdout } = await execa('ps', ['-eo', 'args', '--no-headers']);
        for (const line of stdout.split('\n')) if (secrets().some((secret) => line.includes(secret))) seen.push(line);
        await sleep(200);
      }
      return seen;
    })();
  };

  before(async () => {
    temporal = await startTestTemporal();
    s3 = await startTlsS3();
    await s3.moto.createBucket(BUCKET);
    process.env[KEY_ENV.id] = s3.moto.accessKeyId;
    process.env[KEY_ENV.secret] = S3_SECRET;
    stack = await startPitrStack(STANZA, {
      repository: { type: 's3', bucket: BUCKET, prefix: 'pgbackrest/', endpoint: s3.endpoint, region: s3.moto.region, forcePathStyle: true, verifyTls: false, accessKeyId: { env: KEY_ENV.id }, secretAccessKey: { env: KEY_ENV.secret } },
      retentionFull: 2,
    });
    store = await tempDir('pitr-crash-store');
    configPath = await writeStacksFile(store.path, { stacks: { prod: stack.stack({ type: 'fs', path: join(store.path, 'store') }) } });
    const db = await stack.connect();
    // About 150 MB: pgBackRest takes some seconds to copy it into moto, long enough to be killed mid-way.
    await db.query("CREATE TABLE bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) AS body FROM generate_series(1, 1000000) g");
    await db.end();
  });
  after(async () => {
    await Promise.allSettled(workers.map((worker) => worker.stop()));
    await stack?.stop();
    await s3?.stop();
    await store?.remove();
    await temporal?.stop();
    delete process.env[KEY_ENV.id];
    delete process.env[KEY_ENV.secret];
  });

  test('killed during pgbackrest backup: the run completes with one backup, and check passes', async () => {
    const first = startWorkerProcess();
    const handle = await startBackup(temporal.client, { stack: 'prod', components: ['pgbackrest'], physicalType: 'full' }, { taskQueue });
    const argvLeaks = watchArgv(handle.result());
    let running: string[] = [];
    for (let i = 0; i < 600 && running.length === 0; i++) {
      running = (await processesMentioning(`--stanza=${STANZA}`)).filter((line) => line.trim().endsWith(' backup'));
      if (running.length === 0) await sleep(100);
    }
    assert.ok(running.length > 0, `pgbackrest backup never started; worker output:\n${first.output()}`);
    await sleep(1_000);
    first.kill('SIGKILL');
    assert.equal((await first.process).signal, 'SIGKILL');
    const metricsPort = await findFreePort();
    const second = startWorkerProcess({ RAGOPS_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` });
    const report = (await handle.result()) as BackupReport;
    // The worker's metrics carry the stanza's achievable RPO beside the SDK's own.
    let rpoLine: string | undefined;
    for (let i = 0; i < 100 && !rpoLine; i++) {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((response) => response.text(), () => '');
      rpoLine = text.split('\n').find((line) => /^(temporal_)?ragops_pitr_achievable_rpo_seconds\{.*database="app".*\} /.test(line) && line.includes('stack="prod"'));
      if (!rpoLine) await sleep(200);
    }
    assert.ok(rpoLine, 'no ragops_pitr_achievable_rpo_seconds gauge for prod/app');
    assert.ok(Number(rpoLine.split(' ').at(-1)) < 600, rpoLine);
    assert.equal(report.physical?.length, 1);
    assert.equal(report.physical![0]!.type, 'full');
    assert.deepEqual(await argvLeaks, [], 'a secret was in some process\'s argv');
    await stack.pitr.run(checkCommand(stack.pitr.invocation));
    for (const output of [first.output(), second.output()]) for (const secret of secrets()) assert.ok(!output.includes(secret), 'a secret reached the worker log');
    const history = await exportHistoryJson(temporal.client, handle.workflowId);
    for (const secret of secrets()) assert.ok(!history.includes(secret), 'a secret reached the history');
  });

  test('killed during the drill\'s recovery: the run completes, no scratch server keeps running, check passes', async () => {
    const db = await stack.connect();
    // WAL for recovery to replay, fetched segment by segment from the S3 archive.
    await db.query("UPDATE bulk SET body = body || 'x'");
    await db.query('INSERT INTO events (body) VALUES ($1)', ['after the update']);
    const { rows } = await db.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment');
    for (let i = 0; i < 600; i++) {
      const { rows: archived } = await db.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
      if (archived[0]?.last && archived[0].last >= rows[0]!.segment) break;
      await sleep(100);
    }
    const at = new Date().toISOString();
    // Recovery to a time stops at the first commit after it: the archive must hold one.
    await sleep(1_000);
    await stack.insertEvent(db, 'after the target');
    await db.end();

    const first = startWorkerProcess();
    const handle = await startVerify(temporal.client, { stack: 'prod', depth: 'restore', at }, { taskQueue });
    let scratch: string | undefined;
    let tag: string | undefined;
    for (let i = 0; i < 1200 && !scratch; i++) {
      // This run's scratch dir, by its run tag: the data lane's dr-pitr drills in the same temp dir.
      tag ??= [...(await runTagsOf(temporal.client, handle.workflowId, handle.firstExecutionRunId))][0];
      const dirs = (await readdir(tmpdir())).filter((name) => tag !== undefined && name.startsWith(`ragops-pitr-${tag}-`));
      for (const dir of dirs) if (await stat(join(tmpdir(), dir, 'data', 'postmaster.pid')).catch(() => undefined)) scratch = join(tmpdir(), dir);
      if (!scratch) await sleep(100);
    }
    assert.ok(scratch, `the scratch server never started; worker output:\n${first.output()}`);
    first.kill('SIGKILL');
    assert.equal((await first.process).signal, 'SIGKILL');
    const second = startWorkerProcess();
    const report = (await handle.result().catch((error: Error) => {
      throw new Error(`the drill failed: ${JSON.stringify(error, Object.getOwnPropertyNames(error))}; cause: ${String((error as { cause?: Error }).cause?.message)}\nfirst worker:\n${first.output().slice(-3000)}\nsecond worker:\n${second.output().slice(-3000)}`);
    })) as VerifyReport;
    assert.equal(report.passed, true, JSON.stringify(report.checks));
    assert.equal((report.checks.find((check) => check.name === 'row counts')!.figures.tables as Record<string, number>)['public.events'], 1);
    assert.deepEqual(await processesMentioning(scratch), [], 'a scratch server outlived the drill');
    assert.equal(await stat(scratch).catch(() => 'gone'), 'gone');
    await stack.pitr.run(checkCommand(stack.pitr.invocation));
  });
});
