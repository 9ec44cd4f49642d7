import { describeSecretRef } from '../../config/secretRef.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { archivePushCommandText, checkCommand, stanzaCreateCommand, type PgbackrestInvocation } from './commands.js';
import { renderPgbackrestConfig, repositoryOf, type PhysicalPostgresTarget } from './config.js';
import type { CommandSpec } from '../runtime/exec.js';

/** Where the server's archive_command finds its config by default: it lives as long as archiving is on. */
export const defaultArchiveConfigFile = (stack: string, label: string) => `/etc/pgbackrest/ragops-${stack}-${label}.conf`;

export interface PitrSetupStep {
  title: string;
  lines: string[];
  /** The command the step runs, for a later `--apply`. */
  command?: CommandSpec;
}

/**
 * What an operator does once so that a target's cluster archives its WAL into the
 * repository: the config to install (secrets shown as where they come from, never their
 * values), stanza-create, archive_command, check.
 */
export function pitrSetupSteps(target: PhysicalPostgresTarget, store: StoreConfig, configFile: string, cwd: string): PitrSetupStep[] {
  const { physical } = target;
  const repository = repositoryOf(physical, store, cwd);
  const placeholder = (ref: Parameters<typeof describeSecretRef>[0]) => `<the value of ${describeSecretRef(ref)}>`;
  const config = renderPgbackrestConfig(target, repository, {
    cipherPass: physical.cipherPass ? placeholder(physical.cipherPass) : undefined,
    s3AccessKeyId: repository.type === 's3' ? placeholder(repository.accessKeyId) : undefined,
    s3SecretAccessKey: repository.type === 's3' ? placeholder(repository.secretAccessKey) : undefined,
  }).replace(/^# Rendered by ragops.*\n/, '');
  const invocation: PgbackrestInvocation = { configFile, stanza: physical.stanza };
  const stanzaCreate = stanzaCreateCommand(invocation);
  const check = checkCommand(invocation);
  const archiveCommand = archivePushCommandText(invocation);
  const where = repository.type === 'posix' ? `posix repository ${repository.path}` : `S3 repository s3://${repository.bucket}/${repository.prefix}`;
  return [
    {
      title: `On the database host, install pgBackRest (Debian: apt-get install pgbackrest) and write ${configFile}, owned by the OS user that owns ${physical.pgData}, mode 0600`,
      lines: [`(${where}${config.includes('<the value of ') ? '; fill in the secrets where shown' : ''})`, '', ...config.trimEnd().split('\n')],
    },
    { title: `Create the stanza ${physical.stanza}, as that OS user`, lines: [stanzaCreate.argv.join(' ')], command: stanzaCreate },
    {
      title: 'Archive the WAL: set these (archive_mode needs a server restart)',
      lines: ["ALTER SYSTEM SET archive_mode = 'on';", `ALTER SYSTEM SET archive_command = '${archiveCommand}';`],
    },
    { title: 'Check that a WAL switch reaches the repository, as that OS user', lines: [check.argv.join(' ')], command: check },
  ];
}

/** The config `--apply` installs: the rendered one, with a header that says what reads it. */
export function installedPitrConfig(rendered: string, stack: string, label: string): string {
  return rendered.replace(
    /^# Rendered by ragops.*\n/,
    `# Written by \`ragops pitr setup --stack ${stack} --database ${label} --apply\`: the server's archive_command reads it.\n# It holds repository secrets: mode 0600, owned by the cluster's OS user.\n`,
  );
}

/** What the server runs now, as `current_setting` reports it. */
export interface ArchiveSettings {
  archiveMode: string;
  walLevel: string;
}

/**
 * The ALTER SYSTEM statements that make the server archive through `archiveCommand`, and
 * whether they need a restart: archive_mode (and wal_level) are read only at server start,
 * archive_command at a reload. 'always' already archives, also on a standby: it is kept.
 */
export function archiveSettingStatements(current: ArchiveSettings, archiveCommand: string): { statements: string[]; restartNeeded: boolean } {
  const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
  const statements = [
    ...(current.walLevel === 'minimal' ? ["ALTER SYSTEM SET wal_level = 'replica'"] : []),
    ...(current.archiveMode === 'always' ? [] : ["ALTER SYSTEM SET archive_mode = 'on'"]),
    `ALTER SYSTEM SET archive_command = ${literal(archiveCommand)}`,
  ];
  return { statements, restartNeeded: current.archiveMode === 'off' || current.walLevel === 'minimal' };
}

export function formatPitrSetup(heading: string, steps: PitrSetupStep[]): string {
  return [heading, ...steps.flatMap((step, index) => ['', `${index + 1}. ${step.title}:`, ...step.lines.map((line) => (line ? `   ${line}` : ''))])].join('\n');
}
