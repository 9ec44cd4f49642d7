import type { PostgresTarget } from '../../config/stacks/index.js';
import type { CommandSpec } from '../runtime/exec.js';

export interface PgConnection extends Pick<PostgresTarget, 'name' | 'host' | 'port' | 'database' | 'user' | 'sslmode' | 'sslrootcert' | 'sslcert' | 'sslkey'> {
  password?: string;
}

function binary(binDir: string | undefined, name: string): string {
  return binDir ? `${binDir.replace(/\/$/, '')}/${name}` : name;
}

/** libpq settings travel by environment, so a password is never an argument. */
export function libpqEnv(connection: PgConnection, applicationName: string): Record<string, string | undefined> {
  return {
    PGPASSWORD: connection.password,
    PGSSLMODE: connection.sslmode,
    // The stacks file's paths win over the worker's PGSSL* variables (the spec's env is applied last).
    PGSSLROOTCERT: connection.sslrootcert,
    PGSSLCERT: connection.sslcert,
    PGSSLKEY: connection.sslkey,
    PGAPPNAME: applicationName,
    PGCONNECT_TIMEOUT: '10',
  };
}

/**
 * Paths of certificates the operator set up for the worker (libpq reads them from the
 * environment); the connection itself comes from the spec, never from PGHOST/PGPASSFILE/PGSERVICE.
 */
export const LIBPQ_INHERITED_ENV = ['PGSSLROOTCERT', 'PGSSLCRL', 'PGSSLCERT', 'PGSSLKEY'] as const;

function connectionArgs(connection: PgConnection): string[] {
  return [`--host=${connection.host}`, `--port=${connection.port}`, `--username=${connection.user}`, '--no-password'];
}

/** `pg_dump -Fc` of one database as of an exported snapshot, to stdout. */
export function pgDumpCommand(connection: PgConnection, snapshotId: string, binDir?: string): CommandSpec {
  if (!/^[0-9A-F]+-[0-9A-F]+-[0-9]+$/i.test(snapshotId)) throw new Error(`not a snapshot id: ${snapshotId}`);
  return {
    argv: [
      binary(binDir, 'pg_dump'),
      '--format=custom',
      `--snapshot=${snapshotId}`,
      ...connectionArgs(connection),
      `--dbname=${connection.database}`,
    ],
    env: libpqEnv(connection, 'ragops-backup'),
    inheritEnv: LIBPQ_INHERITED_ENV,
    purpose: `pg_dump of ${connection.name} (database ${connection.database} on ${connection.host}:${connection.port})`,
  };
}

/** The cluster's roles and grants as SQL, without password hashes, to stdout. */
export function pgDumpGlobalsCommand(connection: PgConnection, binDir?: string): CommandSpec {
  return {
    argv: [binary(binDir, 'pg_dumpall'), '--globals-only', '--no-role-passwords', ...connectionArgs(connection), `--database=${connection.database}`],
    env: libpqEnv(connection, 'ragops-backup'),
    inheritEnv: LIBPQ_INHERITED_ENV,
    purpose: `pg_dumpall --globals-only of ${connection.name} (${connection.host}:${connection.port})`,
  };
}

export function pgToolVersionCommand(tool: 'pg_dump' | 'pg_restore', binDir?: string): CommandSpec {
  return { argv: [binary(binDir, tool), '--version'], purpose: `${tool} --version` };
}

/**
 * `pg_restore` into an existing database: from `file` with parallel jobs, or from stdin
 * (single job) when the dump is streamed from the store. A restore keeps owners and grants;
 * a drill (`keepOwnership` false) restores as its own role, which may lack the original roles.
 */
export function pgRestoreCommand(
  connection: PgConnection,
  source: { file: string; jobs: number } | 'stdin',
  binDir?: string,
  keepOwnership = false,
): CommandSpec {
  const input = source === 'stdin' ? [] : [`--jobs=${source.jobs}`, source.file];
  return {
    argv: [
      binary(binDir, 'pg_restore'),
      '--exit-on-error',
      ...(keepOwnership ? [] : ['--no-owner', '--no-privileges']),
      ...connectionArgs(connection),
      `--dbname=${connection.database}`,
      ...input,
    ],
    env: libpqEnv(connection, 'ragops-restore'),
    inheritEnv: LIBPQ_INHERITED_ENV,
    purpose: `pg_restore into ${connection.database} on ${connection.host}:${connection.port}`,
  };
}
