import { ApplicationFailure } from '@temporalio/activity';

/** TLS errors no retry can fix: the certificate does not verify against the configured CA or name. */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A connection error as the activity should raise it: failures that a retry repeats exactly
 * (wrong password, no such database, a certificate that does not verify) fail the step at once,
 * saying what to fix; anything else (server down, network) stays retryable.
 */
export function connectFailure(where: string, error: unknown): Error {
  const code = (error as { code?: string }).code;
  const cause = (error as Error).message;
  // Refused before connecting (TLS settings that cannot work): already says what to fix.
  if (error instanceof ApplicationFailure && error.nonRetryable) return ApplicationFailure.nonRetryable(`${where}: ${cause}`, error.type);
  if (code === '28P01' || code === '28000') {
    return ApplicationFailure.nonRetryable(
      `${where}: authentication failed (${cause}); check the user and its password reference (or its client certificate, sslcert/sslkey) in the stacks file, and pg_hba.conf on the server`,
      'AuthenticationFailed',
    );
  }
  if (/^The server does not support SSL/.test(cause)) {
    return ApplicationFailure.nonRetryable(
      `${where}: the server does not accept TLS connections, and the stacks file's sslmode requires TLS (${cause}); turn ssl on in the server, or set sslmode to prefer (or disable) to connect unencrypted`,
      'TlsUnavailable',
    );
  }
  if (code === '3D000') {
    return ApplicationFailure.nonRetryable(`${where}: ${cause}; check the database name in the stacks file`, 'UnknownDatabase');
  }
  if (code && CERTIFICATE_ERRORS.has(code)) {
    return ApplicationFailure.nonRetryable(
      `${where}: the server's TLS certificate does not verify (${cause}); check sslrootcert (the CA that signed it) and, for verify-full, that the certificate names the host`,
      'TlsVerificationFailed',
    );
  }
  return new Error(`${where}: ${cause}`);
}

/** "pg_dump (PostgreSQL) 15.5 (Debian 15.5-1)" → 15; "PostgreSQL 9.6.3" style lines → 9. */
export function majorVersionOf(versionLine: string): number | undefined {
  const match = /(\d+)(?:\.(\d+))?/.exec(versionLine.replace(/^[^)]*\)/, ''));
  if (!match) return undefined;
  const major = Number(match[1]);
  return major < 10 && match[2] ? Number(`${match[1]}.${match[2]}`) : major;
}

/** The tool must be at least the server's major version (pg_dump refuses otherwise, after connecting). */
export function requireToolVersion(tool: 'pg_dump' | 'pg_restore', toolVersionLine: string, serverMajor: number, against: string): void {
  const toolMajor = majorVersionOf(toolVersionLine);
  if (toolMajor !== undefined && toolMajor < serverMajor) {
    throw ApplicationFailure.nonRetryable(
      `${tool} ${toolMajor} is older than ${against} (${serverMajor}); put ${tool} ${serverMajor} or newer in /usr/lib/postgresql/${serverMajor}/bin (the worker picks the oldest major at or above the server's there) or first on its PATH`,
      'ToolTooOld',
    );
  }
}
