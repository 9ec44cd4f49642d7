// `pgbackrest verify --output=text --verbose` (2.45) exits 0 whatever it finds: the verdict is
// the "status:" line of its summary on stdout, and the files it flags are named only in its
// INFO log lines (on stderr, with verifyCommand's log levels).

export interface VerifyCounts {
  missing: number;
  checksumInvalid: number;
  sizeInvalid: number;
  other: number;
}

export interface VerifiedBackup extends VerifyCounts {
  label: string;
  /** pgBackRest's word: "valid", "invalid", or e.g. "in-progress". */
  status: string;
  filesChecked: number;
  filesValid: number;
}

export interface VerifiedArchive extends VerifyCounts {
  archiveId: string;
  walChecked: number;
  walValid: number;
}

export interface PgbackrestVerifyResult {
  stanza: string;
  status: 'ok' | 'error';
  backups: VerifiedBackup[];
  archives: VerifiedArchive[];
  /** Summary lines of no known shape, e.g. "No usable backup.info file". */
  notes: string[];
  /** What the log names, e.g. "invalid checksum '20261206-140507F/pg_data/base/5/2602.gz'". */
  problems: string[];
}

const COUNTS = /^missing: (\d+), checksum invalid: (\d+), size invalid: (\d+), other: (\d+)$/;
const BACKUP = /^backup: (\S+), status: (\S+), total files checked: (\d+), total valid files: (\d+)$/;
const ARCHIVE = /^archiveId: (\S+), total WAL checked: (\d+), total valid WAL: (\d+)$/;

function counts(line: string | undefined): VerifyCounts | undefined {
  const match = line === undefined ? null : COUNTS.exec(line.trim());
  return match ? { missing: Number(match[1]), checksumInvalid: Number(match[2]), sizeInvalid: Number(match[3]), other: Number(match[4]) } : undefined;
}

/** Throws when the summary cannot be read: the caller then reports the check inconclusive, never passed. */
export function parsePgbackrestVerify(stdout: string, stderr: string): PgbackrestVerifyResult {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  const stanza = /^stanza: (\S+)$/.exec(lines[0] ?? '')?.[1];
  const status = /^status: (ok|error)$/.exec(lines[1] ?? '')?.[1] as 'ok' | 'error' | undefined;
  if (!stanza || !status) throw new Error(`pgbackrest verify printed no summary ("stanza: …", "status: …"): ${stdout.slice(0, 200)}`);
  const result: PgbackrestVerifyResult = { stanza, status, backups: [], archives: [], notes: [], problems: [] };
  for (let index = 2; index < lines.length; index++) {
    const line = lines[index]!.trim();
    const backup = BACKUP.exec(line);
    const archive = ARCHIVE.exec(line);
    const following = backup || archive ? counts(lines[index + 1]) : undefined;
    if (backup && following) {
      result.backups.push({ label: backup[1]!, status: backup[2]!, filesChecked: Number(backup[3]), filesValid: Number(backup[4]), ...following });
      index++;
    } else if (archive && following) {
      result.archives.push({ archiveId: archive[1]!, walChecked: Number(archive[2]), walValid: Number(archive[3]), ...following });
      index++;
    } else {
      result.notes.push(line);
    }
  }
  for (const line of stderr.split('\n')) {
    const logged = /^(?:INFO|WARN|ERROR): (.+)$/.exec(line.trim());
    if (logged && !/^(verify command (begin|end)\b|stanza: )/.test(logged[1]!)) result.problems.push(logged[1]!);
  }
  return result;
}
