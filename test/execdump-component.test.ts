// The exec dump component: argv builders for each place a command runs, and the execDump /
// drillExecDump activities against Debian's sqlite3 on the host, a Docker volume tar through the
// local busybox image, a failing command, a secret by env reference, client-side encryption.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { KUBE_ENV_PROLOGUE, createExecDumpActivities, execCommand, execDumpCommands } from '../src/activities/execdump/index.js';
import { FsStore } from '../src/activities/store/fs.js';
import { runCommand } from '../src/activities/runtime/exec.js';
import { execDumpArtifactSchema, execDumpSchema, type ExecDumpComponentInput } from '../src/config/stacks/execdump.js';
import { clientSideEncryptionSchema } from '../src/config/stacks/encryption.js';
import { ensureTestImages } from './support/docker-images.js';
import { tempDir } from './support/ragops.js';

const activities = createExecDumpActivities();
const quiet = new DefaultLogger('ERROR');

function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return runIn(new MockActivityEnvironment(undefined, { logger: quiet }), fn, ...args);
}

function runIn<A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return env.run(fn, ...args);
}

const component = (input: ExecDumpComponentInput) => execDumpSchema.parse(input);

describe('exec dump argv builders', () => {
  const env = { DUMP_TOKEN: 's3cret-value' };

  test('host: the argv as given, secrets in the environment only', () => {
    const c = component({ name: 'notes', run: { host: { argv: ['sqlite3', '-readonly', '/data/notes.db', '.dump'] } }, env: { DUMP_TOKEN: { env: 'X' } } });
    const command = execDumpCommands.dump(c, env);
    assert.deepEqual(command.argv, ['sqlite3', '-readonly', '/data/notes.db', '.dump']);
    assert.deepEqual(command.env, env);
    assert.match(command.purpose, /^exec dump notes \(in the worker host\)$/);
  });

  test('docker exec: -e NAME without its value', () => {
    const c = component({ name: 'kc', run: { docker: { container: 'keycloak', user: '1000', argv: ['/opt/keycloak/bin/kc.sh', 'export', '--realm', 'rag', '--file', '/dev/stdout'] } } });
    const command = execDumpCommands.dump(c, env);
    assert.deepEqual(command.argv, ['docker', 'exec', '--user', '1000', '-e', 'DUMP_TOKEN', 'keycloak', '/opt/keycloak/bin/kc.sh', 'export', '--realm', 'rag', '--file', '/dev/stdout']);
    assert.ok(!command.argv.join(' ').includes('s3cret'));
    assert.ok(command.inheritEnv?.includes('DOCKER_HOST'));
  });

  test('volume: a throwaway read-only container that tars /source', () => {
    const c = component({ name: 'uploads', run: { volume: { name: 'nosia_rails-storage', image: 'busybox:1.36' } } });
    assert.deepEqual(execDumpCommands.dump(c, {}).argv, [
      'docker', 'run', '--rm', '--network', 'none', '--log-driver', 'none', '-v', 'nosia_rails-storage:/source:ro', 'busybox:1.36', 'tar', 'c', '-C', '/source', '.',
    ]);
    assert.deepEqual(execDumpCommands.figure(c, 'files', ['find', '/source', '-type', 'f'], {}).argv.slice(-4), ['find', '/source', '-type', 'f']);
    const neo4j = component({ name: 'graph', run: { volume: { name: 'neo4j_data', image: 'neo4j:5.26-enterprise', mountPath: '/data', argv: ['neo4j-admin', 'database', 'dump', 'neo4j', '--to-stdout'] } } });
    assert.deepEqual(execDumpCommands.dump(neo4j, {}).argv.slice(7), ['-v', 'neo4j_data:/data:ro', 'neo4j:5.26-enterprise', 'neo4j-admin', 'database', 'dump', 'neo4j', '--to-stdout']);
  });

  test('kubernetes: kubectl exec, secrets on stdin through a sh prologue', () => {
    const plain = component({ name: 'graph', run: { kubernetes: { deployment: 'neo4j', container: 'db', namespace: 'rag', context: 'prod', argv: ['neo4j-admin', 'database', 'dump', 'neo4j', '--to-stdout'] } } });
    assert.deepEqual(execDumpCommands.dump(plain, {}).argv, [
      'kubectl', '--context=prod', '--namespace=rag', 'exec', 'deployment/neo4j', '-c', 'db', '--', 'neo4j-admin', 'database', 'dump', 'neo4j', '--to-stdout',
    ]);
    assert.equal(execDumpCommands.dump(plain, {}).stdinText, undefined);
    const withSecret = component({ name: 'graph', run: { kubernetes: { pod: 'neo4j-0', argv: ['dump'] } } });
    const command = execDumpCommands.dump(withSecret, env);
    assert.deepEqual(command.argv, ['kubectl', '--namespace=default', 'exec', '-i', 'pod/neo4j-0', '--', 'sh', '-c', KUBE_ENV_PROLOGUE, 'ragops-exec', 'dump']);
    assert.equal(command.stdinText, 'DUMP_TOKEN=s3cret-value\n\n');
    assert.equal(command.env, undefined);
    assert.throws(() => execCommand(withSecret.run, undefined, { A: 'two\nlines' }, 'x'), /A holds a line break/);
  });

  test('the kubectl prologue exports the stdin lines and runs the argv untouched', async () => {
    const { stdout } = await runCommand(
      { argv: ['sh', '-c', KUBE_ENV_PROLOGUE, 'ragops-exec', 'sh', '-c', 'echo "$DUMP_TOKEN|$OTHER|$1"', 'x', 'a b; $(not run)'], purpose: 'prologue' },
      { stdin: (await import('node:stream')).Readable.from(['DUMP_TOKEN=s3cret value=with=equals\nOTHER=2\n\n']) },
    );
    assert.equal(stdout, 's3cret value=with=equals|2|a b; $(not run)');
  });

  test('drill commands: {scratch} replaced, on the host', () => {
    const c = component({ name: 'notes', run: { host: { argv: ['x'] } }, drill: { restore: ['sqlite3', '{scratch}/restored.db'], checks: [] } });
    assert.deepEqual(execDumpCommands.drill(c, 'restore', c.drill!.restore, '/tmp/ragops-drill-notes-1').argv, ['sqlite3', '/tmp/ragops-drill-notes-1/restored.db']);
  });

  test('the schema refuses what cannot run', () => {
    assert.throws(() => component({ name: 'x', run: { host: { argv: [] } } }));
    assert.throws(() => component({ name: 'x', run: { host: { argv: ['-rf'] } } }), /program/);
    assert.throws(() => component({ name: 'x', run: { docker: { container: 'a b', argv: ['x'] } } }));
    assert.throws(() => component({ name: 'x', run: { volume: { name: 'v', image: '--privileged' } } }));
    assert.throws(() => component({ name: 'x', run: { kubernetes: { argv: ['x'] } } }), /exactly one of pod and deployment/);
    assert.throws(() => component({ name: 'x', run: { host: { argv: ['x'] } }, env: { 'A-B': { env: 'X' } } }));
    assert.throws(() => component({ name: 'x', run: { host: { argv: ['x'] } }, env: { A: 'inline' } } as unknown as ExecDumpComponentInput));
    assert.throws(() => component({ name: 'x', run: { host: { argv: ['x'] } }, drill: { restore: ['x'], checks: [{ name: 'c', argv: ['y'], figure: ['z'], expect: '1' }] } }), /figure or expect/);
  });
});

