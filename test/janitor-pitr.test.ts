// The janitor's sweep of what a crashed physical drill leaves: its scratch data directory,
// with its server still running (a real one, initdb'd as `postgres` into <dir>/data as drills lay it out), and the per-call
// pgBackRest config dirs. Only this test's names are looked at (others share the temp dir).
import { execa, type ResultPromise } from 'execa';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listPitrLeftovers, sweepPitrLeftovers } from '../src/activities/janitor/pitr.js';
import { findProcesses } from '../src/activities/runtime/processes.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { argvMentionsDir, orphanPitrDirs, PGBACKREST_CONFIG_DIR, pitrDirParts, postmasterPidOf } from '../src/core/janitor.js';

const BIN = '/usr/lib/postgresql/15/bin';
const tag = () => `t${randomBytes(8).toString('hex').slice(0, 7)}`;
const asPostgres = (argv: string[]) => execa('runuser', ['-u', 'postgres', '--', ...argv]);
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('janitor: physical drill leftovers', () => {
  test('names: only ragops-pitr-<tag>-<label> dirs of runs not running; config dirs by their mkdtemp shape', () => {
    assert.deepEqual(pitrDirParts('ragops-pitr-abcd1234-app'), { tag: 'abcd1234', label: 'app' });
    assert.deepEqual(pitrDirParts('ragops-pitr-abcd1234-my-db_2'), { tag: 'abcd1234', label: 'my-db_2' });
    assert.equal(pitrDirParts('ragops-pitr-abcd123-app'), undefined);
    assert.equal(pitrDirParts('ragops-pitr-abcd1234-'), undefined);
    assert.deepEqual(orphanPitrDirs(['ragops-pitr-abcd1234-app', 'ragops-pitr-running1-app', 'ragops-restore-x', 'pitr-abcd1234-app'], new Set(['running1'])), ['ragops-pitr-abcd1234-app']);
    assert.ok(PGBACKREST_CONFIG_DIR.test('ragops-pgbackrest-Ab12cD'));
    assert.ok(!PGBACKREST_CONFIG_DIR.test('ragops-pgbackrest-repo-Ab12cD'), 'a test repository is not a config dir');
    assert.ok(argvMentionsDir(['pgbackrest', '--config=/tmp/ragops-pgbackrest-Ab12cD/pgbackrest.conf', 'info'], '/tmp/ragops-pgbackrest-Ab12cD'));
    assert.ok(argvMentionsDir(['sh', '-c', 'pgbackrest --config=/tmp/ragops-pgbackrest-Ab12cD/pgbackrest.conf archive-get 1 "x"'], '/tmp/ragops-pgbackrest-Ab12cD'));
    assert.ok(!argvMentionsDir(['pgbackrest', '--config=/tmp/ragops-pgbackrest-Ab12cDE/pgbackrest.conf'], '/tmp/ragops-pgbackrest-Ab12cD'));
    assert.equal(postmasterPidOf('4242\n/var/lib/pg\n1700000000\n'), 4242);
    assert.equal(postmasterPidOf('\n'), undefined);
    assert.equal(postmasterPidOf('-1\n'), undefined);
  });

  describe('on this host', { timeout: 120_000 }, () => {
    const runningTag = tag();
    const orphanDir = join(tmpdir(), `ragops-pitr-${tag()}-app`);
    const staleDir = join(tmpdir(), `ragops-pitr-${tag()}-docs`);
    const keptDir = join(tmpdir(), `ragops-pitr-${runningTag}-app`);
    const configDirs: Record<'old' | 'used' | 'young', string> = { old: '', used: '', young: '' };
    const children: ResultPromise[] = [];
    let mine: Set<string>;
    let postmasterPid = 0;
    let straggler: ResultPromise;
    let bystander: ResultPromise;

    before(async () => {
      const [uid, gid] = (await Promise.all([execa('id', ['-u', 'postgres']), execa('id', ['-g', 'postgres'])])).map((r) => Number(r.stdout));
      // As a drill lays it out: the data directory, and the socket and log beside it.
      const dataDir = join(orphanDir, 'data');
      const runDir = join(orphanDir, 'run');
      await mkdir(orphanDir, { mode: 0o755 });
      for (const path of [dataDir, runDir]) {
        await mkdir(path, { mode: 0o700 });
        await chown(path, uid!, gid!);
      }
      await asPostgres([join(BIN, 'initdb'), '-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
      await appendFile(join(dataDir, 'postgresql.conf'), [`port = ${await findFreePort()}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${runDir}'`, 'fsync = off', 'shared_buffers = 16MB', ''].join('\n'));
      await asPostgres([join(BIN, 'pg_ctl'), '-D', dataDir, '-l', join(runDir, 'server.log'), '-w', '-t', '60', 'start']);
      postmasterPid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      // What a killed worker's `pgbackrest restore` into the directory would look like.
      straggler = execa(process.execPath, ['-e', 'setTimeout(() => {}, 300_000)', '--', `--pg1-path=${dataDir}`], { reject: false });
      children.push(straggler);

      // A killed server's postmaster.pid whose pid now belongs to another process: never killed.
      bystander = execa('sleep', ['300'], { reject: false });
      children.push(bystander);
      await mkdir(staleDir);
      await writeFile(join(staleDir, 'postmaster.pid'), `${bystander.pid}\n${staleDir}\n`);
      await writeFile(join(staleDir, 'PG_VERSION'), '15\n');
      await mkdir(keptDir);

      for (const kind of ['old', 'used', 'young'] as const) {
        configDirs[kind] = await mkdtemp(join(tmpdir(), 'ragops-pgbackrest-'));
        await writeFile(join(configDirs[kind], 'pgbackrest.conf'), 'repo1-cipher-pass=not-a-real-secret\n', { mode: 0o600 });
      }
      const anHourAgo = new Date(Date.now() - 3_600_000);
      for (const dir of [configDirs.old, configDirs.used]) await utimes(dir, anHourAgo, anHourAgo);
      children.push(execa(process.execPath, ['-e', 'setTimeout(() => {}, 300_000)', '--', `--config=${configDirs.used}/pgbackrest.conf`], { reject: false }));
      mine = new Set([orphanDir, staleDir, keptDir, ...Object.values(configDirs)]);
    });

    after(async () => {
      if (isAlive(postmasterPid)) await asPostgres([join(BIN, 'pg_ctl'), '-D', join(orphanDir, 'data'), 'stop', '-m', 'immediate', '-w']).catch(() => undefined);
      for (const child of children) child.kill('SIGKILL');
      await Promise.all([...(mine ?? [])].map((dir) => rm(dir, { recursive: true, force: true })));
    });

    test('stops the server a crashed drill left running and removes its dir, removes a stale dir without touching the pid it names, keeps a running drill\'s dir', async () => {
      assert.ok(isAlive(postmasterPid), 'the scratch server runs');
      const found = await listPitrLeftovers([tmpdir()], (path) => mine.has(path));
      assert.deepEqual(found.scratchDirs.sort(), [orphanDir, staleDir, keptDir].sort());
      assert.deepEqual(found.configDirs.sort(), Object.values(configDirs).sort());

      const sweep = await sweepPitrLeftovers(found, { tags: new Set([runningTag]), runs: 1 });

      assert.deepEqual(sweep.stoppedScratchServers, [orphanDir]);
      assert.deepEqual(sweep.removedPitrDirs.sort(), [orphanDir, staleDir].sort());
      assert.ok(!isAlive(postmasterPid), 'the postmaster is gone');
      assert.deepEqual(await findProcesses((argv) => argv.some((arg) => arg.includes(orphanDir))), []);
      assert.ok(!sweep.notes.some((note) => /was killed/.test(note)), `pg_ctl stopped it: ${sweep.notes.join('; ')}`);
      assert.ok(!isAlive(straggler.pid!), 'a process still working in the dir is killed');
      assert.ok(sweep.notes.some((note) => note.startsWith(`killed what still worked in ${orphanDir}: `) && note.includes(`(pid ${straggler.pid})`)), sweep.notes.join('; '));
      assert.ok(isAlive(bystander.pid!), 'the process a stale postmaster.pid names is not killed');
      const left = new Set(await readdir(tmpdir()));
      assert.ok(!left.has(orphanDir.split('/').pop()!) && !left.has(staleDir.split('/').pop()!));
      assert.ok(left.has(keptDir.split('/').pop()!), "a running drill's dir is kept");
      // While a drill runs, its server's restore_command may name a config no process shows.
      assert.deepEqual(sweep.removedPgbackrestConfigs, []);
      assert.ok(sweep.notes.some((note) => /3 pgBackRest config dir\(s\) kept: 1 drill or restore run/.test(note)), sweep.notes.join('; '));
    });

    test('with no drill running: removes an old config dir no process names, keeps one a process names and a young one', async () => {
      const found = await listPitrLeftovers([tmpdir()], (path) => mine.has(path));
      const sweep = await sweepPitrLeftovers(found, { tags: new Set([runningTag]), runs: 0 });
      assert.deepEqual(sweep.removedPgbackrestConfigs, [configDirs.old]);
      assert.deepEqual(sweep.notes, []);
      const left = new Set(await readdir(tmpdir()));
      assert.ok(!left.has(configDirs.old.split('/').pop()!));
      assert.ok(left.has(configDirs.used.split('/').pop()!) && left.has(configDirs.young.split('/').pop()!));
      assert.ok(left.has(keptDir.split('/').pop()!));
    });
  });
});
