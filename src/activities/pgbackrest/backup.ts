import { ApplicationFailure } from '@temporalio/common';
import type { PhysicalBackup } from '../../config/manifest.js';
import type { StoreConfig } from '../../config/stacks/index.js';
import { fullLabelOf, protectedRetentionFull, type PgbackrestBackup, type PgbackrestBackupType, type PgbackrestStanzaInfo } from '../../core/pgbackrest.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { findProcesses, waitForExit } from '../runtime/processes.js';
import { withStore } from '../store/open.js';
import { listBackupsIn } from '../store/catalog.js';
import { backupCommand, expireWithRetentionCommand, verifyCommand } from './commands.js';
import type { PhysicalPostgresTarget } from './config.js';
import { describeRepository, withPgbackrest, type PgbackrestSession } from './session.js';
import { parsePgbackrestVerify, type PgbackrestVerifyResult } from './verify.js';

export interface PhysicalRequest {
  target: PhysicalPostgresTarget;
  /** The stack's store: the default repository lives in a fs store. */
  store: StoreConfig;
}

/** pgBackRest answers `info` for a stanza nobody created (status 1): that is set-up work, not something a retry fixes. */
export function requireStanza(info: PgbackrestStanzaInfo, session: PgbackrestSession, stack?: string): PgbackrestStanzaInfo {
  if (info.status.code === 1) {
    throw ApplicationFailure.nonRetryable(
      `stanza ${info.stanza} does not exist in the pgBackRest repository (${describeRepository(session.repository)}): ${info.status.message}. Create it once with \`ragops pitr setup --stack ${stack ?? '<stack>'} --database ${session.target.name} --apply\``,
      'ConfigError',
    );
  }
  return info;
}

const newSince = (info: PgbackrestStanzaInfo, labelsBefore: readonly string[]) => info.backups.filter((backup) => !labelsBefore.includes(backup.label)).at(-1);

function record(session: PgbackrestSession, requestedType: PgbackrestBackupType, made: PgbackrestBackup, postgresVersion: string, durationMs: number): PhysicalBackup {
  return {
    name: session.target.name,
    stanza: session.invocation.stanza,
    repository: describeRepository(session.repository),
    requestedType,
    type: made.type,
    label: made.label,
    ...(made.priorLabel ? { priorLabel: made.priorLabel } : {}),
    startedAt: made.startedAt,
    stoppedAt: made.stoppedAt,
    lsn: made.lsn,
    wal: made.wal,
    sizes: made.sizes,
    pageChecksumErrors: made.pageChecksumErrors,
    postgresVersion,
    durationMs,
  };
}

/** What `verify` says of one backup: its own set and the ones it builds on, and the archive. */
export function verdictFor(result: PgbackrestVerifyResult, label: string, priorLabels: readonly string[]): NonNullable<PhysicalBackup['verify']> {
  const chain = new Set([label, ...priorLabels, fullLabelOf(label)]);
  const backups = result.backups.filter((backup) => chain.has(backup.label));
  const invalid = (counts: { missing: number; checksumInvalid: number; sizeInvalid: number; other: number }) => counts.missing + counts.checksumInvalid + counts.sizeInvalid + counts.other > 0;
  const bad = backups.some((backup) => backup.status !== 'valid' || invalid(backup)) || result.archives.some(invalid) || !backups.some((backup) => backup.label === label);
  // Problems of other backups are theirs; those naming no backup (the archived WAL) concern every one.
  const labelled = /[0-9]{8}-[0-9]{6}F/;
  const problems = result.problems.filter((problem) => [...chain].some((name) => problem.includes(name)) || !labelled.test(problem));
  if (!backups.some((backup) => backup.label === label)) problems.push(`pgbackrest verify did not list backup ${label}${result.notes.length ? ` (${result.notes.join('; ')})` : ''}`);
  return {
    status: bad ? 'error' : 'ok',
    filesChecked: backups.reduce((sum, backup) => sum + backup.filesChecked, 0),
    filesValid: backups.reduce((sum, backup) => sum + backup.filesValid, 0),
    problems,
  };
}

export async function verifyWith(session: PgbackrestSession, label: string, priorLabels: readonly string[], signal: AbortSignal): Promise<NonNullable<PhysicalBackup['verify']>> {
  const { stdout, stderr } = await session.run(verifyCommand(session.invocation), { signal });
  return verdictFor(parsePgbackrestVerify(stdout, stderr), label, priorLabels);
}

