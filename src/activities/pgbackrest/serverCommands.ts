import { safeAbsolutePath } from '../../config/stacks/index.js';
import type { CommandSpec } from '../runtime/exec.js';

// pg_ctl for the servers ragops starts from a restored data directory: a drill's scratch
// server and a restore's new cluster. Settings go into postgresql.auto.conf (serverSettings),
// not pg_ctl -o, which pg_ctl hands to a shell.

function path(value: string, what: string): string {
  if (!safeAbsolutePath.safeParse(value).success) throw new Error(`not a plain absolute ${what}: ${JSON.stringify(value)}`);
  return value;
}

/** The server binaries of a major version, Debian's layout unless the stack says where. */
export function serverBinDir(postgresVersion: string, binDir?: string): string {
  if (binDir) return path(binDir, 'binary directory');
  const major = /^(\d+)/.exec(postgresVersion)?.[1];
  if (!major) throw new Error(`cannot tell the PostgreSQL major version from ${JSON.stringify(postgresVersion)}`);
  return `/usr/lib/postgresql/${major}/bin`;
}

/** Starts the server without waiting: recovery can take long, and the caller watches it. */
export function pgCtlStartCommand(binDir: string, dataDir: string, logFile: string): CommandSpec {
  return { argv: [`${path(binDir, 'binary directory')}/pg_ctl`, '-D', path(dataDir, 'data directory'), '-l', path(logFile, 'log file'), '-W', 'start'], purpose: `start PostgreSQL in ${dataDir}` };
}

/** `fast` disconnects sessions and shuts down cleanly; `immediate` for a server that must just go. */
export function pgCtlStopCommand(binDir: string, dataDir: string, mode: 'fast' | 'immediate'): CommandSpec {
  return { argv: [`${path(binDir, 'binary directory')}/pg_ctl`, '-D', path(dataDir, 'data directory'), '-m', mode, '-w', '-t', '120', 'stop'], purpose: `stop PostgreSQL in ${dataDir}` };
}

const quoted = (value: string) => `'${value.replace(/'/g, "''")}'`;

export interface ServerSettings {
  port: number;
  /** '' for a Unix socket only (a drill's scratch server); absent: the restored configuration's. */
  listenAddresses?: string;
  socketDir: string;
  /** Our own pg_hba (a drill's), or the restored one. */
  hbaFile?: string;
}

/** The first line ragops appends to a restored postgresql.auto.conf: a drill's teardown removes only a directory that has it. */
export const RESTORED_SERVER_MARK = '# Added by ragops for the server it starts from this restored directory.';

/**
 * Lines appended to the restored postgresql.auto.conf (after pgBackRest's recovery settings):
 * the server listens where ragops says, archives nothing, and writes no pid file elsewhere.
 */
export function serverSettings(settings: ServerSettings): string {
  if (!Number.isInteger(settings.port) || settings.port < 1 || settings.port > 65535) throw new Error(`not a port: ${settings.port}`);
  return [
    '',
    RESTORED_SERVER_MARK,
    `port = ${settings.port}`,
    ...(settings.listenAddresses !== undefined ? [`listen_addresses = ${quoted(settings.listenAddresses)}`] : []),
    `unix_socket_directories = ${quoted(path(settings.socketDir, 'socket directory'))}`,
    ...(settings.hbaFile ? [`hba_file = ${quoted(path(settings.hbaFile, 'hba file'))}`] : []),
    "external_pid_file = ''",
    // A socket-only server takes no TLS connections; its certificate files may not even be readable.
    ...(settings.listenAddresses === '' ? ['ssl = off'] : []),
    '',
  ].join('\n');
}
