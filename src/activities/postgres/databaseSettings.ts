import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import type { PostgresArtifact } from '../../config/manifest.js';
import { quoteIdent } from './session.js';

export type DatabaseSettings = NonNullable<PostgresArtifact['databaseSettings']>;

/** Owner, encoding, collation and the per-database settings of the session's own database. */
export async function readDatabaseSettings(client: pg.Client): Promise<DatabaseSettings> {
  const result = await client.query<{ owner: string; encoding: string; collate: string; ctype: string; config: string[] | null }>(`
    SELECT pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
           d.datcollate AS collate, d.datctype AS ctype,
           (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS config
    FROM pg_database d WHERE d.datname = current_database()`);
  const row = result.rows[0]!;
  return { owner: row.owner, encoding: row.encoding, collate: row.collate, ctype: row.ctype, config: row.config ?? [] };
}

async function roleExists(admin: pg.Client, role: string): Promise<boolean> {
  return ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;
}

/**
 * Creates `name` as the backed-up database was: its encoding and collation, then its owner
 * (when that role exists here) and its own settings. Returns what could not be kept, to report.
 */
export async function createDatabaseLike(admin: pg.Client, name: string, settings: DatabaseSettings | undefined): Promise<string[]> {
  const database = quoteIdent(admin, name);
  if (!settings) {
    await admin.query(`CREATE DATABASE ${database} TEMPLATE template0`);
    return ['the manifest records no database settings (a backup from before they were recorded): server defaults'];
  }
  const literal = (value: string) => admin.escapeLiteral(value);
  await admin.query(
    `CREATE DATABASE ${database} TEMPLATE template0 ENCODING ${literal(settings.encoding)} LC_COLLATE ${literal(settings.collate)} LC_CTYPE ${literal(settings.ctype)}`,
  );
  const notKept: string[] = [];
  if (await roleExists(admin, settings.owner)) {
    await admin.query(`ALTER DATABASE ${database} OWNER TO ${quoteIdent(admin, settings.owner)}`).catch((error: { code?: string; message: string }) => {
      if (error.code !== '42501') throw error;
      throw ApplicationFailure.nonRetryable(
        `the restoring role cannot give the database to its owner ${settings.owner} (${error.message}): grant ${settings.owner} to the stacks file's user, or restore as a superuser`,
        'InsufficientPrivilege',
      );
    });
  } else {
    notKept.push(`owner ${settings.owner}: no such role here (restore with "roles": true to create it)`);
  }
  for (const entry of settings.config) {
    const at = entry.indexOf('=');
    const setting = entry.slice(0, at);
    // Setting names are identifiers, possibly dotted (app.tenant); anything else is not one.
    if (!/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/.test(setting)) {
      notKept.push(`setting ${entry}: not a setting name`);
      continue;
    }
    await admin.query(`ALTER DATABASE ${database} SET ${setting} = ${literal(entry.slice(at + 1))}`);
  }
  return notKept;
}
