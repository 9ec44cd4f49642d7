import { z } from 'zod';
import type { PgbackrestBackup, PgbackrestStanzaInfo } from '../../core/pgbackrest.js';

// `pgbackrest info --output=json` (checked against 2.45): only the fields ragops uses are
// required; pgBackRest adds fields between versions, so the rest is let through unread.

const walSegment = z.string().regex(/^[0-9A-F]{24}$/, 'a WAL segment name');
const lsn = z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/, 'an LSN');
const bytes = z.number().int().min(0);

const backupSchema = z.object({
  label: z.string().min(1),
  type: z.enum(['full', 'diff', 'incr']),
  prior: z.string().nullable(),
  timestamp: z.object({ start: z.number().int(), stop: z.number().int() }),
  lsn: z.object({ start: lsn, stop: lsn }),
  archive: z.object({ start: walSegment, stop: walSegment }),
  info: z.object({
    size: bytes,
    delta: bytes,
    repository: z.object({ size: bytes, delta: bytes }),
  }),
  database: z.object({ id: z.number().int() }),
  error: z.boolean().optional(),
});

const stanzaSchema = z.object({
  name: z.string().min(1),
  status: z.object({ code: z.number().int(), message: z.string() }),
  backup: z.array(backupSchema),
  archive: z.array(z.object({ database: z.object({ id: z.number().int() }), min: walSegment.nullable(), max: walSegment.nullable() })),
  db: z.array(z.object({ id: z.number().int(), 'system-id': z.number(), version: z.string() })),
});

const infoSchema = z.array(stanzaSchema);

const isoOfEpochSeconds = (seconds: number) => new Date(seconds * 1000).toISOString();

function toBackup(backup: z.infer<typeof backupSchema>): PgbackrestBackup {
  return {
    label: backup.label,
    type: backup.type,
    ...(backup.prior ? { priorLabel: backup.prior } : {}),
    startedAt: isoOfEpochSeconds(backup.timestamp.start),
    stoppedAt: isoOfEpochSeconds(backup.timestamp.stop),
    lsn: backup.lsn,
    wal: backup.archive,
    sizes: {
      databaseBytes: backup.info.size,
      deltaBytes: backup.info.delta,
      repositoryBytes: backup.info.repository.size,
      repositoryDeltaBytes: backup.info.repository.delta,
    },
    pageChecksumErrors: backup.error ?? false,
  };
}

/** The stanza's entry of `info --output=json`; throws naming the first field that does not fit. */
export function parsePgbackrestInfo(stdout: string, stanza: string): PgbackrestStanzaInfo {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new Error(`pgbackrest info of stanza ${stanza} did not print JSON: ${stdout.slice(0, 200)}`);
  }
  const parsed = infoSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`pgbackrest info of stanza ${stanza} has an unexpected shape at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  const entry = parsed.data.find((candidate) => candidate.name === stanza);
  if (!entry) throw new Error(`pgbackrest info lists no stanza ${stanza} (it lists ${parsed.data.map((s) => s.name).join(', ') || 'none'})`);
  // The archive of the current database: the db entry with the highest id (a stanza-upgrade adds one).
  const currentDb = entry.db.reduce<number | undefined>((max, db) => (max === undefined || db.id > max ? db.id : max), undefined);
  const archive = entry.archive.find((candidate) => candidate.database.id === currentDb);
  return {
    stanza: entry.name,
    status: entry.status,
    backups: entry.backup.map(toBackup),
    ...(archive?.min && archive.max ? { archive: { minWal: archive.min, maxWal: archive.max } } : {}),
    ...(currentDb !== undefined ? { postgresVersion: entry.db.find((db) => db.id === currentDb)!.version } : {}),
  };
}
