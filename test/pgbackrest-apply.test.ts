// `ragops pitr setup --apply` and `ragops pitr status` against PostgreSQL clusters of the
// test's own and the real pgBackRest, through the CLI as an operator runs it.
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { backupCommand, infoCommand } from '../src/activities/pgbackrest/commands.js';
import { parsePgbackrestInfo } from '../src/activities/pgbackrest/info.js';
import { archiveSettingStatements } from '../src/activities/pgbackrest/setup.js';
import type { PitrStatus } from '../src/activities/pgbackrest/status.js';
import { findFreePort } from '../src/client/dev/devserver.js';
import { startArchivingCluster, type ArchivingCluster } from './support/pgbackrest.js';
import { startPgCluster, type PgCluster } from './support/pgcluster.js';
import { tempDir } from './support/ragops.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const STANZA = 'ragops-apply';

function ragops(args: string[], cwd: string, env: Record<string, string>) {
  return execa(process.execPath, [RAGOPS, ...args], { cwd, env: { TEMPORAL_ADDRESS: '127.0.0.1:1', ...env }, reject: false, all: true, timeout: 240_000 });
}

async function writeStacks(dir: string, name: string, postgres: Record<string, unknown>): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, stringify({ stacks: { s: { store: { type: 'fs', path: './backups' }, postgres: [postgres] } } }));
  return file;
}

test('archive settings: archive_mode on unless it is always; a restart when archive_mode was off or wal_level minimal', () => {
  const command = 'pgbackrest --config=/etc/pgbackrest/x.conf --stanza=x archive-push %p';
  assert.deepEqual(archiveSettingStatements({ archiveMode: 'on', walLevel: 'replica' }, command), {
    statements: ["ALTER SYSTEM SET archive_mode = 'on'", `ALTER SYSTEM SET archive_command = '${command}'`],
    restartNeeded: false,
  });
  assert.deepEqual(archiveSettingStatements({ archiveMode: 'always', walLevel: 'logical' }, command).statements, [`ALTER SYSTEM SET archive_command = '${command}'`]);
  assert.equal(archiveSettingStatements({ archiveMode: 'off', walLevel: 'replica' }, command).restartNeeded, true);
  const minimal = archiveSettingStatements({ archiveMode: 'on', walLevel: 'minimal' }, "it's");
  assert.deepEqual(minimal, { statements: ["ALTER SYSTEM SET wal_level = 'replica'", "ALTER SYSTEM SET archive_mode = 'on'", "ALTER SYSTEM SET archive_command = 'it''s'"], restartNeeded: true });
});

