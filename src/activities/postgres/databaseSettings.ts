import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import type { PostgresArtifact } from '../../config/manifest.js';
import { quoteIdent } from './session.js';

export type DatabaseSettings = NonNullable<PostgresArtifact['databaseSettings']>;
export type DatabaseAclEntry = NonNullable<DatabaseSettings['acl']>[number];
type Privilege = DatabaseAclEntry['privileges'][number];

async function serverVersionNum(client: pg.Client): Promise<number> {
  return Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v);
}

/** The locale columns of pg_database on a server of this version (they moved in 15 and 17). */
function localeColumns(version: number): string {
  if (version >= 170000) return ', d.datlocprovider AS provider, d.datlocale AS locale, d.daticurules AS icu_rules';
  if (version >= 160000) return ', d.datlocprovider AS provider, d.daticulocale AS locale, d.daticurules AS icu_rules';
  if (version >= 150000) return ', d.datlocprovider AS provider, d.daticulocale AS locale';
  return '';
}

const PROVIDERS: Record<string, DatabaseSettings['localeProvider']> = { c: 'libc', i: 'icu', b: 'builtin' };

/** A database's privileges in the order they are held: one entry per grantee and grantor; null when they are the defaults. */
async function readAcl(client: pg.Client, database: string): Promise<DatabaseAclEntry[] | null> {
  const result = await client.query<{ defaults: boolean; grantee: string | null; grantor: string | null; privilege: Privilege | null; grantable: boolean | null }>(
    `SELECT d.datacl IS NULL AS defaults,
            CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee,
            pg_get_userbyid(a.grantor) AS grantor, a.privilege_type AS privilege, a.is_grantable AS grantable
     FROM pg_database d
     LEFT JOIN LATERAL aclexplode(d.datacl) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable, n) ON true
     WHERE d.datname = $1 ORDER BY a.n`,
    [database],
  );
  if (result.rows[0]?.defaults !== false) return null;
  const entries: DatabaseAclEntry[] = [];
  for (const row of result.rows) {
    if (!row.privilege || !row.grantor) continue;
    let entry = entries.at(-1);
    if (!entry || entry.grantee !== row.grantee || entry.grantor !== row.grantor) {
      entry = { grantee: row.grantee, grantor: row.grantor, privileges: [], grantable: [] };
      entries.push(entry);
    }
    entry.privileges.push(row.privilege);
    if (row.grantable) entry.grantable.push(row.privilege);
  }
  return entries;
}

/**
 * Owner, encoding, collation (libc, and the ICU or builtin locale from PostgreSQL 15), the
 * privileges and the per-database settings of the session's own database.
 */
export async function readDatabaseSettings(client: pg.Client): Promise<DatabaseSettings> {
  const version = await serverVersionNum(client);
  const result = await client.query<{
    name: string; owner: string; encoding: string; collate: string; ctype: string; config: string[] | null;
    provider?: string; locale?: string | null; icu_rules?: string | null;
  }>(`
    SELECT d.datname AS name, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
           d.datcollate AS collate, d.datctype AS ctype,
           (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS config
           ${localeColumns(version)}
    FROM pg_database d WHERE d.datname = current_database()`);
  const row = result.rows[0]!;
  const provider = row.provider ? PROVIDERS[row.provider] : undefined;
  return {
    owner: row.owner,
    encoding: row.encoding,
    collate: row.collate,
    ctype: row.ctype,
    config: row.config ?? [],
    ...(provider ? { localeProvider: provider } : {}),
    ...(provider && provider !== 'libc' && row.locale ? { locale: row.locale } : {}),
    ...(row.icu_rules ? { icuRules: row.icu_rules } : {}),
    acl: await readAcl(client, row.name),
  };
}

async function roleExists(admin: pg.Client, role: string): Promise<boolean> {
  return ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;
}

/** Settings whose value is a list of names, each quoted on its own (pg_dump's variable_is_guc_list_quote). */
const LIST_QUOTED_SETTINGS = new Set(['local_preload_libraries', 'search_path', 'session_preload_libraries', 'shared_preload_libraries', 'temp_tablespaces', 'unix_socket_directories']);

/**
 * A list value as pg_db_role_setting holds it (`"$user", app, "Odd ""Schema"""`) split into its
 * names, as pg_dump's SplitGUCList does; undefined when it is not such a list.
 */
