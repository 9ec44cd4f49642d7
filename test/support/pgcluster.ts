// A PostgreSQL 15 cluster of the test's own: initdb as the `postgres` OS user (initdb refuses
// root), scram-sha-256 over TLS only, a self-signed CA and a server certificate for
// localhost/127.0.0.1, on a free loopback port. stop() shuts it down and removes every file.
import { execa } from 'execa';
import { chmod, chown, mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  /** The superuser `postgres` and its password (scram-sha-256, over TLS only). */
  superuser: { user: 'postgres'; password: string };
  /** The CA that signed the server certificate: what `sslrootcert` points at. */
  caFile: string;
  /** A superuser session (verify-full against the CA) on `database`; the caller ends it. */
  connect(database?: string, as?: { user: string; password: string }): Promise<pg.Client>;
  stop(): Promise<void>;
}

async function serverBinDir(): Promise<string> {
  try {
    return (await execa('pg_config', ['--bindir'])).stdout.trim();
  } catch {
    return '/usr/lib/postgresql/15/bin';
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
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
  await execa('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr')]);
  await writeFile(file('server.ext'), 'subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = CA:FALSE\n');
  await execa('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', file('server.ext'), '-out', file('server.crt')]);
  return { ca: file('ca.crt'), cert: file('server.crt'), key: file('server.key') };
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = await serverBinDir();
  const root = await mkdtemp(join(tmpdir(), 'ragops-pgcluster-'));
  const data = join(root, 'data');
  const { uid, gid } = await postgresIds();
  await chmod(root, 0o755);
  await chown(root, uid, gid);
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
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
      'ssl = on',
      `ssl_cert_file = '${tls.cert}'`,
      `ssl_key_file = '${tls.key}'`,
      `ssl_ca_file = '${tls.ca}'`,
      'fsync = off',
      'shared_buffers = 32MB',
      '',
    ].join('\n'));
    // TLS with a password or nothing: a plain TCP connection finds no line and is refused.
    await writeFile(join(data, 'pg_hba.conf'), [
      'local all all trust',
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'hostssl all all ::1/128 scram-sha-256',
      '',
    ].join('\n'));
    await chown(join(data, 'pg_hba.conf'), uid, gid);
    await asPostgres([join(bin, 'pg_ctl'), '-D', data, '-l', join(root, 'server.log'), '-w', '-t', '60', 'start']);
    started = true;
  } catch (error) {
    await stop();
    throw error;
  }
  const { readFile } = await import('node:fs/promises');
  const ca = await readFile(join(root, 'ca.crt'), 'utf8');
  return {
    host: '127.0.0.1',
    port,
    superuser: { user: 'postgres', password },
    caFile: join(root, 'ca.crt'),
    async connect(database = 'postgres', as = { user: 'postgres', password }) {
      const client = new pg.Client({ host: '127.0.0.1', port, database, ...as, ssl: { ca } });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
    stop,
  };
}
