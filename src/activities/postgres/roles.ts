import type pg from 'pg';

/** One role statement of a `pg_dumpall --globals-only` script, with the role it is about. */
interface RoleStatement {
  role: string;
  sql: string;
}

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const unquote = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident.toLowerCase());

/**
 * The statements that create and configure roles, and grant role memberships, from a globals
 * script: CREATE ROLE, ALTER ROLE (attributes and per-role settings), GRANT role TO member.
 * Tablespaces and everything else are left out; pg_dumpall writes one statement per line.
 */
export function roleStatementsOf(script: string): { creates: RoleStatement[]; alters: RoleStatement[]; grants: RoleStatement[] } {
  const creates: RoleStatement[] = [];
  const alters: RoleStatement[] = [];
  const grants: RoleStatement[] = [];
  for (const line of script.split('\n')) {
    const sql = line.trim();
    let match: RegExpExecArray | null;
    if ((match = new RegExp(`^CREATE ROLE ${IDENT};$`).exec(sql))) creates.push({ role: unquote(match[1]!), sql });
    else if ((match = new RegExp(`^ALTER ROLE ${IDENT} `).exec(sql))) alters.push({ role: unquote(match[1]!), sql });
    else if ((match = new RegExp(`^GRANT ${IDENT} TO ${IDENT}(.*);$`).exec(sql))) {
      // The grantor may not exist here, nor be ours to name: the restoring role grants.
      const options = match[3]!.replace(/\s+GRANTED BY\s+\S+/, '');
      grants.push({ role: unquote(match[2]!), sql: `GRANT ${match[1]} TO ${match[2]}${options};` });
    }
  }
  return { creates, alters, grants };
}

/**
 * Creates the roles of the script that this server lacks, with their attributes, settings and
 * memberships; existing roles are left exactly as they are. Passwords were never dumped: the
 * created roles have none until an operator sets one. Returns the names created.
 */
export async function applyMissingRoles(admin: pg.Client, script: string): Promise<string[]> {
  const { creates, alters, grants } = roleStatementsOf(script);
  const existing = new Set((await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((row) => row.rolname));
  const missing = creates.filter((statement) => !existing.has(statement.role));
  if (missing.length === 0) return [];
  const created = new Set(missing.map((statement) => statement.role));
  await admin.query('BEGIN');
  try {
    for (const statement of [...missing, ...alters.filter((s) => created.has(s.role)), ...grants.filter((s) => created.has(s.role))]) {
      await admin.query(statement.sql);
    }
    await admin.query('COMMIT');
  } catch (error) {
    await admin.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return [...created];
}