export function splitSettingList(value: string): string[] | undefined {
  const names: string[] = [];
  let at = 0;
  const skipSpace = () => {
    while (at < value.length && /\s/.test(value[at]!)) at += 1;
  };
  skipSpace();
  if (at === value.length) return names;
  for (;;) {
    let name = '';
    if (value[at] === '"') {
      at += 1;
      for (;;) {
        const end = value.indexOf('"', at);
        if (end < 0) return undefined;
        name += value.slice(at, end);
        at = end + 1;
        if (value[at] !== '"') break;
        name += '"';
        at += 1;
      }
    } else {
      const start = at;
      while (at < value.length && value[at] !== ',' && !/\s/.test(value[at]!)) at += 1;
      if (at === start) return undefined;
      name = value.slice(start, at);
    }
    names.push(name);
    skipSpace();
    if (at === value.length) return names;
    if (value[at] !== ',') return undefined;
    at += 1;
    skipSpace();
  }
}

/** `name = value` for ALTER DATABASE … SET, from a pg_db_role_setting entry, as pg_dump writes it. */
export function settingAssignment(entry: string, literal: (value: string) => string): { name: string; sql: string } | undefined {
  const at = entry.indexOf('=');
  const name = entry.slice(0, at);
  const value = entry.slice(at + 1);
  // Setting names are identifiers, possibly dotted (app.tenant); anything else is not one.
  if (at < 1 || !/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/.test(name)) return undefined;
  const names = LIST_QUOTED_SETTINGS.has(name.toLowerCase()) ? splitSettingList(value) : undefined;
  return { name, sql: `${name} = ${names ? names.map(literal).join(', ') : literal(value)}` };
}

const PRIVILEGE_LETTERS: Record<Privilege, string> = { CREATE: 'C', TEMPORARY: 'T', CONNECT: 'c' };

/** An entry as aclitem prints it: `app_reader=T*c/app_owner` (an empty grantee is PUBLIC). */
export function aclItemText(entry: DatabaseAclEntry): string {
  const privileges = entry.privileges.map((p) => `${PRIVILEGE_LETTERS[p]}${entry.grantable.includes(p) ? '*' : ''}`).join('');
  return `${entry.grantee ?? ''}=${privileges}/${entry.grantor}`;
}

