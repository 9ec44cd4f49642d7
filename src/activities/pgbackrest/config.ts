import { join, resolve } from 'node:path';
import {
  safeAbsolutePath,
  type PgbackrestRepository,
  type PhysicalPostgresTarget,
  type PostgresPhysical,
  type StoreConfig,
} from '../../config/stacks/index.js';

export { hasPhysical, type PhysicalPostgresTarget } from '../../config/stacks/index.js';

/**
 * The directory of the default posix repository inside a fs store. Stack names start with a
 * letter or digit, so no stack's keys can ever land in it.
 */
export const DEFAULT_REPOSITORY_DIR = '_pgbackrest';

/** The target's repository, or the default one in the stack's fs store; `cwd` resolves a relative store path. */
export function repositoryOf(physical: PostgresPhysical, store: StoreConfig, cwd: string): PgbackrestRepository {
  if (physical.repository) return physical.repository;
  if (store.type !== 'fs') {
    throw new Error(`stanza ${physical.stanza}: the stack's store is S3, so physical.repository must say where pgBackRest keeps its repository`);
  }
  const path = join(resolve(cwd, store.path), DEFAULT_REPOSITORY_DIR);
  const checked = safeAbsolutePath.safeParse(path);
  if (!checked.success) {
    throw new Error(`stanza ${physical.stanza}: the default repository ${JSON.stringify(path)} is not a plain absolute path; set physical.repository`);
  }
  return { type: 'posix', path: checked.data };
}

/** Secret values, read by the activity just before rendering; they go into the config file only. */
export interface PgbackrestSecrets {
  cipherPass?: string;
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
}

/** pgBackRest reads `key=value` lines and trims the value: a line break or edge space would change it. */
function configValue(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new Error(`the ${name} is missing: it was not resolved before rendering pgbackrest.conf`);
  if (/[\u0000-\u001f\u007f]/.test(value) || value.trim() !== value) {
    throw new Error(`the ${name} holds a line break, a control character or leading/trailing spaces, which pgbackrest.conf cannot carry`);
  }
  return value;
}

function repositoryLines(repository: PgbackrestRepository, secrets: PgbackrestSecrets): string[] {
  if (repository.type === 'posix') return ['repo1-type=posix', `repo1-path=${repository.path}`];
  const endpoint = repository.endpoint ? new URL(repository.endpoint) : undefined;
  return [
    'repo1-type=s3',
    `repo1-path=/${repository.prefix.replace(/\/$/, '')}`,
    `repo1-s3-bucket=${repository.bucket}`,
    `repo1-s3-endpoint=${endpoint?.hostname ?? `s3.${repository.region}.amazonaws.com`}`,
    ...(endpoint?.port ? [`repo1-storage-port=${endpoint.port}`] : []),
    `repo1-s3-region=${repository.region}`,
    ...(repository.forcePathStyle ? ['repo1-s3-uri-style=path'] : []),
    ...(repository.verifyTls ? [] : ['repo1-storage-verify-tls=n']),
    `repo1-s3-key=${configValue('S3 access key id', secrets.s3AccessKeyId)}`,
    `repo1-s3-key-secret=${configValue('S3 secret access key', secrets.s3SecretAccessKey)}`,
  ];
}

/** The socket directory pgBackRest connects through: pgBackRest reaches a local server only by its socket. */
export function socketPathOf(target: PhysicalPostgresTarget): string | undefined {
  return target.physical.socketPath ?? (target.host.startsWith('/') ? target.host : undefined);
}

/**
 * The pgbackrest.conf of one run: the repository (with its secrets) and retention in
 * [global], the cluster in the stanza's section. Commands get only `--config` and `--stanza`.
 */
export function renderPgbackrestConfig(target: PhysicalPostgresTarget, repository: PgbackrestRepository, secrets: PgbackrestSecrets): string {
  const { physical } = target;
  const socketPath = socketPathOf(target);
  const global = [
    ...repositoryLines(repository, secrets),
    ...(physical.cipherPass ? ['repo1-cipher-type=aes-256-cbc', `repo1-cipher-pass=${configValue('repository cipher pass', secrets.cipherPass)}`] : []),
    `repo1-retention-full=${physical.retentionFull}`,
    ...(physical.retentionDiff !== undefined ? [`repo1-retention-diff=${physical.retentionDiff}`] : []),
    // The run records pgBackRest's console output; log files would need a writable /var/log/pgbackrest.
    'log-level-file=off',
  ];
  const stanza = [
    `pg1-path=${physical.pgData}`,
    `pg1-port=${target.port}`,
    `pg1-user=${target.user}`,
    ...(socketPath ? [`pg1-socket-path=${socketPath}`] : []),
  ];
  return [
    '# Rendered by ragops for one run. It holds repository secrets: mode 0600, removed after use.',
    '[global]',
    ...global,
    '',
    `[${physical.stanza}]`,
    ...stanza,
    '',
  ].join('\n');
}
