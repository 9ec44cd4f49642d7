import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { StoreConfig } from '../../config/stacks/index.js';
import { connectionFor, openSession } from '../postgres/session.js';
import { archivePushCommandText, checkCommand, stanzaCreateCommand, type PgbackrestInvocation } from './commands.js';
import { renderPgbackrestConfig, type PhysicalPostgresTarget } from './config.js';
import { resolvePgbackrestSecrets } from './configFile.js';
import { describeRepository, withPgbackrest, type PgbackrestSession } from './session.js';
import { archiveSettingStatements, installedPitrConfig } from './setup.js';

export interface PitrApplyOptions {
  stack: string;
  /** Where the archive_command's config goes (checked as a plain absolute path by the caller). */
  configFile: string;
  /** Each step as it starts and how it ended; never a secret. */
  say: (line: string) => void;
}

export interface PitrApplyResult {
  /** archive_mode or wal_level changed: nothing is archived until the server restarts, and check was skipped. */
  restartNeeded: boolean;
  checked: boolean;
}

type Owner = { name: string; uid: number; gid: number };

/** Writes the config beside its final name and renames it over: never half-written, never readable by others. */
async function installConfig(file: string, text: string, owner: Owner | undefined): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    await chmod(temporary, 0o600);
    if (owner) {
      await chown(temporary, owner.uid, owner.gid).catch((error: NodeJS.ErrnoException) => {
        throw new Error(`cannot give ${file} to OS user ${owner.name} (${error.code ?? error.message}): run --apply as root, or as ${owner.name}`);
      });
    }
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}

/** A posix repository pgBackRest cannot create itself: its directory, made for the cluster's OS user. */
async function preparePosixRepository(path: string, owner: Owner | undefined): Promise<string> {
  if (await stat(path).then(() => true, () => false)) return 'exists';
  await mkdir(path, { recursive: true, mode: 0o750 });
  if (owner) await chown(path, owner.uid, owner.gid);
  return `created${owner ? `, owned by ${owner.name}` : ''}`;
}

/** Waits until the server's reload reached this session (a backend rereads the config between statements). */
async function settingInEffect(client: pg.Client, name: string, wanted: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { rows } = await client.query<{ value: string }>('SELECT current_setting($1) AS value', [name]);
    if (rows[0]?.value === wanted) return true;
    await sleep(200);
  }
  return false;
}

/**
 * Does what `ragops pitr setup` prints: installs the config, stanza-create, sets archiving on
 * the server and reloads it, then `check` — or, when archive_mode only takes effect after a
 * restart, says so and skips check. Each step is idempotent, so a second run after the
 * restart finishes the job.
 */
export async function applyPitrSetup(target: PhysicalPostgresTarget, store: StoreConfig, options: PitrApplyOptions): Promise<PitrApplyResult> {
  const { configFile, say } = options;
  const invocation: PgbackrestInvocation = { configFile, stanza: target.physical.stanza };
  const step = async <T>(title: string, run: () => Promise<T>, outcome: (value: T) => string): Promise<T> => {
    say(`- ${title}`);
    try {
      const value = await run();
      say(`  ${outcome(value)}`);
      return value;
    } catch (error) {
      say(`  FAILED: ${(error as Error).message}`);
      throw error;
    }
  };
  return withPgbackrest(target, store, async (session: PgbackrestSession) => {
    const owner = session.osUser && session.osUser.uid !== process.getuid?.() ? session.osUser : undefined;
    const { repository } = session;
    if (repository.type === 'posix') {
      await step(`Prepare the repository (${describeRepository(repository)})`, () => preparePosixRepository(repository.path, owner), (outcome) => outcome);
    }
    await step(
      `Write ${configFile} (mode 0600${session.osUser ? `, owned by ${session.osUser.name}` : ''})`,
      async () => {
        const rendered = renderPgbackrestConfig(target, repository, await resolvePgbackrestSecrets(target.physical, repository));
        await installConfig(configFile, installedPitrConfig(rendered, options.stack, target.name), owner);
      },
      () => 'written',
    );
    await step(`Create the stanza ${invocation.stanza}${session.osUser ? ` (as ${session.osUser.name})` : ''}`, () => session.run(stanzaCreateCommand(invocation), { timeoutMs: 120_000 }), () => 'done (an existing stanza is kept)');

    const archiveCommand = archivePushCommandText(invocation);
    const restartNeeded = await step(
      `Archive the WAL: ALTER SYSTEM SET archive_mode, archive_command on ${target.host}:${target.port}, then pg_reload_conf()`,
      async () => {
        const client = await openSession(await connectionFor(target), 'ragops-pitr-setup');
        try {
          const { rows } = await client.query<{ archive_mode: string; wal_level: string }>("SELECT current_setting('archive_mode') AS archive_mode, current_setting('wal_level') AS wal_level");
          const planned = archiveSettingStatements({ archiveMode: rows[0]!.archive_mode, walLevel: rows[0]!.wal_level }, archiveCommand);
          for (const statement of planned.statements) {
            await client.query(statement).catch((error: Error) => {
              throw new Error(`${statement.split(' =')[0]} failed: ${error.message} (it needs a superuser, or GRANT ALTER SYSTEM ON PARAMETER to ${target.user})`);
            });
          }
          await client.query('SELECT pg_reload_conf()');
          // With archive_mode off the server shows archive_command as "(disabled)" until the restart.
          if (!planned.restartNeeded && !(await settingInEffect(client, 'archive_command', archiveCommand))) throw new Error('the server did not take the new archive_command within 10 s of pg_reload_conf()');
          return { ...planned, before: rows[0]! };
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      ({ before, restartNeeded }) =>
        restartNeeded
          ? `set; archive_mode was ${before.archive_mode}${before.wal_level === 'minimal' ? ' and wal_level minimal' : ''}: THE SERVER MUST BE RESTARTED before anything is archived`
          : `set and reloaded (archive_mode ${before.archive_mode})`,
    ).then((outcome) => outcome.restartNeeded);

    if (restartNeeded) {
      say(`- Check that a WAL switch reaches the repository: SKIPPED until the server is restarted`);
      return { restartNeeded, checked: false };
    }
    await step(`Check that a WAL switch reaches the repository${session.osUser ? ` (as ${session.osUser.name})` : ''}`, () => session.run(checkCommand(invocation), { timeoutMs: 300_000 }), () => 'ok');
    return { restartNeeded, checked: true };
  });
}
