// Auth, TLS and faithful restore on a cluster of the test's own (scram-sha-256, TLS only):
// ragops connects as the database's owner, not as a superuser on trust auth.
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { appendFile, copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import { createActivities } from '../src/activities/index.js';
import { createPostgresStagingActivities } from '../src/activities/postgres/staging.js';
import { openSession } from '../src/activities/postgres/session.js';
import { majorVersionOf, requireToolVersion } from '../src/activities/postgres/errors.js';
import { roleStatementsOf } from '../src/activities/postgres/roles.js';
import { createDatabaseLike, settingAssignment, splitSettingList } from '../src/activities/postgres/databaseSettings.js';
import { parseStacksFile } from '../src/config/load.js';
import type { RestoreInput } from '../src/config/inputs.js';
import { manifestSchema } from '../src/config/manifest.js';
import { workflowsPath } from '../src/worker.js';
import type { RestoreReport } from '../src/workflows/restore.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { VerifyReport } from '../src/workflows/verifyBackup.js';
import { startPgCluster, type PgCluster } from './support/pgcluster.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));
const ownerPassword = `own-${randomBytes(10).toString('hex')}`;
const readerPassword = `rd-${randomBytes(10).toString('hex')}`;

/**
 * app_owner (may create databases) owns `shop`; app_reader may only read its table. shop has
 * its own statement_timeout and a list-valued search_path, an ICU collation (de-DE) over libc
 * C / C.UTF-8, and its own privileges: CONNECT revoked from PUBLIC, granted to app_reader
 * (TEMPORARY with grant option).
 */
async function seedRoles(cluster: PgCluster, roles: boolean): Promise<void> {
  const admin = await cluster.connect();
  try {
    if (roles) {
      await admin.query(`CREATE ROLE app_owner LOGIN CREATEDB PASSWORD '${ownerPassword}'`);
      await admin.query(`CREATE ROLE app_reader LOGIN PASSWORD '${readerPassword}'`);
    }
  } finally {
    await admin.end();
  }
}

async function seedShop(cluster: PgCluster): Promise<void> {
  const admin = await cluster.connect();
  await admin.query(`CREATE DATABASE shop OWNER app_owner TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'`);
  await admin.query(`ALTER DATABASE shop SET statement_timeout = '42s'`);
  await admin.query(`ALTER DATABASE shop SET search_path = "$user", app, "Odd ""Schema""", public`);
  await admin.query('REVOKE CONNECT ON DATABASE shop FROM PUBLIC');
  await admin.query('GRANT CONNECT ON DATABASE shop TO app_reader');
  await admin.query('GRANT TEMPORARY ON DATABASE shop TO app_reader WITH GRANT OPTION');
  await admin.end();
  const owner = await cluster.connect('shop', { user: 'app_owner', password: ownerPassword });
  await owner.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
  await owner.query('CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)');
  await owner.query(`INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 500) g`);
  await owner.query('GRANT USAGE ON SCHEMA public TO app_reader');
  await owner.query('GRANT SELECT ON orders TO app_reader');
  await owner.end();
}

describe('Postgres with scram-sha-256 over TLS, on a cluster of the test', () => {
  let cluster: PgCluster;
  let bare: PgCluster;
  let temporal: TestTemporal;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let worker: RunningWorker;
  const taskQueue = uniqueName('pg-tls');
  let stacksText: string;
  const target = (overrides: Record<string, unknown> = {}) => ({
    name: 'shop',
    host: '127.0.0.1',
    port: cluster.port,
    database: 'shop',
    user: 'app_owner',
    password: { env: 'TEST_PG_OWNER_PASSWORD' },
    sslmode: 'verify-full',
    sslrootcert: cluster.caFile,
    ...overrides,
  });

  before(async () => {
    [cluster, bare, temporal, store] = await Promise.all([startPgCluster(), startPgCluster(), startTestTemporal(), tempDir('pg-tls')]);
    await seedRoles(cluster, true);
    await seedShop(cluster);
    process.env.TEST_PG_OWNER_PASSWORD = ownerPassword;
    process.env.TEST_PG_WRONG_PASSWORD = 'not-the-password';
    process.env.TEST_PG_BARE_PASSWORD = bare.superuser.password;
    const stacks = {
      stacks: {
        tls: { postgres: [target()], store: { type: 'fs', path: store.path } },
        wrongpw: { postgres: [target({ password: { env: 'TEST_PG_WRONG_PASSWORD' } })], store: { type: 'fs', path: store.path } },
        // A second cluster that has none of the roles, where ragops connects as its superuser.
        bare: {
          postgres: [target({ port: bare.port, user: 'postgres', password: { env: 'TEST_PG_BARE_PASSWORD' }, sslrootcert: bare.caFile })],
          store: { type: 'fs', path: store.path },
        },
      },
    };
    stacksText = stringify(stacks);
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([temporal?.stop(), cluster?.stop(), bare?.stop(), store?.remove()]);
  });

  async function activityAttempts(workflowId: string, activityType: string): Promise<number[]> {
    const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId)));
    return events
      .filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)))
      .map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
  }

  test('the cluster takes only TLS with a password, and its certificate verifies against the CA', async () => {
    const client = await cluster.connect();
    const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(rows[0]?.ssl, true);
    await client.end();
    const plain = new pg.Client({ host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.superuser.password, database: 'postgres' });
    plain.on('error', () => undefined);
    await assert.rejects(plain.connect(), /no pg_hba.conf entry.*no encryption/);
  });

  test('sslmode as libpq: require encrypts without a CA, verify-ca/verify-full need one and check it, prefer falls back, disable is refused here', async () => {
    const base = { name: 'shop', host: '127.0.0.1', port: cluster.port, database: 'shop', user: 'app_owner', password: ownerPassword };
    const sslOf = async (connection: Parameters<typeof openSession>[0]) => {
      const client = await openSession(connection, 'ragops-test');
      try {
        return (await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]?.ssl;
      } finally {
        await client.end();
      }
    };
    assert.equal(await sslOf({ ...base, sslmode: 'require' }), true, 'require must not verify the self-signed chain');
    assert.equal(await sslOf({ ...base, sslmode: 'prefer' }), true);
    assert.equal(await sslOf({ ...base, sslmode: 'verify-ca', sslrootcert: cluster.caFile }), true);
    assert.equal(await sslOf({ ...base, sslmode: 'verify-full', sslrootcert: cluster.caFile }), true);
    assert.equal(await sslOf({ ...base, host: 'localhost', sslmode: 'verify-full', sslrootcert: cluster.caFile }), true);
    await assert.rejects(openSession({ ...base, sslmode: 'verify-full' }, 'ragops-test'), /set sslrootcert/);
    await assert.rejects(openSession({ ...base, sslmode: 'disable' }, 'ragops-test'), /no encryption/);
    await assert.rejects(openSession({ ...base, database: 'nope', sslmode: 'require' }, 'ragops-test'), (error: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.equal(error.type, 'UnknownDatabase');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /database "nope" does not exist; check the database name/);
      return true;
    });
    // Another CA: the chain does not verify, and no retry would change that.
    const other = await startPgCluster();
    try {
      await assert.rejects(openSession({ ...base, sslmode: 'verify-ca', sslrootcert: other.caFile }, 'ragops-test'), (error: Error & { nonRetryable?: boolean; type?: string }) => {
        assert.equal(error.type, 'TlsVerificationFailed');
        assert.equal(error.nonRetryable, true);
        return true;
      });
    } finally {
      await other.stop();
    }
  });

  let backup: BackupReport;
  test('backup as app_owner with a password from the environment, verify-full against the CA', async () => {
    const handle = await startBackup(temporal.client, { stack: 'tls' }, { taskQueue });
    backup = await handle.result();
    const dump = backup.artifacts.find((a) => a.component === 'postgres');
    assert.ok(dump && dump.size > 0);
    const history = JSON.stringify((await handle.fetchHistory()).events);
    assert.ok(!history.includes(ownerPassword), 'the password is in the history');
  });

  test('a wrong password fails the backup at once: non-retryable, one attempt, saying what to check', async () => {
    const handle = await startBackup(temporal.client, { stack: 'wrongpw' }, { taskQueue });
    const failure = await handle.result().then(() => assert.fail('the backup succeeded'), (error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError);
    const history = JSON.stringify((await handle.fetchHistory()).events);
    assert.match(history, /authentication failed/);
    assert.match(history, /AuthenticationFailed/);
    assert.deepEqual(await activityAttempts(handle.workflowId, 'dumpPostgres'), [1]);
  });

  async function restore(input: RestoreInput, queue = taskQueue): Promise<RestoreReport> {
    const handle = await temporal.client.workflow.start('restore', { taskQueue: queue, workflowId: uniqueName('restore'), args: [input] });
    return (await handle.result()) as RestoreReport;
  }

  /** Owner of the database and its table, app_reader's grant, the database's privileges, collation and own settings. */
  async function describeShop(on: PgCluster, database: string) {
    const client = await on.connect(database);
    try {
      const { rows } = await client.query<{ dbowner: string; tableowner: string; readable: boolean; config: string[] | null; encoding: string }>(`
        SELECT pg_get_userbyid(d.datdba) AS dbowner, pg_encoding_to_char(d.encoding) AS encoding,
               (SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'orders') AS tableowner,
               has_table_privilege('app_reader', 'public.orders', 'SELECT') AS readable,
               (SELECT setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS config,
               d.datacl::text[] AS acl, d.datcollate AS collate, d.datctype AS ctype, d.datlocprovider AS provider, d.daticulocale AS icu
        FROM pg_database d WHERE d.datname = current_database()`);
      return rows[0];
    } finally {
      await client.end();
    }
  }

  /** shop as seeded (see seedShop), as pg_database and pg_db_role_setting show it. */
  const asBackedUp = {
    dbowner: 'app_owner',
    encoding: 'UTF8',
    tableowner: 'app_owner',
    readable: true,
    config: ['statement_timeout=42s', 'search_path="$user", app, "Odd ""Schema""", public'],
    acl: ['=T/app_owner', 'app_owner=CTc/app_owner', 'app_reader=T*c/app_owner'],
    collate: 'C',
    ctype: 'C.UTF-8',
    provider: 'i',
    icu: 'de-DE',
  };

  test('the backup records the database settings and stores the roles beside the dump', async () => {
    const manifest = manifestSchema.parse(JSON.parse(await readFile(join(store.path, backup.manifestKey), 'utf8')));
    const dump = manifest.artifacts.find((a) => a.component === 'postgres');
    assert.ok(dump?.component === 'postgres');
    assert.deepEqual(await describeShop(cluster, 'shop'), asBackedUp);
    assert.deepEqual(dump.databaseSettings, {
      owner: 'app_owner',
      encoding: 'UTF8',
      collate: 'C',
      ctype: 'C.UTF-8',
      config: asBackedUp.config,
      localeProvider: 'icu',
      locale: 'de-DE',
      acl: [
        { grantee: null, grantor: 'app_owner', privileges: ['TEMPORARY'], grantable: [] },
        { grantee: 'app_owner', grantor: 'app_owner', privileges: ['CREATE', 'TEMPORARY', 'CONNECT'], grantable: [] },
        { grantee: 'app_reader', grantor: 'app_owner', privileges: ['TEMPORARY', 'CONNECT'], grantable: ['TEMPORARY'] },
      ],
    });
    assert.ok(dump.globals && 'sha256' in dump.globals, `globals skipped: ${JSON.stringify(dump.globals)}`);
    const globals = await readFile(join(store.path, dump.globals.key), 'utf8');
    assert.match(globals, /CREATE ROLE app_reader;/);
    assert.ok(!/SCRAM-SHA-256\$/.test(globals), 'password hashes were dumped');
  });

  test('restore into a new name: same owners, grants, privileges, collation and settings, and app_reader can read it', async () => {
    const report = await restore({ stack: 'tls', postgres: { shop: { database: 'shop_copy' } } });
    assert.deepEqual(report.postgres[0]?.notKept, []);
    assert.deepEqual(await describeShop(cluster, 'shop_copy'), await describeShop(cluster, 'shop'));
    assert.deepEqual(await describeShop(cluster, 'shop_copy'), asBackedUp);
    const reader = await cluster.connect('shop_copy', { user: 'app_reader', password: readerPassword });
    assert.equal((await reader.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]?.n, '500');
    assert.equal((await reader.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout, '42s');
    assert.equal((await reader.query<{ search_path: string }>('SHOW search_path')).rows[0]?.search_path, '"$user", app, "Odd ""Schema""", public');
    // de-DE orders letters alphabetically; libc C would put 'B' before 'a'.
    assert.equal((await reader.query<{ icu: boolean }>(`SELECT 'a' < 'B' AS icu`)).rows[0]?.icu, true);
    await reader.end();
    // CONNECT is app_reader's by grant, not PUBLIC's: a role without it is refused.
    const admin = await cluster.connect();
    await admin.query(`CREATE ROLE app_stranger LOGIN PASSWORD '${readerPassword}'`);
    await admin.end();
    await assert.rejects(cluster.connect('shop_copy', { user: 'app_stranger', password: readerPassword }), /permission denied for database "shop_copy"/);
  });

  test('`ragops restore run --roles` (roles: true) into a cluster without those roles creates them, then owners and grants as backed up', async () => {
    const cli = await execa(process.execPath, [RAGOPS, 'restore', 'run', '--stack', 'tls', '--target-stack', 'bare', '--roles', '--task-queue', taskQueue, '--wait', '--json'], {
      env: { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: 'default' },
      reject: false,
      all: true,
    });
    assert.equal(cli.exitCode, 0, cli.all);
    const printed = cli.stdout as string;
    const report = JSON.parse(printed.slice(printed.indexOf('{'))) as RestoreReport;
    assert.deepEqual(report.postgres[0]?.rolesCreated?.sort(), ['app_owner', 'app_reader']);
    assert.deepEqual(await describeShop(bare, 'shop'), asBackedUp);
    const admin = await bare.connect();
    const { rows } = await admin.query<{ rolname: string; rolcreatedb: boolean; rolpassword: string | null }>(
      "SELECT rolname, rolcreatedb, rolpassword FROM pg_authid WHERE rolname IN ('app_owner', 'app_reader') ORDER BY 1",
    );
    await admin.end();
    assert.deepEqual(rows, [
      { rolname: 'app_owner', rolcreatedb: true, rolpassword: null },
      { rolname: 'app_reader', rolcreatedb: false, rolpassword: null },
    ]);
  });

  test('a database made like a record: a grantee missing here and an older manifest said in notKept, a locale the server lacks refused at once, a record that leaves the restoring role no CONNECT refused', async () => {
    const admin = await bare.connect();
    const like = { owner: 'postgres', encoding: 'UTF8', collate: 'C', ctype: 'C.UTF-8', config: [] };
    const created = ['like_missing', 'like_older', 'like_locale', 'like_closed'];
    const aclOf = async (name: string) => (await admin.query<{ acl: string[] | null }>('SELECT datacl::text[] AS acl FROM pg_database WHERE datname = $1', [name])).rows[0]?.acl;
    try {
      const missing = await createDatabaseLike(admin, 'like_missing', {
        ...like,
        acl: [
          { grantee: null, grantor: 'postgres', privileges: ['CONNECT'], grantable: [] },
          { grantee: 'app_gone', grantor: 'postgres', privileges: ['CONNECT', 'TEMPORARY'], grantable: ['TEMPORARY'] },
        ],
      });
      assert.deepEqual(missing, ['database privilege app_gone=cT*/postgres: no role app_gone here (restore with "roles": true to create it)']);
      assert.deepEqual(await aclOf('like_missing'), ['=c/postgres']);
      assert.deepEqual(await createDatabaseLike(admin, 'like_older', like), [
        'database privileges: not recorded by this backup (taken before ragops recorded them): server defaults',
      ]);
      await assert.rejects(createDatabaseLike(admin, 'like_locale', { ...like, collate: 'xx_NOWHERE.UTF-8' }), (error: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(error.type, 'LocaleUnavailable');
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /LC_COLLATE xx_NOWHERE\.UTF-8.*install that locale on the database server/);
        return true;
      });
      await admin.query(`CREATE ROLE app_creator LOGIN CREATEDB PASSWORD '${readerPassword}'`);
      const creator = await bare.connect('postgres', { user: 'app_creator', password: readerPassword });
      try {
        await assert.rejects(createDatabaseLike(creator, 'like_closed', { ...like, owner: 'app_creator', acl: [] }), (error: Error & { type?: string }) => {
          assert.equal(error.type, 'InsufficientPrivilege');
          assert.match(error.message, /leave the restoring role no CONNECT on it/);
          return true;
        });
      } finally {
        await creator.end();
      }
    } finally {
      for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.query('DROP ROLE IF EXISTS app_creator');
      await admin.end();
    }
  });

  test('a fault between the two renames leaves the original in place and connectable; the report says rolled back', async () => {
    const faultQueue = uniqueName('pg-tls-fault');
    const connection = await NativeConnection.connect({ address: temporal.address });
    const faulty = await Worker.create({
      connection,
      taskQueue: faultQueue,
      workflowBundle: await bundleWorkflowCode({ workflowsPath, logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } }),
      activities: {
        ...createActivities({ loadStacks: async () => parseStacksFile(stacksText, 'test stacks'), temporalClient: async () => temporal.client }),
        ...createPostgresStagingActivities({
          betweenRenames: async () => {
            throw ApplicationFailure.nonRetryable('injected fault between the renames', 'InjectedFault');
          },
        }),
      },
    });
    const running = faulty.run();
    try {
      const before = await describeShop(cluster, 'shop');
      const failure = await restore({ stack: 'tls', postgres: { shop: { confirm: 'shop' } } }, faultQueue).then(
        () => assert.fail('the restore succeeded'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      assert.match((failure.cause as Error).message, /injected fault between the renames/);
      assert.match((failure.cause as Error).message, /postgres shop → shop: rolled back/);
      const reader = await cluster.connect('shop', { user: 'app_reader', password: readerPassword });
      assert.equal((await reader.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]?.n, '500');
      await reader.end();
      assert.deepEqual(await describeShop(cluster, 'shop'), before);
      const admin = await cluster.connect();
      const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ragops_%'");
      await admin.end();
      assert.deepEqual(rows, [], 'a staging or renamed-aside database was left behind');
    } finally {
      faulty.shutdown();
      await running;
      await connection.close();
    }
  });

  test('a stored dump that is not the one the manifest names is refused before the swap; the original stays', async () => {
    // Another backup's dump of the same database restores fine and counts the same: only its sha256 differs.
    const second = await (await startBackup(temporal.client, { stack: 'tls' }, { taskQueue })).result();
    const key = (report: BackupReport) => report.artifacts.find((a) => a.component === 'postgres')!.key;
    assert.notEqual(second.artifacts[0]?.sha256, backup.artifacts[0]?.sha256);
    await copyFile(join(store.path, key(second)), join(store.path, key(backup)));
    const before = await describeShop(cluster, 'shop');
    const handle = await temporal.client.workflow.start('restore', {
      taskQueue,
      workflowId: uniqueName('restore'),
      args: [{ stack: 'tls', backupId: backup.backupId, postgres: { shop: { confirm: 'shop' } } } satisfies RestoreInput],
    });
    const failure = await handle.result().then(() => assert.fail('the restore succeeded'), (error: unknown) => error);
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match((failure.cause as Error).message, /is not the one the manifest names.*nothing was swapped/);
    assert.match((failure.cause as Error).message, /postgres shop → shop: failed, original untouched/);
    assert.deepEqual(await describeShop(cluster, 'shop'), before);
  });

  test('checksum depth re-reads the roles file beside the dump: changed, the drill fails (ChecksumMismatch); gone, it fails too (StoreObjectMissing)', async () => {
    const taken = await (await startBackup(temporal.client, { stack: 'tls' }, { taskQueue })).result();
    const manifest = manifestSchema.parse(JSON.parse(await readFile(join(store.path, taken.manifestKey), 'utf8')));
    const dump = manifest.artifacts.find((a) => a.component === 'postgres');
    assert.ok(dump?.component === 'postgres' && dump.globals && 'key' in dump.globals);
    const globalsPath = join(store.path, dump.globals.key);
    const drill = async () => {
      const handle = await temporal.client.workflow.start('verifyBackup', {
        taskQueue,
        workflowId: uniqueName('verify'),
        args: [{ stack: 'tls', backupId: taken.backupId, depth: 'checksum' }],
      });
      return handle.result().then(
        (report) => ({ report: report as VerifyReport, message: undefined }),
        (error: unknown) => {
          assert.ok(error instanceof WorkflowFailedError, String(error));
          const cause = error.cause as Error & { type?: string; details?: unknown[] };
          assert.equal(cause.type, 'DrillFailed', cause.message);
          return { report: cause.details?.[0] as VerifyReport, message: cause.message };
        },
      );
    };

    const intact = await drill();
    assert.equal(intact.report.outcome, 'passed');
    assert.match(intact.report.checks[0]!.detail, /shop\.dump: \d+ bytes, sha256 matches the manifest; roles .*shop\.globals\.sql: \d+ bytes, sha256 matches the manifest/);

    await appendFile(globalsPath, 'CREATE ROLE intruder SUPERUSER;\n');
    const changed = await drill();
    assert.equal(changed.report.outcome, 'failed');
    assert.match(changed.message ?? '', /shop checksum: .*roles .*shop\.globals\.sql: expected \d+ bytes with sha256 [0-9a-f]{64}, found \d+ bytes/);
    assert.equal(changed.report.checks[0]!.figures.errorType, 'ChecksumMismatch');

    await rm(globalsPath);
    const gone = await drill();
    assert.equal(gone.report.outcome, 'failed');
    assert.match(gone.message ?? '', /shop checksum: .*roles .*shop\.globals\.sql is missing from the store/);
    assert.equal(gone.report.checks[0]!.figures.errorType, 'StoreObjectMissing');
  });
});