describe('exec dump and drill', () => {
  let dir: { path: string; remove(): Promise<void> };
  let store: FsStore;
  let storeConfig: { type: 'fs'; path: string };
  let db: string;
  const ROWS = 4_000;
  const MARKER = 'PLAINTEXT-MARKER-exec-dump-91c2';
  const saved = { ...process.env };

  before(async () => {
    dir = await tempDir('execdump');
    store = new FsStore(join(dir.path, 'store'));
    storeConfig = { type: 'fs', path: join(dir.path, 'store') };
    db = join(dir.path, 'notes.db');
    await execa('sqlite3', [
      db,
      `CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${ROWS})
       INSERT INTO notes SELECT i, '${MARKER} ' || i || ' ' || hex(randomblob(16)) FROM c;
       CREATE INDEX notes_body ON notes(body);`,
    ]);
    process.env.TEST_EXEC_KEY = randomBytes(32).toString('base64');
    process.env.TEST_EXEC_WRONG_KEY = randomBytes(32).toString('base64');
    process.env.TEST_EXEC_TOKEN = `token-${randomBytes(8).toString('hex')}`;
  });
  after(async () => {
    process.env = saved;
    await dir.remove();
  });

  const sqlite = (name = 'notes') =>
    component({
      name,
      extension: '.sql',
      run: { host: { argv: ['sqlite3', '-readonly', db, '.dump'] } },
      drill: {
        restore: ['sqlite3', '-bail', '{scratch}/restored.db'],
        checks: [
          { name: 'integrity', argv: ['sqlite3', '{scratch}/restored.db', 'PRAGMA integrity_check'], expect: 'ok' },
          { name: 'rows', argv: ['sqlite3', '{scratch}/restored.db', 'SELECT count(*) FROM notes'], figure: ['sqlite3', '-readonly', db, 'SELECT count(*) FROM notes'] },
        ],
      },
    });

  test('SQLite on the host: .dump streamed into the store, drill restores it and compares figures', async () => {
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const artifact = await runIn(env, activities.execDump, { component: sqlite(), store: storeConfig, key: 'b1/notes.sql' });
    execDumpArtifactSchema.parse(artifact);
    assert.equal(artifact.kind, 'host');
    assert.deepEqual(artifact.figures, { rows: String(ROWS) });
    assert.deepEqual(artifact.command, ['sqlite3', '-readonly', db, '.dump']);
    const stored = await readFile(store.localPath('b1/notes.sql'));
    assert.equal(stored.length, artifact.size);
    assert.match(stored.subarray(0, 200).toString(), /BEGIN TRANSACTION/);
    assert.ok(beats.some((beat) => ((beat as { bytes?: number }).bytes ?? 0) > 0), `heartbeats: ${JSON.stringify(beats)}`);

    const checks = await run(activities.drillExecDump, { component: sqlite(), store: storeConfig, artifact });
    assert.deepEqual(checks.map((c) => [c.name, c.outcome]), [['restore', 'passed'], ['integrity', 'passed'], ['rows', 'passed']], JSON.stringify(checks, null, 2));
    assert.deepEqual(checks[2]!.figures, { figure: String(ROWS), expected: String(ROWS) });

    // A figure that differs fails the drill; one with nothing to compare with is inconclusive.
    const differing = await run(activities.drillExecDump, { component: sqlite(), store: storeConfig, artifact: { ...artifact, figures: { rows: '3999' } } });
    assert.equal(differing[2]!.outcome, 'failed');
    assert.match(differing[2]!.detail, /printed "4000", expected "3999"/);
    const older = await run(activities.drillExecDump, { component: sqlite(), store: storeConfig, artifact: { ...artifact, figures: {} } });
    assert.equal(older[2]!.outcome, 'inconclusive');
    // A restore command that exits 0 without reading the artifact does not pass.
    const lazy = component({ ...sqlite(), drill: { restore: ['true'], checks: [] } });
    const unread = await run(activities.drillExecDump, { component: lazy, store: storeConfig, artifact });
    assert.equal(unread[0]!.outcome, 'failed');
    assert.match(unread[0]!.detail, /exited before reading the whole artifact/);
  });

  test('client-side encryption: the stored object holds no plaintext, the drill passes; a wrong key stops the drill naming the artifact, and cut ciphertext fails it', async () => {
    const encryption = { clientSide: clientSideEncryptionSchema.parse({ keyId: 'exec-test-key', key: { env: 'TEST_EXEC_KEY' } }) };
    const encrypted = { ...storeConfig, encryption };
    const artifact = await run(activities.execDump, { component: sqlite(), store: encrypted, key: 'b2/notes.sql' });
    const stored = await readFile(store.localPath('b2/notes.sql'));
    assert.equal(stored.indexOf(MARKER), -1);
    assert.ok(stored.length > artifact.size);
    const checks = await run(activities.drillExecDump, { component: sqlite(), store: encrypted, artifact });
    assert.ok(checks.every((c) => c.outcome === 'passed'), JSON.stringify(checks, null, 2));

    // A key that does not open the artifact may be the stack's configuration, not the backup: no verdict.
    const wrong = { ...storeConfig, encryption: { clientSide: clientSideEncryptionSchema.parse({ keyId: 'exec-test-key', key: { env: 'TEST_EXEC_WRONG_KEY' } }) } };
    await assert.rejects(run(activities.drillExecDump, { component: sqlite(), store: wrong, artifact }), (error: Error) => {
      assert.equal(error.name, 'EncryptionKeyMismatch');
      assert.match(error.message, /^b2\/notes\.sql: the key "exec-test-key" cannot decrypt/);
      return true;
    });

    // Ciphertext cut short is the backup's fault: the drill fails.
    await writeFile(store.localPath('b2/notes.sql'), stored.subarray(0, stored.length - 100));
    const cut = await run(activities.drillExecDump, { component: sqlite(), store: encrypted, artifact });
    assert.equal(cut[0]!.outcome, 'failed');
    assert.match(cut[0]!.detail, /b2\/notes\.sql: .*(truncated|fails authentication)/);
    assert.equal(cut[0]!.artifact, 'notes');
  });

  test('a command that exits non-zero fails naming the component and its stderr tail, and leaves no object', async () => {
    const encryption = { clientSide: clientSideEncryptionSchema.parse({ keyId: 'exec-test-key', key: { env: 'TEST_EXEC_KEY' } }) };
    for (const [key, withEncryption] of [['b3/broken.bin', undefined], ['b4/broken.bin', encryption]] as const) {
      const broken = component({
        name: 'broken',
        run: { host: { argv: ['sh', '-c', 'head -c 300000 /dev/urandom; echo "Error: database is locked (/data/app.db)" >&2; exit 3'] } },
      });
      await assert.rejects(run(activities.execDump, { component: broken, store: withEncryption ? { ...storeConfig, encryption: withEncryption } : storeConfig, key }), (error: Error) => {
        assert.match(error.message, /exec dump broken \(in the worker host\) failed \(exit code 3\): Error: database is locked \(\/data\/app\.db\)/);
        return true;
      });
      assert.equal(await store.exists(key), false);
      assert.deepEqual(await store.listUnfinishedUploads(key.split('/')[0]!), []);
    }
  });

  test('a secret by env reference reaches the command, never its argv or the manifest', async () => {
    const token = process.env.TEST_EXEC_TOKEN!;
    const c = component({ name: 'tokened', run: { host: { argv: ['sh', '-c', 'echo "token=$DUMP_TOKEN"; tr "\\0" "\\n" < /proc/$$/cmdline'] } }, env: { DUMP_TOKEN: { env: 'TEST_EXEC_TOKEN' } } });
    const artifact = await run(activities.execDump, { component: c, store: storeConfig, key: 'b5/tokened.txt' });
    const output = await readFile(store.localPath('b5/tokened.txt'), 'utf8');
    const [first, ...cmdline] = output.split('\n');
    assert.equal(first, `token=${token}`);
    assert.ok(!cmdline.join(' ').includes(token));
    assert.ok(!JSON.stringify(artifact).includes(token));
    const missing = component({ name: 'tokened', run: { host: { argv: ['true'] } }, env: { DUMP_TOKEN: { env: 'TEST_EXEC_NOT_SET' } } });
    await assert.rejects(run(activities.execDump, { component: missing, store: storeConfig, key: 'b5/x' }), /exec dump tokened: DUMP_TOKEN: environment variable TEST_EXEC_NOT_SET is not set/);
  });

  test('cancellation kills the command and stores nothing', async () => {
    const pidFile = join(dir.path, 'sleeper.pid');
    const c = component({ name: 'slow', run: { host: { argv: ['sh', '-c', `echo started; echo $$ > ${pidFile}; exec sleep 60`] } } });
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    const running = runIn(env, activities.execDump, { component: c, store: storeConfig, key: 'b6/slow.bin' });
    let pid = 0;
    for (let i = 0; i < 100 && !pid; i++) {
      await sleep(50);
      pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    }
    assert.ok(pid > 0);
    const started = Date.now();
    env.cancel();
    await assert.rejects(running);
    assert.ok(Date.now() - started < 8_000);
    await sleep(100);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    assert.equal(await store.exists('b6/slow.bin'), false);
  });

  describe('Docker', () => {
    let image: string;
    const volume = `ragops-test-execdump-${randomBytes(4).toString('hex')}`;
    const container = `ragops-test-execdump-${randomBytes(4).toString('hex')}`;
    // The same figure where the dump runs (the volume at /source) and in the drill's scratch directory.
    const TREE = 'cd "$1" && echo "files $(find . -type f | wc -l) bytes $(find . -type f -exec cat {} + | wc -c)"';

    before(async () => {
      image = (await ensureTestImages()).base;
      await execa('docker', ['volume', 'create', volume]);
      await execa('docker', [
        'run', '--rm', '--network', 'none', '-v', `${volume}:/source`, image, 'sh', '-c',
        'mkdir -p /source/docs/2026 && for i in 1 2 3 4 5 6 7 8 9 10; do echo "document $i" > /source/docs/2026/doc-$i.txt; done && head -c 1048576 /dev/urandom > /source/blob.bin && : > /source/empty',
      ]);
    });
    after(async () => {
      await execa('docker', ['rm', '-f', container], { reject: false });
      await execa('docker', ['volume', 'rm', '-f', volume], { reject: false });
    });

    test('a volume tarred through a throwaway container; the drill untars it and compares file count and bytes', async () => {
      const c = component({
        name: 'uploads',
        extension: '.tar',
        run: { volume: { name: volume, image } },
        drill: {
          restore: ['tar', 'x', '-C', '{scratch}'],
          checks: [{ name: 'tree', argv: ['sh', '-c', TREE, 'tree', '{scratch}'], figure: ['sh', '-c', TREE, 'tree', '/source'] }],
        },
      });
      const artifact = await run(activities.execDump, { component: c, store: storeConfig, key: 'b7/uploads.tar' });
      assert.equal(artifact.figures.tree, `files 12 bytes ${10 * 11 + 1 + 1048576}`);
      const listing = await execa('tar', ['t', '-f', store.localPath('b7/uploads.tar')]);
      assert.match(listing.stdout, /\.\/docs\/2026\/doc-10\.txt/);
      const checks = await run(activities.drillExecDump, { component: c, store: storeConfig, artifact });
      assert.deepEqual(checks.map((check) => [check.name, check.outcome]), [['restore', 'passed'], ['tree', 'passed']], JSON.stringify(checks, null, 2));
    });

    test('a volume that does not exist fails at once, and is not created', async () => {
      const missing = `${volume}-missing`;
      const c = component({ name: 'uploads', run: { volume: { name: missing, image } } });
      await assert.rejects(run(activities.execDump, { component: c, store: storeConfig, key: 'b9/uploads.tar' }), (error: Error & { nonRetryable?: boolean }) => {
        assert.match(error.message, new RegExp(`exec dump uploads: the Docker volume "${missing}" does not exist`));
        assert.equal(error.nonRetryable, true);
        return true;
      });
      assert.equal((await execa('docker', ['volume', 'inspect', missing], { reject: false })).exitCode, 1);
      assert.equal(await store.exists('b9/uploads.tar'), false);
    });

    test('docker exec in a running container, a secret passed by name', async () => {
      await execa('docker', ['run', '-d', '--rm', '--name', container, '--network', 'none', image, 'sleep', '300']);
      const c = component({ name: 'inside', run: { docker: { container, argv: ['sh', '-c', 'echo "token=$DUMP_TOKEN"; hostname'] } }, env: { DUMP_TOKEN: { env: 'TEST_EXEC_TOKEN' } } });
      const artifact = await run(activities.execDump, { component: c, store: storeConfig, key: 'b8/inside.txt' });
      assert.match(await readFile(store.localPath('b8/inside.txt'), 'utf8'), new RegExp(`^token=${process.env.TEST_EXEC_TOKEN}\n`));
      assert.ok(artifact.command.includes('DUMP_TOKEN'));
      assert.ok(!artifact.command.join(' ').includes(process.env.TEST_EXEC_TOKEN!));
    });
  });
});
