// The per-stack catalog object: read, caught up, rebuilt and updated after each write.
//
// Concurrent writers (two workers finishing backups of one stack, a reader writing back a
// catch-up) each read the object, fold their own event and write it whole: the last write
// wins, and an event can be lost. No lock: the store has no conditional write, and a lock a
// killed worker left would stall backups. A lost event is found instead: the catalog holds
// the evidence keys of its newest backups (`window`), and every read lists the store from the
// window's first backup on (one cheap listing) and folds any key it does not hold. Events on
// older backups (a drill of an old backup) lost this way are healed by the rebuild every
// CATALOG_MAX_AGE_MS (a day). So a race leaves the catalog stale until the next read, never
// wrong for long, and the manifests stay the truth.
import { forEachLimited } from '../runtime/pool.js';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { Context } from '@temporalio/activity';
import { drEvidenceSummarySchema, manifestSchema, verificationSchema } from '../../config/manifest.js';
import { stackCatalogSchema, type StackCatalog } from '../../config/stackCatalog.js';
import { emptyCatalog, evidenceKind, foldIntoCatalog, splitBackupKey, stackCatalogKey, type CatalogEvent } from '../../core/stackCatalog.js';
import { backupKeys } from '../../core/storeKeys.js';
import { StoreObjectMissing, type ArtifactStore } from './types.js';

export type { StackCatalog } from '../../config/stackCatalog.js';
export { stackCatalogKey } from '../../core/stackCatalog.js';

/**
 * A catalog whose last full rebuild is older than this is rebuilt: it heals what the window
 * cannot see (a lost update of a drill on an old backup, counts drifting as prune deletes).
 * Recent backups and drills are caught up at every read, so this can be long; a short one
 * would make most `ragops status` runs pay for a rebuild.
 */
export const CATALOG_MAX_AGE_MS = 24 * 3_600_000;
/** More new evidence keys than this since the catalog was written: a rebuild is no slower than catching up. */
const CATCH_UP_LIMIT = 200;
const READ_CONCURRENCY = 16;

export interface CatalogRead {
  catalog: StackCatalog;
  /** catalog: read as stored; caught-up: new keys folded in; rebuilt: from a full listing. */
  source: 'catalog' | 'caught-up' | 'rebuilt';
  /** Why it was caught up or rebuilt. */
  why?: string;
  /** The catalog could not be written back (it is still correct; the next read redoes the work). */
  writeProblem?: string;
}

/** The stack's catalog, rebuilt or caught up from the store when missing, unparsable or stale. */
export async function readStackCatalog(store: ArtifactStore, stack: string): Promise<StackCatalog> {
  return (await readStackCatalogWithSource(store, stack)).catalog;
}

export async function readStackCatalogWithSource(store: ArtifactStore, stack: string, options: { now?: () => Date; maxAgeMs?: number } = {}): Promise<CatalogRead> {
  const now = options.now ?? (() => new Date());
  const stored = await readStoredCatalog(store, stack);
  if ('problem' in stored) return rebuildAndWrite(store, stack, now, stored.problem);
  const catalog = stored.catalog;
  const age = now().getTime() - Date.parse(catalog.rebuiltAt);
  if (age > (options.maxAgeMs ?? CATALOG_MAX_AGE_MS) || age < -5 * 60_000) return rebuildAndWrite(store, stack, now, `last rebuilt ${catalog.rebuiltAt}`);

  const listed: string[] = [];
  const startAfter = catalog.window.from === null ? undefined : `${stack}/${catalog.window.from}`;
  for await (const object of store.list(`${stack}/`, { startAfter })) if (evidenceKind(stack, object.key)) listed.push(object.key);
  const known = new Set(catalog.window.keys);
  const listedSet = new Set(listed);
  const gone = catalog.window.keys.filter((key) => !listedSet.has(key));
  if (gone.length > 0) return rebuildAndWrite(store, stack, now, `${gone.length} recorded file(s) gone from the store, e.g. ${gone[0]}`);
  const fresh = listed.filter((key) => !known.has(key));
  if (fresh.length === 0) return { catalog, source: 'catalog' };
  if (fresh.length > CATCH_UP_LIMIT) return rebuildAndWrite(store, stack, now, `${fresh.length} new file(s) since it was written`);
  const events = await readEvents(store, stack, fresh);
  for (const event of events) foldIntoCatalog(catalog, event, now());
  const writeProblem = await writeCatalog(store, catalog);
  return { catalog, source: 'caught-up', why: `${fresh.length} new file(s), e.g. ${fresh[0]}`, ...(writeProblem ? { writeProblem } : {}) };
}

/** The catalog from a full listing of the stack's keys: every manifest, drill and DR evidence file read. */
export async function rebuildStackCatalog(store: ArtifactStore, stack: string, now: () => Date = () => new Date()): Promise<StackCatalog> {
  const keys: string[] = [];
  for await (const object of store.list(`${stack}/`)) if (evidenceKind(stack, object.key)) keys.push(object.key);
  const catalog = emptyCatalog(stack, now());
  for (const event of await readEvents(store, stack, keys)) foldIntoCatalog(catalog, event, now());
  catalog.rebuiltAt = catalog.updatedAt = now().toISOString();
  return catalog;
}