describe('Postgres helpers: tool versions and the roles of a globals script', () => {
  test('pg_dump older than the server is refused, non-retryable, saying what to install', () => {
    assert.equal(majorVersionOf('pg_dump (PostgreSQL) 15.5 (Debian 15.5-1.pgdg120+1)'), 15);
    assert.equal(majorVersionOf('pg_dump (PostgreSQL) 9.6.24'), 9.6);
    assert.equal(majorVersionOf('pg_dump (PostgreSQL) 17devel'), 17);
    assert.throws(() => requireToolVersion('pg_dump', 'pg_dump (PostgreSQL) 14.10', 15, 'the server db:5432'), (error: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.equal(error.type, 'ToolTooOld');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /pg_dump 14 is older than the server db:5432 \(15\); put pg_dump 15 or newer in \/usr\/lib\/postgresql\/15\/bin .* or first on its PATH/);
      return true;
    });
    requireToolVersion('pg_dump', 'pg_dump (PostgreSQL) 16.1', 15, 'the server');
  });

  test('database settings as pg_dump writes them back: list-valued ones name by name, others as one literal', () => {
    assert.deepEqual(splitSettingList('"$user", app, "Odd ""Schema""", public'), ['$user', 'app', 'Odd "Schema"', 'public']);
    assert.deepEqual(splitSettingList('  '), []);
    assert.equal(splitSettingList('"unterminated'), undefined);
    assert.equal(splitSettingList('a,,b'), undefined);
    const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
    assert.deepEqual(settingAssignment('search_path="$user", app, "Odd ""Schema""", public', literal), {
      name: 'search_path',
      sql: `search_path = '$user', 'app', 'Odd "Schema"', 'public'`,
    });
    assert.equal(settingAssignment('DateStyle=ISO, DMY', literal)?.sql, `DateStyle = 'ISO, DMY'`);
    assert.equal(settingAssignment("app.tenant=o'brien", literal)?.sql, `app.tenant = 'o''brien'`);
    assert.equal(settingAssignment('bad name=1', literal), undefined);
  });

  test('role statements: CREATE/ALTER per role, memberships without their grantor, nothing else', () => {
    const script = [
      'SET default_transaction_read_only = off;',
      'CREATE ROLE app_owner;',
      'ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS;',
      'CREATE ROLE "Mixed ""Case""";',
      'ALTER ROLE "Mixed ""Case""" SET search_path TO app;',
      'GRANT app_owner TO "Mixed ""Case""" GRANTED BY postgres;',
      "CREATE TABLESPACE t OWNER app_owner LOCATION '/x';",
    ].join('\n');
    const { creates, alters, grants } = roleStatementsOf(script);
    assert.deepEqual(creates.map((c) => c.role), ['app_owner', 'Mixed "Case"']);
    assert.deepEqual(alters.map((a) => a.role), ['app_owner', 'Mixed "Case"']);
    assert.deepEqual(grants, [{ role: 'Mixed "Case"', sql: 'GRANT app_owner TO "Mixed ""Case""";' }]);
  });
});