describe('pitr setup --apply on a server that already archives, then pitr status', { timeout: 600_000 }, () => {
  let pitr: ArchivingCluster;
  let dir: { path: string; remove(): Promise<void> };
  let env: Record<string, string>;
  let installed: string;
  let stacksFile: string;
  let physical: Record<string, unknown>;
  before(async () => {
    pitr = await startArchivingCluster(STANZA);
    dir = await tempDir('pitr-apply');
    await chmod(dir.path, 0o755); // the server's archive_command, as postgres, reads the config inside
    installed = join(dir.path, 'etc', 'pgbackrest', 'app.conf');
    env = { PGBR_TEST_PASSWORD: pitr.cluster.superuser.password, [pitr.cipherPass.env]: pitr.cipherPass.value };
    physical = { stanza: STANZA, pgData: pitr.cluster.dataDir, socketPath: pitr.cluster.socketDir, repository: { type: 'posix', path: pitr.repositoryPath }, cipherPass: { env: pitr.cipherPass.env }, osUser: 'postgres' };
    stacksFile = await writeStacks(dir.path, 'ragops.yaml', { name: 'app', database: 'postgres', port: pitr.cluster.port, sslmode: 'disable', password: { env: 'PGBR_TEST_PASSWORD' }, physical });
  });
  after(async () => {
    await pitr?.stop();
    await dir?.remove();
  });

  const secretsIn = (text: string) => [pitr.cipherPass.value, pitr.cluster.superuser.password].filter((secret) => text.includes(secret));

  test('writes the config (0600, owned by postgres), creates the stanza, points archive_command at it, runs check; a second --apply succeeds too', async () => {
    const args = ['pitr', 'setup', '--stack', 's', '--database', 'app', '--pgbackrest-config', installed, '--apply', '--config', stacksFile];
    const result = await ragops(args, dir.path, env);
    assert.equal(result.exitCode, 0, result.all);
    const out = result.stdout as string;
    assert.match(out, new RegExp(`^- Write ${installed} \\(mode 0600, owned by postgres\\)\\n  written$`, 'm'));
    assert.match(out, /^- Create the stanza ragops-apply \(as postgres\)\n  done/m);
    assert.match(out, /^- Archive the WAL: .*\n  set and reloaded \(archive_mode on\)$/m);
    assert.match(out, /^- Check that a WAL switch reaches the repository \(as postgres\)\n  ok$/m);
    assert.match(out, /^Done: the server archives its WAL/m);
    assert.deepEqual(secretsIn(result.all ?? ''), [], 'no secret in the output');

    const file = await stat(installed);
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal(file.uid, Number((await execa('id', ['-u', 'postgres'])).stdout));
    assert.match(await readFile(installed, 'utf8'), new RegExp(`^repo1-cipher-pass=${pitr.cipherPass.value}$`, 'm'));
    const info = parsePgbackrestInfo((await pitr.run(infoCommand({ configFile: installed, stanza: STANZA }))).stdout, STANZA);
    assert.deepEqual(info.status, { code: 2, message: 'no valid backups' });
    const db = await pitr.cluster.connect();
    try {
      assert.equal((await db.query('SHOW archive_command')).rows[0].archive_command, `pgbackrest --config=${installed} --stanza=${STANZA} archive-push %p`);
    } finally {
      await db.end();
    }

    const again = await ragops(args, dir.path, env);
    assert.equal(again.exitCode, 0, again.all);
    assert.match(again.stdout as string, /^Done:/m);
    assert.equal((await stat(installed)).mode & 0o777, 0o600);
  });

  test('status: no backup yet, the last archived WAL and an RPO on it; then the full backup is listed', async () => {
    const json = await ragops(['pitr', 'status', '--stack', 's', '--json', '--config', stacksFile], dir.path, env);
    assert.equal(json.exitCode, 0, json.all);
    const [status] = JSON.parse(json.stdout as string) as PitrStatus[];
    assert.equal(status!.stanza, STANZA);
    assert.deepEqual(status!.stanzaInfo?.status, { code: 2, message: 'no valid backups' });
    assert.deepEqual(status!.stanzaInfo?.backups, []);
    assert.ok(status!.archiver?.lastArchivedWal && status!.archiver.archiveMode === 'on', JSON.stringify(status));
    assert.equal(status!.archiver?.failing, false);
    assert.equal(status!.rpo?.basis, 'archived-wal');
    assert.ok(status!.rpo!.seconds < 300, JSON.stringify(status!.rpo));

    await pitr.run(backupCommand({ configFile: installed, stanza: STANZA }, { type: 'full', startFast: true }));
    const text = await ragops(['pitr', 'status', '--stack', 's', '--database', 'app', '--config', stacksFile], dir.path, env);
    assert.equal(text.exitCode, 0, text.all);
    const out = text.stdout as string;
    assert.match(out, /^s\/app \(database postgres, stanza ragops-apply; repository posix .*\)$/m);
    assert.match(out, /^  repository: ok \(pgBackRest status 0\)$/m);
    assert.match(out, /^  backups: 1\n    [0-9]{8}-[0-9]{6}F +full  stopped 20/m);
    assert.match(out, /^  archived WAL: [0-9A-F]{24} to [0-9A-F]{24}$/m);
    assert.match(out, /^  server: archive_mode on; last archived [0-9A-F]{24}(\.[0-9A-F]{8}\.backup)? at 20/m);
    assert.match(out, /^  archive failures: 0$/m);
    assert.match(out, /^  achievable RPO: \d+ s \(/m);
    assert.deepEqual(secretsIn(text.all ?? ''), []);
  });

  test('status with the server unreachable: the repository side, and that the server could not be read (exit 1)', async () => {
    const closedPort = await findFreePort();
    const unreachable = await writeStacks(dir.path, 'unreachable.yaml', { name: 'app', database: 'postgres', port: closedPort, sslmode: 'disable', password: { env: 'PGBR_TEST_PASSWORD' }, physical });
    const result = await ragops(['pitr', 'status', '--stack', 's', '--config', unreachable], dir.path, env);
    assert.equal(result.exitCode, 1, result.all);
    const out = result.stdout as string;
    assert.match(out, /^  backups: 1$/m);
    assert.match(out, new RegExp(`^  server: COULD NOT BE READ \\(only the repository's side is shown\\): cannot connect to PostgreSQL app at 127\\.0\\.0\\.1:${closedPort}`, 'm'));
    assert.match(out, /^  achievable RPO: \d+ s \(the newest backup stopped at /m);
    assert.deepEqual(secretsIn(result.all ?? ''), []);
  });
});

describe('pitr setup --apply on a server with archive_mode off', { timeout: 600_000 }, () => {
  let cluster: PgCluster;
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    cluster = await startPgCluster({ ssl: false });
    dir = await tempDir('pitr-apply-off');
    await chmod(dir.path, 0o755);
  });
  after(async () => {
    await cluster?.stop();
    await dir?.remove();
  });

  test('says a restart is needed and skips check (exit 0); after the restart a second --apply checks', async () => {
    const installed = join(dir.path, 'pgbackrest.conf');
    const repository = join(dir.path, 'repo');
    const stacksFile = await writeStacks(dir.path, 'ragops.yaml', {
      name: 'app',
      database: 'postgres',
      port: cluster.port,
      sslmode: 'disable',
      password: { env: 'PGBR_TEST_PASSWORD' },
      physical: { stanza: STANZA, pgData: cluster.dataDir, socketPath: cluster.socketDir, repository: { type: 'posix', path: repository }, osUser: 'postgres' },
    });
    const env = { PGBR_TEST_PASSWORD: cluster.superuser.password };
    const args = ['pitr', 'setup', '--stack', 's', '--database', 'app', '--pgbackrest-config', installed, '--apply', '--config', stacksFile];
    const first = await ragops(args, dir.path, env);
    assert.equal(first.exitCode, 0, first.all);
    const out = first.stdout as string;
    assert.match(out, new RegExp(`^- Prepare the repository \\(posix ${repository}\\)\\n  created, owned by postgres$`, 'm'));
    assert.match(out, /^  set; archive_mode was off: THE SERVER MUST BE RESTARTED before anything is archived$/m);
    assert.match(out, /^- Check that a WAL switch reaches the repository: SKIPPED until the server is restarted$/m);
    assert.match(out, /^RESTART NEEDED: archive_mode takes effect only when the server starts/m);
    assert.match(out, new RegExp(`then run \`ragops pitr setup --stack s --database app --pgbackrest-config ${installed} --apply\` again`));
    assert.doesNotMatch(out, /^Done:/m);
    assert.ok(!(first.all ?? '').includes(cluster.superuser.password));

    await execa('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', cluster.dataDir, '-l', join(cluster.socketDir, 'server.log'), '-w', '-t', '60', 'restart']);
    const second = await ragops(args, dir.path, env);
    assert.equal(second.exitCode, 0, second.all);
    assert.match(second.stdout as string, /^  set and reloaded \(archive_mode on\)$/m);
    assert.match(second.stdout as string, /^- Check that a WAL switch reaches the repository \(as postgres\)\n  ok$/m);
    assert.match(second.stdout as string, /^Done:/m);
  });
});