/** Grants the recorded privileges to a new database; returns what could not be granted. */
async function applyAcl(admin: pg.Client, name: string, acl: DatabaseAclEntry[], owner: string, ownerKept: boolean): Promise<string[]> {
  const database = quoteIdent(admin, name);
  const notKept: string[] = [];
  // From the defaults (PUBLIC and the owner hold everything) to nothing, then exactly the record.
  await admin.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`);
  if (ownerKept) await admin.query(`REVOKE ALL ON DATABASE ${database} FROM ${quoteIdent(admin, owner)}`);
  const granted: DatabaseAclEntry[] = [];
  for (const entry of acl) {
    if (entry.grantee !== null && !(await roleExists(admin, entry.grantee))) {
      notKept.push(`database privilege ${aclItemText(entry)}: no role ${entry.grantee} here (restore with "roles": true to create it)`);
      continue;
    }
    const grantee = entry.grantee === null ? 'PUBLIC' : quoteIdent(admin, entry.grantee);
    const plain = entry.privileges.filter((p) => !entry.grantable.includes(p));
    const statements = [
      ...(entry.grantable.length > 0 ? [`GRANT ${entry.grantable.join(', ')} ON DATABASE ${database} TO ${grantee} WITH GRANT OPTION`] : []),
      ...(plain.length > 0 ? [`GRANT ${plain.join(', ')} ON DATABASE ${database} TO ${grantee}`] : []),
    ];
    // A grant the owner did not make is made as its grantor when this session may act as it.
    const asGrantor = entry.grantor !== owner && (await roleExists(admin, entry.grantor));
    try {
      if (asGrantor) await admin.query(`SET ROLE ${quoteIdent(admin, entry.grantor)}`);
      for (const sql of statements) await admin.query(sql);
    } catch (error) {
      if (!asGrantor) throw error;
      await admin.query('RESET ROLE');
      for (const sql of statements) await admin.query(sql);
    } finally {
      if (asGrantor) await admin.query('RESET ROLE');
    }
    granted.push(entry);
  }
  // What the server holds now, said when it is not what was recorded (e.g. a grantor that could not be kept).
  const held = ((await readAcl(admin, name)) ?? []).map(aclItemText);
  const expected = granted.map(aclItemText);
  if (held.join(',') !== expected.join(',')) {
    notKept.push(`database privileges: recorded ${expected.join(', ') || '(none)'}, restored as ${held.join(', ') || '(none)'}`);
  }
  return notKept;
}

/**
 * Creates `name` as the backed-up database was: its encoding and collation (with its ICU or
 * builtin locale from PostgreSQL 15), then its owner (when that role exists here), its
 * privileges and its own settings. Returns what could not be kept, to report.
 */
export async function createDatabaseLike(admin: pg.Client, name: string, settings: DatabaseSettings | undefined): Promise<string[]> {
  const database = quoteIdent(admin, name);
  if (!settings) {
    await admin.query(`CREATE DATABASE ${database} TEMPLATE template0`);
    return ['the manifest records no database settings (a backup from before they were recorded): server defaults'];
  }
  const literal = (value: string) => admin.escapeLiteral(value);
  const notKept: string[] = [];
  const version = await serverVersionNum(admin);
  let provider = '';
  const { localeProvider, locale } = settings;
  if (localeProvider && version >= 150000) {
    if (localeProvider === 'libc') provider = ' LOCALE_PROVIDER libc';
    else if (localeProvider === 'icu' && locale) {
      provider = ` LOCALE_PROVIDER icu ICU_LOCALE ${literal(locale)}`;
      if (settings.icuRules && version >= 160000) provider += ` ICU_RULES ${literal(settings.icuRules)}`;
      else if (settings.icuRules) notKept.push(`ICU rules ${settings.icuRules}: this server (${version}) predates them`);
    } else if (localeProvider === 'builtin' && locale && version >= 170000) provider = ` LOCALE_PROVIDER builtin BUILTIN_LOCALE ${literal(locale)}`;
  }
  if (localeProvider && localeProvider !== 'libc' && !provider) {
    notKept.push(`${localeProvider} locale ${locale ?? '?'}: this server (${version}) cannot make a database with it; created with libc collation ${settings.collate}`);
  }
  const wanted = `encoding ${settings.encoding}, LC_COLLATE ${settings.collate}, LC_CTYPE ${settings.ctype}${localeProvider && localeProvider !== 'libc' ? `, ${localeProvider} locale ${locale}` : ''}`;
  await admin
    .query(
      `CREATE DATABASE ${database} TEMPLATE template0 ENCODING ${literal(settings.encoding)} LC_COLLATE ${literal(settings.collate)} LC_CTYPE ${literal(settings.ctype)}${provider}`,
    )
    .catch((error: { code?: string; message: string }) => {
      if (!/locale|collator/i.test(error.message)) throw error;
      throw ApplicationFailure.nonRetryable(
        `cannot create ${name} with the backed-up database's ${wanted}: ${error.message}; install that locale on the database server (or restore onto one that has it)`,
        'LocaleUnavailable',
      );
    });
  const ownerKept = await roleExists(admin, settings.owner);
  if (ownerKept) {
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
  if (settings.acl === undefined) {
    notKept.push('database privileges: not recorded by this backup (taken before ragops recorded them): server defaults');
  } else if (settings.acl !== null) {
    notKept.push(...(await applyAcl(admin, name, settings.acl, settings.owner, ownerKept)));
    // pg_restore and the counts connect to it as this role: the record must leave it CONNECT.
    const canConnect = await admin.query<{ ok: boolean }>("SELECT has_database_privilege(current_user, $1, 'CONNECT') AS ok", [name]);
    if (!canConnect.rows[0]?.ok) {
      throw ApplicationFailure.nonRetryable(
        `the backed-up database's privileges leave the restoring role no CONNECT on it: grant the stacks file's user one of the roles that hold CONNECT (${settings.acl.filter((e) => e.privileges.includes('CONNECT')).map((e) => e.grantee ?? 'PUBLIC').join(', ') || 'none'}), or restore as a superuser`,
        'InsufficientPrivilege',
      );
    }
  }
  for (const entry of settings.config) {
    const assignment = settingAssignment(entry, literal);
    if (!assignment) {
      notKept.push(`setting ${entry}: not a setting name`);
      continue;
    }
    await admin.query(`ALTER DATABASE ${database} SET ${assignment.sql}`);
  }
  return notKept;
}
