import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { PgConnection } from './commands.js';

export type SslMode = NonNullable<PgConnection['sslmode']>;

/**
 * As libpq finds it for pg_dump: the stacks file's path, else the worker's PGSSLROOTCERT (which
 * the tools inherit), else ~/.postgresql/root.crt if it exists.
 */
export function rootCertFile(connection: Pick<PgConnection, 'sslrootcert'>): string | undefined {
  const named = connection.sslrootcert ?? process.env.PGSSLROOTCERT;
  if (named) return named;
  const fallback = join(homedir(), '.postgresql', 'root.crt');
  return existsSync(fallback) ? fallback : undefined;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/**
 * node-pg's `ssl` for a libpq sslmode, for the first try (`plainFirst`: try without TLS first,
 * as `allow` does). `prefer`/`allow` fall back to the other way in openSession. libpq's
 * `require` checks nothing unless a root certificate is there, then it verifies the chain
 * (verify-ca); verify-full also checks the host name against the certificate.
 */
export function nodePgSsl(connection: PgConnection): { ssl: false | ConnectionOptions; fallback?: false | ConnectionOptions } {
  const mode: SslMode = connection.sslmode ?? 'prefer';
  if (mode === 'disable') return { ssl: false };
  const certFile = connection.sslcert ?? process.env.PGSSLCERT;
  const keyFile = connection.sslkey ?? process.env.PGSSLKEY;
  const clientPair = certFile && keyFile ? { cert: readPem(certFile, 'sslcert'), key: readPem(keyFile, 'sslkey') } : {};
  const unverified: ConnectionOptions = { ...clientPair, rejectUnauthorized: false };
  if (mode === 'allow') return { ssl: false, fallback: unverified };
  if (mode === 'prefer') return { ssl: unverified, fallback: false };
  const rootCert = rootCertFile(connection);
  if (mode === 'require' && !rootCert) return { ssl: unverified };
  if (!rootCert) {
    throw new Error(`sslmode ${mode} needs the CA that signed the server's certificate: set sslrootcert to its file`);
  }
  const ca = readPem(rootCert, 'sslrootcert');
  const host = connection.host;
  return {
    ssl: {
      ...clientPair,
      ca,
      rejectUnauthorized: true,
      // node-pg gives TLS no server name for an IP address, so the check names the host itself.
      checkServerIdentity: mode === 'verify-full' ? (_name, cert) => checkServerIdentity(host, cert) : () => undefined,
    },
  };
}