/**
 * Folds a manifest, drill evidence or DR evidence just written (`body`, or read again when
 * absent) into its stack's catalog. A missing or unparsable catalog is left for the next
 * reader to rebuild: a write never pays for a rebuild.
 */
export async function recordInCatalog(store: ArtifactStore, key: string, body?: unknown): Promise<void> {
  const stack = key.split('/')[0] ?? '';
  const kind = evidenceKind(stack, key);
  if (!kind) throw new Error(`${key} is not a manifest or evidence key`);
  const stored = await readStoredCatalog(store, stack);
  if ('problem' in stored) return;
  const [event] = await readEvents(store, stack, [key], body === undefined ? undefined : { [key]: body });
  foldIntoCatalog(stored.catalog, event!, new Date());
  const problem = await writeCatalog(store, stored.catalog);
  if (problem) throw new Error(problem);
}

/** recordInCatalog for the writers: a catalog that cannot be updated never fails the backup or drill (it is rebuilt). */
export async function recordInCatalogSafely(store: ArtifactStore, key: string, body?: unknown): Promise<void> {
  try {
    await recordInCatalog(store, key, body);
  } catch (error) {
    const message = `stack catalog not updated for ${key} (the next read catches up or rebuilds it): ${error instanceof Error ? error.message : String(error)}`;
    try {
      Context.current().log.warn(message);
    } catch {
      console.warn(message);
    }
  }
}

async function readStoredCatalog(store: ArtifactStore, stack: string): Promise<{ catalog: StackCatalog } | { problem: string }> {
  let body: string;
  try {
    body = await text(await store.get(stackCatalogKey(stack)));
  } catch (error) {
    if (error instanceof StoreObjectMissing) return { problem: 'no catalog' };
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { problem: 'catalog is not JSON' };
  }
  const parsed = stackCatalogSchema.safeParse(raw);
  if (!parsed.success) return { problem: `catalog does not parse: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  if (parsed.data.stack !== stack) return { problem: `catalog is of stack ${parsed.data.stack}` };
  return { catalog: parsed.data };
}

async function rebuildAndWrite(store: ArtifactStore, stack: string, now: () => Date, why: string): Promise<CatalogRead> {
  const catalog = await rebuildStackCatalog(store, stack, now);
  const writeProblem = await writeCatalog(store, catalog);
  return { catalog, source: 'rebuilt', why, ...(writeProblem ? { writeProblem } : {}) };
}

async function writeCatalog(store: ArtifactStore, catalog: StackCatalog): Promise<string | undefined> {
  try {
    const body = JSON.stringify(stackCatalogSchema.parse(catalog)) + '\n';
    await store.put(stackCatalogKey(catalog.stack), Readable.from([body]), { contentType: 'application/json' });
    return undefined;
  } catch (error) {
    return `catalog not written: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The parsed JSON, or undefined when gone or not JSON (counted unreadable, never a verdict); a store fault throws. */
async function readBody(store: ArtifactStore, key: string): Promise<unknown> {
  let body: string;
  try {
    body = await text(await store.get(key));
  } catch (error) {
    if (error instanceof StoreObjectMissing) return undefined;
    throw error;
  }
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * The events of `keys` in key order: manifests first read (a drill's event carries its
 * backup's plan), then drill and DR evidence. `bodies` spares a read of what was just written.
 */
async function readEvents(store: ArtifactStore, stack: string, keys: string[], bodies: Record<string, unknown> = {}): Promise<CatalogEvent[]> {
  const sorted = [...keys].sort();
  const raw = new Map<string, unknown>();
  const planOf = new Map<string, string | null>();
  await forEachLimited(sorted, READ_CONCURRENCY, async (key) => {
    raw.set(key, key in bodies ? bodies[key] : await readBody(store, key));
  });
  for (const key of sorted) {
    if (evidenceKind(stack, key) !== 'manifest') continue;
    const manifest = manifestSchema.safeParse(raw.get(key));
    if (manifest.success) planOf.set(manifest.data.backupId, manifest.data.plan ?? null);
  }
  // A drill of a backup whose manifest is not among `keys`: its plan from the manifest in the store.
  const drilled = sorted.filter((key) => evidenceKind(stack, key) === 'verification').map((key) => splitBackupKey(stack, key)!.backupId);
  await forEachLimited([...new Set(drilled)].filter((id) => !planOf.has(id)), READ_CONCURRENCY, async (id) => {
    const manifest = manifestSchema.safeParse(await readBody(store, backupKeys.manifest(stack, id)));
    planOf.set(id, manifest.success ? (manifest.data.plan ?? null) : null);
  });
  return sorted.map((key): CatalogEvent => {
    const body = raw.get(key);
    const kind = evidenceKind(stack, key);
    if (kind === 'manifest') {
      const parsed = manifestSchema.safeParse(body);
      return { kind, key, ...(parsed.success ? { manifest: parsed.data } : {}) };
    }
    if (kind === 'verification') {
      const parsed = verificationSchema.safeParse(body);
      return { kind, key, plan: planOf.get(splitBackupKey(stack, key)!.backupId) ?? null, ...(parsed.success ? { verification: parsed.data } : {}) };
    }
    const parsed = drEvidenceSummarySchema.safeParse(body);
    return { kind: 'dr', key, ...(parsed.success ? { summary: parsed.data } : {}) };
  });
}
