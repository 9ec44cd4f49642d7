import { pgbackrestStanzaName, safeAbsolutePath } from '../../config/stacks/index.js';
import type { PgbackrestBackupType } from '../../core/pgbackrest.js';
import type { CommandSpec } from '../runtime/exec.js';

/**
 * Which config and stanza a command works on. Every secret is in the config file, so the
 * argv (seen by `ps` and quoted in errors) and the environment carry none.
 */
export interface PgbackrestInvocation {
  /** The rendered pgbackrest.conf (see config.ts). */
  configFile: string;
  stanza: string;
  /** Default `pgbackrest` on PATH. */
  binary?: string;
}

function checked(invocation: PgbackrestInvocation): PgbackrestInvocation {
  // Also pasted into archive_command, which the server runs through a shell.
  if (!safeAbsolutePath.safeParse(invocation.configFile).success) throw new Error(`not a plain absolute config file path: ${JSON.stringify(invocation.configFile)}`);
  if (!pgbackrestStanzaName.safeParse(invocation.stanza).success) throw new Error(`not a stanza name: ${JSON.stringify(invocation.stanza)}`);
  if (invocation.binary !== undefined && !/^[A-Za-z0-9._/-]+$/.test(invocation.binary)) throw new Error(`not a plain binary path: ${JSON.stringify(invocation.binary)}`);
  return invocation;
}

function pgbackrest(invocation: PgbackrestInvocation, command: string, options: string[], purpose: string): CommandSpec {
  const { configFile, stanza, binary } = checked(invocation);
  return {
    argv: [binary ?? 'pgbackrest', `--config=${configFile}`, `--stanza=${stanza}`, ...options, command],
    purpose: `pgbackrest ${command} of stanza ${stanza}${purpose ? ` (${purpose})` : ''}`,
  };
}

export function stanzaCreateCommand(invocation: PgbackrestInvocation): CommandSpec {
  return pgbackrest(invocation, 'stanza-create', [], '');
}

/** Checks the configuration, the connection and that a WAL switch reaches the archive. */
export function checkCommand(invocation: PgbackrestInvocation): CommandSpec {
  return pgbackrest(invocation, 'check', [], '');
}

export interface BackupOptions {
  type: PgbackrestBackupType;
  /** An immediate checkpoint instead of waiting up to checkpoint_timeout for the next one. */
  startFast: boolean;
}

/**
 * A diff or incr without a prior full backup is made full by pgBackRest itself (its info
 * says so). Expiry is its own step (expireCommand), so it runs only after the new backup
 * was checked, and a bad backup never expires the good one before it.
 */
export function backupCommand(invocation: PgbackrestInvocation, options: BackupOptions): CommandSpec {
  return pgbackrest(invocation, 'backup', [`--type=${options.type}`, ...(options.startFast ? ['--start-fast'] : []), '--no-expire-auto'], `${options.type} backup`);
}

/** The stanza's backups and archive as JSON on stdout (parsed by info.ts). */
export function infoCommand(invocation: PgbackrestInvocation): CommandSpec {
  return pgbackrest(invocation, 'info', ['--output=json'], '');
}

/**
 * Reads back every file in the repository against its checksum: the summary on stdout, and
 * the files it flags in INFO lines on stderr (verify.ts reads both; the exit code says nothing).
 */
export function verifyCommand(invocation: PgbackrestInvocation): CommandSpec {
  return pgbackrest(invocation, 'verify', ['--output=text', '--verbose', '--log-level-console=off', '--log-level-stderr=info'], '');
}

/** Applies the config's repo1-retention-* to the repository. */
export function expireCommand(invocation: PgbackrestInvocation): CommandSpec {
  return pgbackrest(invocation, 'expire', [], '');
}

/** A time; the backup's end (`immediate`); or the end of the archived WAL (pgBackRest's `default`). */
export type RecoveryTarget = { type: 'time'; at: Date } | { type: 'immediate' } | { type: 'archive-end' };

/** "2026-12-06 13:45:01.123+00": what recovery_target_time takes, in UTC to the millisecond. */
export function recoveryTargetTime(at: Date): string {
  if (Number.isNaN(at.getTime())) throw new Error('the recovery target time is not a valid date');
  return `${at.toISOString().replace('T', ' ').replace(/Z$/, '')}+00`;
}

export interface RestoreOptions {
  /** A new, empty directory: ragops never restores over a data directory in use. */
  pgData: string;
  target: RecoveryTarget;
  /**
   * 'off' for scratch servers: a drill's server must never push its WAL (a new timeline)
   * into the archive of the cluster it was restored from. 'preserve' for a restore that
   * becomes the cluster.
   */
  archiving: 'off' | 'preserve';
  /** The backup to start from; default pgBackRest's choice for the target. */
  set?: string;
}

export function restoreCommand(invocation: PgbackrestInvocation, options: RestoreOptions): CommandSpec {
  if (!safeAbsolutePath.safeParse(options.pgData).success) throw new Error(`not a plain absolute data directory: ${JSON.stringify(options.pgData)}`);
  if (options.set !== undefined && !/^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$/.test(options.set)) throw new Error(`not a pgBackRest backup label: ${JSON.stringify(options.set)}`);
  // With a target, the server promotes once it is reached; to the archive's end it promotes by itself.
  const target =
    options.target.type === 'time'
      ? ['--type=time', `--target=${recoveryTargetTime(options.target.at)}`, '--target-action=promote']
      : options.target.type === 'immediate'
        ? ['--type=immediate', '--target-action=promote']
        : ['--type=default'];
  const to = options.target.type === 'time' ? `to ${options.target.at.toISOString()}` : options.target.type === 'immediate' ? 'to the end of the backup' : 'to the end of the archived WAL';
  return pgbackrest(
    invocation,
    'restore',
    [...target, `--pg1-path=${options.pgData}`, `--archive-mode=${options.archiving}`, ...(options.set ? [`--set=${options.set}`] : [])],
    `into ${options.pgData}, ${to}`,
  );
}

/** The archive_command for postgresql.conf: a shell string, which the checks above keep free of shell syntax. */
export function archivePushCommandText(invocation: PgbackrestInvocation): string {
  const { configFile, stanza, binary } = checked(invocation);
  return `${binary ?? 'pgbackrest'} --config=${configFile} --stanza=${stanza} archive-push %p`;
}

export type UserSwitch = 'runuser' | 'sudo';

/** Runs `spec` as another OS user: `runuser` (the worker is root) or `sudo -n` (never prompts). */
export function asOsUser(spec: CommandSpec, user: string, via: UserSwitch): CommandSpec {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new Error(`not an OS user name: ${JSON.stringify(user)}`);
  const prefix = via === 'runuser' ? ['runuser', '-u', user, '--'] : ['sudo', '-n', '-u', user, '--'];
  return { ...spec, argv: [prefix[0]!, ...prefix.slice(1), ...spec.argv] };
}

/** `expire` with the retention this run computed (protectedRetentionFull), which overrides the config's. */
export function expireWithRetentionCommand(invocation: PgbackrestInvocation, retentionFull: number): CommandSpec {
  if (!Number.isInteger(retentionFull) || retentionFull < 1) throw new Error(`not a retention count: ${retentionFull}`);
  return pgbackrest(invocation, 'expire', [`--repo1-retention-full=${retentionFull}`], `keep ${retentionFull} full backup(s)`);
}
