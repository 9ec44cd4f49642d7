// Auth, TLS and faithful restore on a cluster of the test's own (scram-sha-256, TLS only):
// ragops connects as the database's owner, not as a superuser on trust auth.
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { stringify } from 'yaml';
import { startBackup } from '../src/client/api/runbooks.js';
import { openSession } from '../src/activities/postgres/session.js';
import type { BackupReport } from '../src/workflows/backup.js';
import { startPgCluster, type PgCluster } from './support/pgcluster.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { startTestTemporal, type TestTemporal } from './support/temporal.js';

const ownerPassword = `own-${randomBytes(10).toString('hex')}`;
const readerPassword = `rd-${randomBytes(10).toString('hex')}`;

/** app_owner (may create databases) owns `shop`; app_reader may only read its table; shop has its own statement_timeout. */
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
  await admin.query('CREATE DATABASE shop OWNER app_owner');
  await admin.query(`ALTER DATABASE shop SET statement_timeout = '42s'`);
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
  let temporal: TestTemporal;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let worker: RunningWorker;
  const taskQueue = uniqueName('pg-tls');
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
    [cluster, temporal, store] = await Promise.all([startPgCluster(), startTestTemporal(), tempDir('ragops-pg-tls-')]);
    await seedRoles(cluster, true);
    await seedShop(cluster);
    process.env.TEST_PG_OWNER_PASSWORD = ownerPassword;
    process.env.TEST_PG_WRONG_PASSWORD = 'not-the-password';
    const stacks = {
      stacks: {
        tls: { postgres: [target()], store: { type: 'fs', path: store.path } },
        wrongpw: { postgres: [target({ password: { env: 'TEST_PG_WRONG_PASSWORD' } })], store: { type: 'fs', path: store.path } },
      },
    };
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await Promise.allSettled([temporal?.stop(), cluster?.stop(), store?.remove()]);
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
});
