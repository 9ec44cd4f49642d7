// `ragops backup run --wait` as an operator runs it (the real CLI as a child process, a real
// worker process, the Temporal dev server, an fs store) on a 1 GiB database: progress at least
// every 2 s with growing bytes, then a summary; `--json` prints the report exactly; refusals
// and failures print one line and exit with their own code.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { join } from 'node:path';
import { findFreePort } from '../src/client/dev/devserver.js';
import { formatBytes } from '../src/core/format.js';
import type { BackupReport } from '../src/workflows/backup.js';
import { PG, createTestDatabase, type TestDatabase } from './support/postgres.js';
import { spawnWorkerProcess, tempDir, uniqueName, writeStacksFile, type WorkerProcess } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const GiB = 1024 ** 3;
/** Rows of 512 hex characters (two SHA-512s and their reverses, which deflate cannot match): ~1 GiB of heap. */
const BIG_ROWS = 1_830_000;

interface Line {
  at: number;
  text: string;
}

/** The CLI as a child process, each stdout line stamped with the time it arrived. */
function ragops(args: string[], env: Record<string, string>) {
  const child = execa(process.execPath, [RAGOPS, ...args], { env, reject: false, buffer: false, stdin: 'ignore' });
  const lines: Line[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const at = Date.now();
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at, text });
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    lines,
    child,
    async done() {
      const result = await child;
      if (partial) lines.push({ at: Date.now(), text: partial });
      return { exitCode: result.exitCode, stdout: lines.map((line) => line.text).join('\n'), stderr };
    },
  };
}

const SIZE = /\| (\d+(?:\.\d)?) (B|KiB|MiB|GiB) \|/;
const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