/** Labels of full backups a passing drill proved good, and of those a failed one proved bad, from the stack's evidence. */
async function drilledFulls(store: StoreConfig, stack: string, name: string, stanza: string): Promise<{ good: Set<string> }> {
  const good = new Set<string>();
  const listings = await withStore(store, (opened) => listBackupsIn(opened, stack));
  for (const listing of listings) {
    const physical = listing.manifest?.physical?.find((entry) => entry.name === name && entry.stanza === stanza);
    if (!physical || listing.lastConclusiveVerification?.outcome !== 'passed') continue;
    if (physical.verify?.status === 'error') continue;
    good.add(fullLabelOf(physical.label));
  }
  return { good };
}

export function createPgbackrestBackupActivities() {
  return {
    /**
     * `pgbackrest backup` of one cluster, heartbeating on a timer while it runs. A retried
     * attempt first waits for a pgBackRest a killed worker left running, and adopts the
     * backup it finished instead of taking another.
     */
    async pgbackrestBackup(request: PhysicalRequest & { type: PgbackrestBackupType; stack: string }): Promise<PhysicalBackup> {
      const progress = new ProgressHeartbeat(`pgbackrest backup ${request.target.name}`);
      const earlier = progress.previousDetails<{ labelsBefore?: string[] }>();
      return progress.during(
        withPgbackrest(request.target, request.store, async (session) => {
          const started = Date.now();
          const before = requireStanza(await session.info(progress.signal), session, request.stack);
          const labelsBefore = earlier?.labelsBefore ?? before.backups.map((backup) => backup.label);
          progress.beat({ labelsBefore }, true);
          let made = newSince(before, labelsBefore);
          if (!made) {
            const stanzaArg = `--stanza=${session.invocation.stanza}`;
            const orphans = await findProcesses((argv) => argv.includes(stanzaArg) && argv.at(-1) === 'backup');
            if (orphans.length > 0) {
              progress.phase('waiting for the pgbackrest backup an earlier attempt started');
              await waitForExit(orphans.map((orphan) => orphan.pid), progress.signal);
              made = newSince(await session.info(progress.signal), labelsBefore);
            }
          }
          if (!made) {
            progress.phase(`pgbackrest backup --type=${request.type}`);
            await session.run(backupCommand(session.invocation, { type: request.type, startFast: true }), { signal: progress.signal });
            made = newSince(await session.info(progress.signal), labelsBefore);
          }
          if (!made) throw new Error(`pgbackrest backup of stanza ${session.invocation.stanza} succeeded, but its info lists no new backup`);
          const version = (await session.info(progress.signal)).postgresVersion ?? 'unknown';
          return record(session, request.type, made, version, Date.now() - started);
        }),
      );
    },

    /** `pgbackrest verify`, read for one backup: every file of it, of the backups it builds on, and the archived WAL. */
    async pgbackrestVerify(request: PhysicalRequest & { label: string; priorLabels: string[] }): Promise<NonNullable<PhysicalBackup['verify']>> {
      const progress = new ProgressHeartbeat(`pgbackrest verify ${request.label}`);
      progress.phase('pgbackrest verify');
      return progress.during(withPgbackrest(request.target, request.store, (session) => verifyWith(session, request.label, request.priorLabels, progress.signal)));
    },

    /**
     * pgBackRest's own `expire`, with the stack's retention raised so that the newest full
     * backup a drill proved good is kept (protectedRetentionFull); reports what it removed.
     */
    async pgbackrestExpire(request: PhysicalRequest & { stack: string }): Promise<NonNullable<PhysicalBackup['expire']>> {
      const progress = new ProgressHeartbeat(`pgbackrest expire ${request.target.name}`);
      return progress.during(
        withPgbackrest(request.target, request.store, async (session) => {
          const before = await session.info(progress.signal);
          const fullsNewestFirst = before.backups.filter((backup) => backup.type === 'full').map((backup) => backup.label).reverse();
          const { good } = await drilledFulls(request.store, request.stack, request.target.name, session.invocation.stanza);
          const { retentionFull, protecting } = protectedRetentionFull(request.target.physical.retentionFull, fullsNewestFirst, good);
          await session.run(expireWithRetentionCommand(session.invocation, retentionFull), { signal: progress.signal });
          const after = new Set((await session.info(progress.signal)).backups.map((backup) => backup.label));
          return {
            retentionFull,
            ...(request.target.physical.retentionDiff !== undefined ? { retentionDiff: request.target.physical.retentionDiff } : {}),
            ...(protecting ? { protecting } : {}),
            expired: before.backups.map((backup) => backup.label).filter((label) => !after.has(label)),
          };
        }),
      );
    },
  };
}
