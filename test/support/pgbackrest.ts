// A PostgreSQL cluster of the test's own that archives its WAL with pgBackRest into a posix
// repository in a temp dir (or the repository given): the config rendered by ragops (with a
// cipher pass, so the repository is encrypted), written mode 0600 for the `postgres` OS user, and the
// archive_command ragops prints. pgBackRest runs as `postgres` (it must read the data
// directory, and the server's archive-push writes the same repository). stop() stops the
// cluster and removes the repository and the config.
import { execa } from 'execa';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { postgresTargetSchema, type PgbackrestRepository } from '../../src/config/stacks/index.js';
import { hasPhysical, renderPgbackrestConfig, type PhysicalPostgresTarget } from '../../src/activities/pgbackrest/config.js';
import { resolvePgbackrestSecrets, writePgbackrestConfig, type WrittenConfig } from '../../src/activities/pgbackrest/configFile.js';
import { archivePushCommandText, type PgbackrestInvocation } from '../../src/activities/pgbackrest/commands.js';
import { runCommand, type CommandSpec } from '../../src/activities/runtime/exec.js';
import { startPgCluster, type PgCluster } from './pgcluster.js';

export interface ArchivingCluster {
  cluster: PgCluster;
  target: PhysicalPostgresTarget;
  invocation: PgbackrestInvocation;
  /** The posix repository's directory (empty and unused with another repository). */
  repositoryPath: string;
  /** The environment variable holding the cipher pass, and its value (to look for it where it must not be). */
  cipherPass: { env: string; value: string };
  archiveCommand: string;
  /** Runs a pgbackrest command as the `postgres` OS user. */
  run(spec: CommandSpec): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([execa('id', ['-u', 'postgres']), execa('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

export const asPostgresUser = (spec: CommandSpec): CommandSpec => ({ ...spec, argv: ['runuser', '-u', 'postgres', '--', ...spec.argv] });

export async function startArchivingCluster(stanza: string, options: { repository?: PgbackrestRepository } = {}): Promise<ArchivingCluster> {
  const owner = await postgresIds();
  const repositoryPath = await mkdtemp(join(tmpdir(), 'ragops-pgbackrest-repo-'));
  await chown(repositoryPath, owner.uid, owner.gid);
  const cipherPass = { env: `RAGOPS_TEST_PGBR_CIPHER_${randomBytes(4).toString('hex').toUpperCase()}`, value: `cipher-${randomBytes(12).toString('hex')}` };
  process.env[cipherPass.env] = cipherPass.value;
  let written: WrittenConfig | undefined;
  let target: PhysicalPostgresTarget | undefined;
  let archiveCommand = '';
  let cluster: PgCluster | undefined;
  const cleanup = async () => {
    await cluster?.stop();
    await written?.remove();
    await rm(repositoryPath, { recursive: true, force: true });
    delete process.env[cipherPass.env];
  };
  try {
    cluster = await startPgCluster({
      ssl: false,
      extraSettings: async ({ dataDir, socketDir, port }) => {
        const parsed = postgresTargetSchema.parse({
          name: 'app',
          host: '127.0.0.1',
          port,
          database: 'postgres',
          physical: { stanza, pgData: dataDir, socketPath: socketDir, repository: options.repository ?? { type: 'posix', path: repositoryPath }, cipherPass: { env: cipherPass.env }, retentionFull: 2 },
        });
        if (!hasPhysical(parsed)) throw new Error('the target lost its physical section');
        target = parsed;
        const repository = parsed.physical.repository!;
        written = await writePgbackrestConfig(renderPgbackrestConfig(parsed, repository, await resolvePgbackrestSecrets(parsed.physical, repository)), { owner });
        archiveCommand = archivePushCommandText({ configFile: written.file, stanza });
        return ['archive_mode = on', `archive_command = '${archiveCommand}'`, 'wal_level = replica'];
      },
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    cluster,
    target: target!,
    invocation: { configFile: written!.file, stanza },
    repositoryPath,
    cipherPass,
    archiveCommand,
    run: (spec) => runCommand(asPostgresUser(spec), { timeoutMs: 60_000 }),
    stop: cleanup,
  };
}
