// Client certificates and sslmode fallbacks on clusters of the test's own, the node-pg session
// and the libpq tools side by side: a role that logs in only with a certificate its CA signed
// (pg_hba `cert`), and a server with no TLS at all.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { chmod, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { pgDumpGlobalsCommand, type PgConnection } from '../src/activities/postgres/commands.js';
import { createPostgresDumpActivities } from '../src/activities/postgres/dump.js';
import { openSession } from '../src/activities/postgres/session.js';
import { keyFilePermissionProblem } from '../src/activities/postgres/tls.js';
import { CommandFailed, runCommand } from '../src/activities/runtime/exec.js';
import type { PostgresArtifact } from '../src/config/manifest.js';
import { postgresTargetSchema, type StoreConfig } from '../src/config/stacks/index.js';
import { startPgCluster, type ClientCertificate, type PgCluster } from './support/pgcluster.js';
import { tempDir } from './support/ragops.js';

type Failure = Error & { type?: string; nonRetryable?: boolean };

/** The session's TLS state and the client certificate the server saw. */
async function sessionTls(connection: PgConnection): Promise<{ ssl: boolean; clientDn: string | null; user: string }> {
  const client = await openSession(connection, 'ragops-test');
  try {
    const { rows } = await client.query<{ ssl: boolean; client_dn: string | null; user: string }>(
      'SELECT ssl, client_dn, current_user AS user FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return { ssl: rows[0]!.ssl, clientDn: rows[0]!.client_dn, user: rows[0]!.user };
  } finally {
    await client.end();
  }
}

/**
 * What the libpq tools make of the same connection: pg_dumpall --globals-only with the argv and
 * environment ragops gives it, less --database (pg_dumpall then prints libpq's own message).
 */
async function libpqTool(connection: PgConnection): Promise<{ ok: true } | { ok: false; stderr: string }> {
  const command = pgDumpGlobalsCommand(connection);
  try {
    const [tool, ...args] = command.argv;
    await runCommand({ ...command, argv: [tool, ...args.filter((arg) => !arg.startsWith('--database='))] });
    return { ok: true };
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error;
    return { ok: false, stderr: error.stderrTail };
  }
}

const dumpActivities = createPostgresDumpActivities();
async function dump(target: Record<string, unknown>, store: StoreConfig, key: string): Promise<PostgresArtifact> {
  return (await new MockActivityEnvironment().run(dumpActivities.dumpPostgres, { target: postgresTargetSchema.parse(target), store, key })) as PostgresArtifact;
}

async function refusal(attempt: Promise<unknown>): Promise<Failure> {
  return attempt.then(
    () => assert.fail('it connected'),
    (error: unknown) => error as Failure,
  );
}

describe('client certificates (pg_hba cert): the session and pg_dump both present them, and both refuse a key libpq would refuse', () => {
  let cluster: PgCluster;
  let other: PgCluster;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let cert: ClientCertificate;
  let base: PgConnection;

  before(async () => {
    [cluster, other, store] = await Promise.all([startPgCluster({ certRoles: ['app_cert'] }), startPgCluster(), tempDir('pg-auth')]);
    const admin = await cluster.connect();
    await admin.query('CREATE ROLE app_cert LOGIN');
    await admin.query('CREATE DATABASE certdb OWNER app_cert');
    await admin.end();
    const owner = await cluster.connect('certdb');
    await owner.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
    await owner.query("INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 100) g");
    await owner.query('ALTER TABLE notes OWNER TO app_cert');
    await owner.end();
    cert = await cluster.issueClientCert('app_cert');
    base = { name: 'certdb', host: '127.0.0.1', port: cluster.port, database: 'certdb', user: 'app_cert', sslmode: 'verify-full', sslrootcert: cluster.caFile };
  });
  after(async () => {
    await Promise.allSettled([cluster?.stop(), other?.stop(), store?.remove()]);
  });

  test('with the certificate: the session logs in as its CN, pg_dumpall and pg_dump too (a backup with no password at all)', async () => {
    const withCert = { ...base, sslcert: cert.certFile, sslkey: cert.keyFile };
    assert.deepEqual(await sessionTls(withCert), { ssl: true, clientDn: '/CN=app_cert', user: 'app_cert' });
    assert.deepEqual(await sessionTls({ ...withCert, sslmode: 'require', sslrootcert: undefined }), { ssl: true, clientDn: '/CN=app_cert', user: 'app_cert' });
    assert.deepEqual(await libpqTool(withCert), { ok: true });
    const artifact = await dump({ ...withCert, name: 'certdb' }, { type: 'fs', path: store.path }, 'auth/cert/certdb.dump');
    assert.ok(artifact.size > 0);
    assert.deepEqual(artifact.tables, { 'public.notes': 100 });
    assert.ok(artifact.globals && 'sha256' in artifact.globals, `pg_dumpall did not connect: ${JSON.stringify(artifact.globals)}`);
  });

  test('without it: refused at once, non-retryable, saying to check the client certificate; pg_dump is refused the same way', async () => {
    const failure = await refusal(openSession(base, 'ragops-test'));
    assert.equal(failure.type, 'AuthenticationFailed');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /connection requires a valid client certificate.*client certificate, sslcert\/sslkey/);
    const tool = await libpqTool(base);
    assert.ok(!tool.ok);
    assert.match(tool.stderr, /connection requires a valid client certificate/);
    const backup = await refusal(dump({ ...base }, { type: 'fs', path: store.path }, 'auth/nocert/certdb.dump'));
    assert.equal(backup.type, 'AuthenticationFailed');
  });

  test('a key readable beyond its owner is refused before connecting, by the rule libpq applies (checked against pg_dumpall)', async () => {
    const withCert = { ...base, sslcert: cert.certFile, sslkey: cert.keyFile };
    try {
      // Owned by root (the test's user): 0640 is libpq's limit, 0644 too open.
      await chmod(cert.keyFile, 0o640);
      assert.equal((await sessionTls(withCert)).clientDn, '/CN=app_cert');
      assert.deepEqual(await libpqTool(withCert), { ok: true });
      await chmod(cert.keyFile, 0o644);
      const failure = await refusal(openSession(withCert, 'ragops-test'));
      assert.equal(failure.type, 'TlsSettingsInvalid');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(`sslkey ${cert.keyFile} has mode 0644.*chmod 600`));
      const tool = await libpqTool(withCert);
      assert.ok(!tool.ok);
      assert.match(tool.stderr, /private key file ".*" has group or world access/);
      // Owned by anyone else: 0600 at most.
      const postgresUid = Number((await execa('id', ['-u', 'postgres'])).stdout);
      await chown(cert.keyFile, postgresUid, 0);
      await chmod(cert.keyFile, 0o640);
      assert.equal((await refusal(openSession(withCert, 'ragops-test'))).type, 'TlsSettingsInvalid');
      assert.match((await libpqTool(withCert) as { stderr: string }).stderr, /has group or world access/);
      await chmod(cert.keyFile, 0o600);
      assert.equal((await sessionTls(withCert)).clientDn, '/CN=app_cert');
    } finally {
      await chown(cert.keyFile, 0, 0);
      await chmod(cert.keyFile, 0o600);
    }
  });

  test('the key permission rule, case by case', () => {
    assert.equal(keyFilePermissionProblem({ uid: 1000, mode: 0o100600 }), undefined);
    assert.equal(keyFilePermissionProblem({ uid: 1000, mode: 0o100400 }), undefined);
    assert.match(keyFilePermissionProblem({ uid: 1000, mode: 0o100640 }) ?? '', /mode 0640/);
    assert.match(keyFilePermissionProblem({ uid: 1000, mode: 0o100604 }) ?? '', /mode 0604/);
    assert.equal(keyFilePermissionProblem({ uid: 0, mode: 0o100640 }), undefined);
    assert.match(keyFilePermissionProblem({ uid: 0, mode: 0o100660 }) ?? '', /mode 0660/);
    assert.match(keyFilePermissionProblem({ uid: 0, mode: 0o100644 }) ?? '', /mode 0644/);
  });

  test('a named certificate that is missing, a key that is not its own, an encrypted key: each said before connecting', async () => {
    const second = await cluster.issueClientCert('app_cert');
    const cases: Array<[Partial<PgConnection>, RegExp]> = [
      [{ sslcert: join(store.path, 'nope.crt'), sslkey: cert.keyFile }, /sslcert .*nope\.crt does not exist/],
      [{ sslcert: cert.certFile, sslkey: join(store.path, 'nope.key') }, /its private key is not: cannot read sslkey .*nope\.key \(ENOENT\)/],
      [{ sslcert: cert.certFile, sslkey: second.keyFile }, /is not the private key of sslcert .*CN=app_cert/],
    ];
    const encrypted = join(store.path, 'encrypted.key');
    await execa('openssl', ['pkey', '-in', cert.keyFile, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    await chmod(encrypted, 0o600);
    cases.push([{ sslcert: cert.certFile, sslkey: encrypted }, /is encrypted; ragops takes no passphrase/]);
    for (const [files, message] of cases) {
      const failure = await refusal(openSession({ ...base, ...files }, 'ragops-test'));
      assert.equal(failure.type, 'TlsSettingsInvalid', failure.message);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, message);
    }
  });

  test('prefer with a root certificate verifies the chain as libpq does: another CA fails TLS, the plain retry is refused, both said', async () => {
    const withOtherCa = { ...base, sslmode: 'prefer' as const, sslrootcert: other.caFile, sslcert: cert.certFile, sslkey: cert.keyFile };
    const failure = await refusal(openSession(withOtherCa, 'ragops-test'));
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /no encryption.*tried with TLS first: .*(self[- ]signed|unable to verify|certificate)/i);
    const tool = await libpqTool(withOtherCa);
    assert.ok(!tool.ok);
    assert.match(tool.stderr, /certificate verify failed[\s\S]*no encryption/);
    // The right CA: TLS, verified, with the client certificate.
    assert.equal((await sessionTls({ ...withOtherCa, sslrootcert: cluster.caFile })).clientDn, '/CN=app_cert');
  });
});

