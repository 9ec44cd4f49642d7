/** Pure helpers over Redis' INFO text: fields, keyspace, comparisons. */

export interface DbFigures {
  keys: number;
  expires: number;
}
/** "db0" → its figures; databases without keys are absent, as in INFO keyspace. */
export type Keyspace = Record<string, DbFigures>;

/** "field:value" lines of any INFO sections into one map (section headers and blanks skipped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** `db0:keys=12,expires=3,avg_ttl=0` lines into { db0: { keys: 12, expires: 3 } }. */
export function keyspaceOf(fields: Map<string, string>): Keyspace {
  const keyspace: Keyspace = {};
  for (const [name, value] of fields) {
    if (!/^db\d+$/.test(name)) continue;
    const parts = Object.fromEntries(value.split(',').map((pair) => pair.split('=') as [string, string]));
    const keys = Number(parts.keys);
    const expires = Number(parts.expires ?? 0);
    if (!Number.isSafeInteger(keys) || !Number.isSafeInteger(expires)) throw new Error(`INFO keyspace line not understood: ${name}:${value}`);
    if (keys > 0) keyspace[name] = { keys, expires };
  }
  return keyspace;
}

export function numberField(fields: Map<string, string>, name: string): number | undefined {
  const value = fields.get(name);
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

export function requireNumber(fields: Map<string, string>, name: string, where: string): number {
  const n = numberField(fields, name);
  if (n === undefined) throw new Error(`${where}: INFO has no numeric ${name}`);
  return n;
}

/** The highest database index named, or -1 for an empty keyspace. */
export function highestDb(keyspace: Keyspace): number {
  return Math.max(-1, ...Object.keys(keyspace).map((db) => Number(db.slice(2))));
}

export interface KeyspaceComparison {
  passed: boolean;
  detail: string;
  /** Per database: what the manifest says and what the scratch server loaded. */
  perDb: Record<string, { expected: DbFigures; restored: DbFigures }>;
}

/** Keys and expiring keys per database, exactly; a database on one side only is a difference. */
export function compareKeyspace(expected: Keyspace, restored: Keyspace): KeyspaceComparison {
  const none: DbFigures = { keys: 0, expires: 0 };
  const dbs = [...new Set([...Object.keys(expected), ...Object.keys(restored)])].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  const perDb: KeyspaceComparison['perDb'] = {};
  const differences: string[] = [];
  for (const db of dbs) {
    const e = expected[db] ?? none;
    const r = restored[db] ?? none;
    perDb[db] = { expected: e, restored: r };
    if (e.keys !== r.keys || e.expires !== r.expires) {
      differences.push(`${db}: ${r.keys} keys (${r.expires} expiring) loaded, the manifest says ${e.keys} (${e.expires})`);
    }
  }
  const total = (k: Keyspace) => Object.values(k).reduce((sum, f) => sum + f.keys, 0);
  if (dbs.length === 0) return { passed: true, detail: 'the manifest and the loaded RDB both have no keys', perDb };
  return differences.length === 0
    ? { passed: true, detail: `${total(restored)} keys in ${dbs.length} database(s) loaded, each database's keys and expiring keys equal to the manifest's`, perDb }
    : { passed: false, detail: `keyspace differs from the manifest: ${differences.join('; ')}`, perDb };
}