describe('ragops backup run --wait on a 1 GiB database', () => {
  let temporal: TestTemporal;
  let dir: { path: string; remove(): Promise<void> };
  let big: TestDatabase;
  let small: TestDatabase;
  let worker: WorkerProcess;
  let env: Record<string, string>;
  let configPath: string;
  const taskQueue = uniqueName('cli-progress');

  before(async () => {
    dir = await tempDir('cli-progress');
    [temporal, big, small] = await Promise.all([startTestTemporal(), createTestDatabase('cli_progress_big'), createTestDatabase('cli_progress_small')]);
    const stacks = {
      stacks: {
        big: { postgres: [{ name: 'app', host: PG.host, port: PG.port, user: PG.user, database: big.name }], store: { type: 'fs', path: join(dir.path, 'big') } },
        small: { postgres: [{ name: 'app', host: PG.host, port: PG.port, user: PG.user, database: small.name }], store: { type: 'fs', path: join(dir.path, 'small') } },
        broken: { postgres: [{ name: 'app', host: PG.host, port: PG.port, user: PG.user, database: `${small.name}_missing` }], store: { type: 'fs', path: join(dir.path, 'broken') } },
      },
    };
    configPath = await writeStacksFile(dir.path, stacks);
    // The worker bundles its workflows while the table fills.
    worker = spawnWorkerProcess({ address: temporal.address, taskQueue, configPath });
    const bigClient = await big.client();
    // One statement, unlogged (no WAL to write): pg_dump dumps an unlogged table's rows all the same.
    await bigClient.query(
      `CREATE UNLOGGED TABLE chunks AS
       SELECT i AS id, h1 || h2 || reverse(h1) || reverse(h2) AS body
       FROM generate_series(1, $1::int) i,
            LATERAL (SELECT encode(sha512(int8send(i)), 'hex') AS h1, encode(sha512(int8send(-i)), 'hex') AS h2) x`,
      [BIG_ROWS],
    );
    const { rows } = await bigClient.query<{ bytes: string }>(`SELECT pg_total_relation_size('chunks') AS bytes`);
    assert.ok(Number(rows[0]!.bytes) > 0.95 * GiB, `the table is ${rows[0]!.bytes} bytes, not ~1 GiB`);
    const smallClient = await small.client();
    await smallClient.query(`CREATE TABLE docs AS SELECT i AS id, md5(i::text) AS body FROM generate_series(1, 1000) i`);
    env = { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: 'default', RAGOPS_TASK_QUEUE: taskQueue, RAGOPS_UI_URL: 'http://127.0.0.1:8233', RAGOPS_CONFIG: configPath };
  });

  after(async () => {
    await worker?.stop();
    await temporal?.stop();
    await Promise.allSettled([big?.drop(), small?.drop()]);
    await dir?.remove();
  });

  test('progress at least every 2 s with growing bytes and MiB/s, then a summary table; a second run meanwhile is refused as busy (exit 3)', async () => {
    const run = ragops(['backup', 'run', '--stack', 'big', '--wait'], env);
    // Once the dump is under way, a second run of the same stack is refused at once.
    while (!run.lines.some((line) => /pg_dump app.*MiB\/s/.test(line.text)) && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    const second = await ragops(['backup', 'run', '--stack', 'big'], env).done();
    const result = await run.done();
    assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}\nworker:\n${worker.output()}`);

    assert.equal(second.exitCode, 3, second.stderr);
    const refusal = second.stderr.trim().split('\n');
    assert.equal(refusal.length, 1, second.stderr);
    assert.match(refusal[0]!, /^ragops: refused: backup-big is already running — backup run \S+ .*http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/backup-big\/\S+/);
    assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');

    const progress = run.lines.filter((line) => /^\[\s*\S+\] backup-big \| /.test(line.text));
    const summaryAt = run.lines.findIndex((line) => line.text.startsWith('backup ') && / of stack big: complete/.test(line.text));
    assert.ok(summaryAt > 0, result.stdout);
    const startedAt = run.lines.findIndex((line) => line.text === 'started backup backup-big');
    assert.ok(startedAt >= 0, result.stdout);
    // While the run goes, from its start to its summary: never more than 2 s without a line.
    const timeline = [run.lines[startedAt]!, ...progress, run.lines[summaryAt]!];
    const gaps = timeline.slice(1).map((line, i) => line.at - timeline[i]!.at);
    const maxGap = Math.max(...gaps);
    const runMs = timeline.at(-1)!.at - timeline[0]!.at;
    console.log(`# ${progress.length} progress lines over ${(runMs / 1000).toFixed(1)} s, longest gap ${maxGap} ms; e.g.\n# ${progress[Math.floor(progress.length / 2)]?.text}`);
    assert.ok(runMs > 5_000, `the backup of 1 GiB took only ${runMs} ms: not a test of progress`);
    assert.ok(maxGap <= 2_000, `a gap of ${maxGap} ms between lines:\n${result.stdout}`);

    const sized = progress.map((line) => SIZE.exec(line.text)).filter((match): match is RegExpExecArray => match !== null);
    const bytes = sized.map((match) => Number(match[1]) * UNIT[match[2]!]!);
    assert.ok(new Set(bytes).size >= 3, `bytes did not move:\n${result.stdout}`);
    for (let i = 1; i < bytes.length; i++) assert.ok(bytes[i]! >= bytes[i - 1]!, `bytes went down at ${i}:\n${result.stdout}`);
    assert.ok(progress.some((line) => /\| pg_dump app: uploading \| [\d.]+ [KMG]iB \| [\d.]+ MiB\/s/.test(line.text)), result.stdout);
    assert.ok(progress.some((line) => /^\[\s*\S+\] backup-big \| postgres \| pg_dump app/.test(line.text)), 'the phase (RagopsPhase) is shown');
    assert.doesNotMatch(result.stdout, /[\x1b\r]/, 'no control codes when stdout is not a terminal');

    // The summary: what the report says, as a table.
    const report = await temporal.client.workflow.getHandle<() => Promise<BackupReport>>('backup-big').result();
    const dump = report.artifacts.find((artifact) => artifact.component === 'postgres' && artifact.name === 'app')!;
    assert.ok(dump.size > 0.3 * GiB, `the dump is ${dump.size} bytes`);
    const summary = run.lines.slice(summaryAt).map((line) => line.text).join('\n');
    assert.match(summary, /^COMPONENT\s+NAME\s+SIZE\s+DURATION\s+MiB\/s\s+SHA-256\s+OUTCOME$/m);
    assert.match(summary, new RegExp(`^postgres\\s+app\\s+${formatBytes(dump.size).replace('.', '\\.')}\\s+[\\d.]+ s\\s+${dump.mibPerSecond.toFixed(1).replace('.', '\\.')}\\s+${dump.sha256.slice(0, 12)}\\s+stored$`, 'm'));
    assert.match(summary, /^TOTAL\s+\d+ artifact\(s\)/m);
    assert.match(summary, new RegExp(`backup ${report.backupId} of stack big`));
    assert.equal(result.stderr, '', 'nothing on stderr');
  });

  test('--json prints exactly the report, as --wait printed it before the summary; nothing else on stdout', async () => {
    const result = await ragops(['backup', 'run', '--stack', 'small', '--wait', '--json'], env).done();
    assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
    const report = await temporal.client.workflow.getHandle<() => Promise<BackupReport>>('backup-small').result();
    assert.equal(result.stdout, JSON.stringify(report, null, 2));
    const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['backupId', 'stack', 'store', 'manifestKey', 'artifacts', 'total', 'checksumVerified']);
    assert.deepEqual(Object.keys((parsed.artifacts as object[])[0]!).sort(), ['component', 'durationMs', 'key', 'mibPerSecond', 'name', 'sha256', 'size']);
    // The run's id and link go to stderr; progress is off (stderr is not a terminal here).
    assert.match(result.stderr, /^started backup backup-small\n {2}http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/backup-small\/\S+\n$/);
  });

  test('a failed run: exit 1, one line naming the cause and the run link', async () => {
    const result = await ragops(['backup', 'run', '--stack', 'broken', '--wait'], env).done();
    assert.equal(result.exitCode, 1, `${result.stdout}\n${result.stderr}`);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^ragops: backup backup-broken failed \(UnknownDatabase\): .*does not exist.* — http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/backup-broken\/\S+$/);
    const debug = await ragops(['backup', 'run', '--stack', 'broken', '--wait'], { ...env, RAGOPS_DEBUG: '1' }).done();
    assert.equal(debug.exitCode, 1);
    assert.match(debug.stderr, /\n\s+at /, 'RAGOPS_DEBUG=1 adds the stack');
  });

  test('invalid input: exit 2 before any server is contacted; an unreachable server: exit 4', async () => {
    const closed = await findFreePort();
    const unreachable = { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${closed}` };
    const started = Date.now();
    const invalid = await ragops(['backup', 'run', '--stack', 'Big!', '--wait'], unreachable).done();
    assert.equal(invalid.exitCode, 2, invalid.stderr);
    assert.ok(Date.now() - started < 8_000, 'it did not wait for a connection');
    assert.match(invalid.stderr, /^ragops: invalid backup input: stack: [^\n]+\n$/);
    const usage = await ragops(['backup', 'run', '--wait'], unreachable).done();
    assert.equal(usage.exitCode, 2, usage.stderr);
    assert.match(usage.stderr, /required option '--stack <name>'/);

    const down = await ragops(['backup', 'run', '--stack', 'big', '--wait'], unreachable).done();
    assert.equal(down.exitCode, 4, down.stderr);
    assert.match(down.stderr, new RegExp(`^ragops: cannot reach the Temporal server at 127\\.0\\.0\\.1:${closed} [^\\n]+\\n$`));

    const help = await ragops(['backup', 'run', '--help'], env).done();
    assert.equal(help.exitCode, 0);
    assert.match(help.stdout, /Exit codes:\n\s+0 .*\n\s+1 .*\n\s+2 .*\n\s+3 .*busy.*\n\s+4 .*reached/);
  });
});
