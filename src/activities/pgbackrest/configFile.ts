import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSecret } from '../../config/secrets.js';
import type { PgbackrestRepository, PostgresPhysical } from '../../config/stacks/index.js';
import type { PgbackrestSecrets } from './config.js';

/** Reads the secrets the rendered config needs: the cipher pass and the S3 keys. */
export async function resolvePgbackrestSecrets(physical: PostgresPhysical, repository: PgbackrestRepository): Promise<PgbackrestSecrets> {
  return {
    cipherPass: physical.cipherPass ? await resolveSecret(physical.cipherPass) : undefined,
    s3AccessKeyId: repository.type === 's3' ? await resolveSecret(repository.accessKeyId) : undefined,
    s3SecretAccessKey: repository.type === 's3' ? await resolveSecret(repository.secretAccessKey) : undefined,
  };
}

export interface WrittenConfig {
  /** What `--config=` points at. */
  file: string;
  dir: string;
  remove(): Promise<void>;
}

export interface WriteConfigOptions {
  /** Where the ragops-pgbackrest-* directory goes; default the OS temp directory. */
  parentDir?: string;
  /** The OS user pgBackRest runs as, when that is not the worker's (e.g. postgres): it must read the file. */
  owner?: { uid: number; gid: number };
}

/** Writes `text` as pgbackrest.conf, mode 0600, in a fresh directory of its own (0700). */
export async function writePgbackrestConfig(text: string, options: WriteConfigOptions = {}): Promise<WrittenConfig> {
  const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), 'ragops-pgbackrest-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await chmod(dir, 0o700);
    const file = join(dir, 'pgbackrest.conf');
    // Created with its mode, so the secrets are never readable by others, not even briefly.
    await writeFile(file, text, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600); // the umask can only narrow the mode; set it exactly
    if (options.owner) {
      await chown(dir, options.owner.uid, options.owner.gid);
      await chown(file, options.owner.uid, options.owner.gid);
    }
    return { file, dir, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** Runs `use` with the config written, and removes it afterwards whatever happens. */
export async function withPgbackrestConfig<T>(text: string, use: (file: string) => Promise<T>, options: WriteConfigOptions = {}): Promise<T> {
  const written = await writePgbackrestConfig(text, options);
  try {
    return await use(written.file);
  } finally {
    await written.remove();
  }
}