describe('sslmode against a server without TLS: prefer falls back to plain text, require fails clearly (session and pg_dump alike)', () => {
  let plain: PgCluster;
  let store: Awaited<ReturnType<typeof tempDir>>;
  let base: PgConnection;

  before(async () => {
    [plain, store] = await Promise.all([startPgCluster({ ssl: false }), tempDir('pg-plain')]);
    const admin = await plain.connect();
    await admin.query('CREATE TABLE t (id int)');
    await admin.query('INSERT INTO t VALUES (1), (2), (3)');
    await admin.end();
    base = { name: 'plain', host: '127.0.0.1', port: plain.port, database: 'postgres', user: 'postgres', password: plain.superuser.password };
  });
  after(async () => {
    await Promise.allSettled([plain?.stop(), store?.remove()]);
  });

  test('prefer, allow, disable and no sslmode connect unencrypted; so does pg_dump, and a backup with prefer completes', async () => {
    for (const sslmode of ['prefer', 'allow', 'disable', undefined] as const) {
      assert.equal((await sessionTls({ ...base, sslmode })).ssl, false, `sslmode ${sslmode}`);
      assert.deepEqual(await libpqTool({ ...base, sslmode }), { ok: true }, `pg_dumpall with sslmode ${sslmode}`);
    }
    process.env.TEST_PG_PLAIN_PASSWORD = plain.superuser.password;
    const target = { ...base, password: { env: 'TEST_PG_PLAIN_PASSWORD' }, sslmode: 'prefer' };
    const artifact = await dump(target, { type: 'fs', path: store.path }, 'plain/prefer/postgres.dump');
    assert.deepEqual(artifact.tables, { 'public.t': 3 });
  });

  test('require and verify-full fail at once, non-retryable (TlsUnavailable), saying what to change; pg_dump refuses too', async () => {
    for (const connection of [{ ...base, sslmode: 'require' as const }, { ...base, sslmode: 'verify-full' as const, sslrootcert: plain.caFile }]) {
      const failure = await refusal(openSession(connection, 'ragops-test'));
      assert.equal(failure.type, 'TlsUnavailable', failure.message);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /does not accept TLS connections.*set sslmode to prefer/);
      const tool = await libpqTool(connection);
      assert.ok(!tool.ok);
      assert.match(tool.stderr, /server does not support SSL, but SSL was required/);
    }
    process.env.TEST_PG_PLAIN_PASSWORD = plain.superuser.password;
    const backup = await refusal(dump({ ...base, password: { env: 'TEST_PG_PLAIN_PASSWORD' }, sslmode: 'require' }, { type: 'fs', path: store.path }, 'plain/require/postgres.dump'));
    assert.equal(backup.type, 'TlsUnavailable');
  });

  test('prefer with a wrong password: the plain retry decides (AuthenticationFailed), and the TLS try is named', async () => {
    const failure = await refusal(openSession({ ...base, password: 'not-it', sslmode: 'prefer' }, 'ragops-test'));
    assert.equal(failure.type, 'AuthenticationFailed');
    assert.match(failure.message, /password authentication failed.*tried with TLS first: The server does not support SSL/);
  });
});
