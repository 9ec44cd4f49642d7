import { ApplicationFailure } from '@temporalio/activity';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { PgConnection } from './commands.js';

export type SslMode = NonNullable<PgConnection['sslmode']>;

/** TLS settings no retry can fix (a missing CA, an unusable client certificate or key): said before connecting. */
function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'TlsSettingsInvalid');
}

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
    throw invalid(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/**
 * libpq's rule for a private key file (pg_dump refuses the connection otherwise): owned by root,
 * at most u=rw,g=r (0640); owned by anyone else, at most u=rw (0600). Undefined when it holds.
 */
export function keyFilePermissionProblem(file: { mode: number; uid: number }): string | undefined {
  const tooOpen = file.uid === 0 ? file.mode & 0o137 : file.mode & 0o077;
  if (!tooOpen) return undefined;
  const mode = (file.mode & 0o777).toString(8).padStart(4, '0');
  return `has mode ${mode}, readable or writable beyond its owner; libpq (pg_dump, pg_restore) refuses such a key: chmod 600 it (640 is allowed when root owns it)`;
}

export interface ClientCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * The client certificate and key the session presents, found as libpq finds them for pg_dump
 * (the stacks file's sslcert/sslkey, else the worker's PGSSLCERT/PGSSLKEY, else
 * ~/.postgresql/postgresql.crt and .key) and checked as libpq checks them, before connecting:
 * so the session and the tools never disagree, and a bad file fails at once, saying which.
 * None when no certificate is named and the default file does not exist (libpq goes on without
 * one). Unlike libpq, a certificate that is named but missing is an error, not silently skipped.
 */
export function clientCertificate(connection: Pick<PgConnection, 'sslcert' | 'sslkey'>): ClientCertificate | undefined {
  const namedCert = connection.sslcert ?? process.env.PGSSLCERT;
  const certFile = namedCert ?? join(homedir(), '.postgresql', 'postgresql.crt');
  if (!existsSync(certFile)) {
    if (namedCert === undefined) return undefined;
    throw invalid(`sslcert ${certFile} does not exist (libpq would connect without a client certificate): fix the path, or remove sslcert`);
  }
  const keyFile = connection.sslkey ?? process.env.PGSSLKEY ?? join(homedir(), '.postgresql', 'postgresql.key');
  let stats: Stats;
  try {
    stats = statSync(keyFile);
  } catch (error) {
    throw invalid(`sslcert ${certFile} is there but its private key is not: cannot read sslkey ${keyFile} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!stats.isFile()) throw invalid(`sslkey ${keyFile} is not a regular file`);
  const permissions = keyFilePermissionProblem(stats);
  if (permissions) throw invalid(`sslkey ${keyFile} ${permissions}`);
  const cert = readPem(certFile, 'sslcert');
  const key = readPem(keyFile, 'sslkey');
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key)) {
    throw invalid(`sslkey ${keyFile} is encrypted; ragops takes no passphrase (sslpassword): store it decrypted (openssl pkey -in it -out new.key) with mode 0600`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw invalid(`sslkey ${keyFile} holds no private key ragops can read: ${(error as Error).message}`);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw invalid(`sslcert ${certFile} holds no certificate ragops can read: ${(error as Error).message}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw invalid(`sslkey ${keyFile} is not the private key of sslcert ${certFile} (${certificate.subject.replace(/\n/g, ', ')})`);
  return { certFile, keyFile, cert, key };
}

/**
 * node-pg's `ssl` for a libpq sslmode, for the first try, and the other way to try if that one
 * is refused: `prefer` tries TLS, then plain; `allow` plain, then TLS. As libpq, every mode that
 * tries TLS verifies the chain when a root certificate is there (require/prefer/allow then act
 * as verify-ca), and checks nothing without one; verify-ca/verify-full need one, and
 * verify-full also checks the host name against the certificate. The client certificate, when
 * there is one (see clientCertificate), goes with every TLS try.
 */
export function nodePgSsl(connection: PgConnection): { ssl: false | ConnectionOptions; fallback?: false | ConnectionOptions } {
  const mode: SslMode = connection.sslmode ?? 'prefer';
  if (mode === 'disable') return { ssl: false };
  const client = clientCertificate(connection);
  const clientPair = client ? { cert: client.cert, key: client.key } : {};
  const rootCert = rootCertFile(connection);
  if (!rootCert && (mode === 'verify-ca' || mode === 'verify-full')) {
    throw invalid(`sslmode ${mode} needs the CA that signed the server's certificate: set sslrootcert to its file`);
  }
  const host = connection.host;
  const tls: ConnectionOptions = rootCert
    ? {
        ...clientPair,
        ca: readPem(rootCert, 'sslrootcert'),
        rejectUnauthorized: true,
        // node-pg gives TLS no server name for an IP address, so the check names the host itself.
        checkServerIdentity: mode === 'verify-full' ? (_name, cert) => checkServerIdentity(host, cert) : () => undefined,
      }
    : { ...clientPair, rejectUnauthorized: false };
  if (mode === 'allow') return { ssl: false, fallback: tls };
  if (mode === 'prefer') return { ssl: tls, fallback: false };
  return { ssl: tls };
}

/**
 * When the other way was refused too (prefer/allow): the second refusal, which decides what
 * kind of failure it is, saying how the first try went, as libpq reports both.
 */
export function bothRefused(first: unknown, second: unknown, firstWasTls: boolean): Error {
  const combined = new Error(`${(second as Error).message} (tried ${firstWasTls ? 'with TLS' : 'without TLS'} first: ${(first as Error).message})`);
  return Object.assign(combined, { code: (second as { code?: string }).code });
}
