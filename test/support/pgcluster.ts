// A PostgreSQL 15 cluster of the test's own: initdb as the `postgres` OS user (initdb refuses
// root), scram-sha-256 over TLS only, a self-signed CA and a server certificate for
// localhost/127.0.0.1, on a free loopback port. stop() shuts it down and removes every file.
// Options: `ssl: false` (a server without TLS, scram-sha-256 over plain TCP) and `certRoles`
// (roles that log in with a client certificate the CA signed, pg_hba `cert`).
import { execa } from 'execa';
import { appendFile, chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { findFreePort } from '../../src/client/dev/devserver.js';

export interface PgClusterOptions {
  /** false: `ssl = off` and plain `host … scram-sha-256` lines, so nothing can connect over TLS. Default true. */
  ssl?: boolean;
  /** Roles that log in only with a client certificate whose CN is the role (pg_hba `hostssl … cert`), no password. */
  certRoles?: string[];
  /** More postgresql.conf lines (e.g. archive_mode, archive_command), given where the cluster lives before it starts. */
  extraSettings?: (where: { dataDir: string; socketDir: string; port: number }) => string[] | Promise<string[]>;
}

export interface ClientCertificate {
  certFile: string;
  /** Mode 0600, owned by the test's user: as libpq wants it. */
  keyFile: string;
}

export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  /** Whether the server accepts TLS (then only TLS) or not at all. */
  ssl: boolean;
  /** The superuser `postgres` and its password (scram-sha-256, over TLS only). */
  superuser: { user: 'postgres'; password: string };
  /** The CA that signed the server certificate: what `sslrootcert` points at. */
  caFile: string;
  /** The data directory (owned by the `postgres` OS user) and the Unix socket directory. */
  dataDir: string;
  socketDir: string;
  /** A superuser session (verify-full against the CA) on `database`; the caller ends it. */
  connect(database?: string, as?: { user: string; password: string }): Promise<pg.Client>;
  /** A client certificate for CN `user` signed by this cluster's CA, with its key, in the cluster's directory. */
  issueClientCert(user: string): Promise<ClientCertificate>;
  stop(): Promise<void>;
}

async function serverBinDir(): Promise<string> {
  try {
    return (await execa('pg_config', ['--bindir'])).stdout.trim();
  } catch {
    return '/usr/lib/postgresql/15/bin';
  }
}


async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([execa('id', ['-u', 'postgres']), execa('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

const asPostgres = (argv: string[]) => execa('runuser', ['-u', 'postgres', '--', ...argv]);

/** A CA, and a server certificate it signed for CN localhost with SANs localhost and 127.0.0.1. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string) => join(dir, name);
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ragops test CA',
    '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  const server = await signCertificate(dir, 'server', 'localhost', 'subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = CA:FALSE\n');
  return { ca: file('ca.crt'), ...server };
}

/** A key and a certificate for CN `commonName` signed by the CA in `dir` (ca.crt, ca.key). */
async function signCertificate(dir: string, name: string, commonName: string, extensions: string): Promise<{ cert: string; key: string }> {
  const file = (suffix: string) => join(dir, `${name}.${suffix}`);
  await execa('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`, '-keyout', file('key'), '-out', file('csr')]);
  await writeFile(file('ext'), extensions);
  await execa('openssl', ['x509', '-req', '-in', file('csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', file('ext'), '-out', file('crt')]);
  return { cert: file('crt'), key: file('key') };
}

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const ssl = options.ssl ?? true;
  const certRoles = options.certRoles ?? [];
  for (const role of certRoles) if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new Error(`not a plain role name: ${role}`);
  const bin = await serverBinDir();
  const root = await mkdtemp(join(tmpdir(), 'ragops-pgcluster-'));
  const data = join(root, 'data');
  const { uid, gid } = await postgresIds();
  await chmod(root, 0o755);
  await chown(root, uid, gid);
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const port = await findFreePort();
  let started = false;
  const stop = async () => {
    if (started) await asPostgres([join(bin, 'pg_ctl'), '-D', data, 'stop', '-m', 'fast', '-w']).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const tls = await makeCertificates(root);
    await chown(tls.key, uid, gid);
    await chmod(tls.key, 0o600);
    await chmod(tls.ca, 0o644);
    await chmod(tls.cert, 0o644);
    const pwfile = join(root, 'pwfile');
    await writeFile(pwfile, `${password}\n`);
    await chown(pwfile, uid, gid);
    await asPostgres([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8']);
    await rm(pwfile);
    await appendFile(join(data, 'postgresql.conf'), [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${root}'`,
      "password_encryption = 'scram-sha-256'",
      `ssl = ${ssl ? 'on' : 'off'}`,
      `ssl_cert_file = '${tls.cert}'`,
      `ssl_key_file = '${tls.key}'`,
      `ssl_ca_file = '${tls.ca}'`,
      'fsync = off',
      'shared_buffers = 32MB',
      ...(options.extraSettings ? await options.extraSettings({ dataDir: data, socketDir: root, port }) : []),
      '',
    ].join('\n'));
    // TLS with a password (or a client certificate, for certRoles) or nothing: a plain TCP
    // connection finds no line and is refused. Without ssl: plain TCP with a password.
    const hba = ssl
      ? [
          ...certRoles.map((role) => `hostssl all ${role} 127.0.0.1/32 cert`),
          'hostssl all all 127.0.0.1/32 scram-sha-256',
          'hostssl all all ::1/128 scram-sha-256',
        ]
      : ['host all all 127.0.0.1/32 scram-sha-256', 'host all all ::1/128 scram-sha-256'];
    await writeFile(join(data, 'pg_hba.conf'), ['local all all trust', ...hba, ''].join('\n'));
    await chown(join(data, 'pg_hba.conf'), uid, gid);
    await asPostgres([join(bin, 'pg_ctl'), '-D', data, '-l', join(root, 'server.log'), '-w', '-t', '60', 'start']);
    started = true;
  } catch (error) {
    await stop();
    throw error;
  }
  const ca = await readFile(join(root, 'ca.crt'), 'utf8');
  return {
    host: '127.0.0.1',
    port,
    ssl,
    superuser: { user: 'postgres', password },
    caFile: join(root, 'ca.crt'),
    dataDir: data,
    socketDir: root,
    async connect(database = 'postgres', as = { user: 'postgres', password }) {
      const client = new pg.Client({ host: '127.0.0.1', port, database, ...as, ssl: ssl ? { ca } : false });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
    async issueClientCert(user: string) {
      if (!/^[A-Za-z0-9_]+$/.test(user)) throw new Error(`not a plain role name: ${user}`);
      const { cert, key } = await signCertificate(root, `client-${user}-${randomBytes(4).toString('hex')}`, user, 'basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n');
      await chmod(key, 0o600);
      return { certFile: cert, keyFile: key };
    },
    stop,
  };
}
