// Folding manifests and evidence into a stack's catalog: pure, so a rebuild, a hook after a
// write and a reader's catch-up all apply one event the same way.
import type { DrEvidenceSummary, DrillOutcome, Manifest, Verification } from '../config/manifest.js';
import type { CatalogDr, CatalogDrill, StackCatalog } from '../config/stackCatalog.js';
import { backupIdPattern } from './storeKeys.js';

/** How many of the newest backups' evidence keys the catalog remembers (see `window`). */
export const CATALOG_WINDOW_BACKUPS = 20;

export type CatalogEvent =
  | { kind: 'manifest'; key: string; manifest?: Manifest }
  | { kind: 'verification'; key: string; verification?: Verification; plan: string | null }
  | { kind: 'dr'; key: string; summary?: DrEvidenceSummary };

export const stackCatalogKey = (stack: string) => `${stack}/catalog.json`;

export function emptyCatalog(stack: string, now: Date): StackCatalog {
  return {
    formatVersion: 1,
    stack,
    rebuiltAt: now.toISOString(),
    updatedAt: now.toISOString(),
    plans: [],
    lastDrill: null,
    lastPassingDrill: null,
    lastPassingRestoreDrill: null,
    lastDr: null,
    lastDrDrill: null,
    counts: { completeBackups: 0, drills: { passed: 0, failed: 0, inconclusive: 0 }, drRuns: 0, unreadable: 0 },
    window: { from: null, keys: [] },
  };
}

/** The backup id and the path inside it of a key under the stack, or undefined for other keys (the catalog itself). */
export function splitBackupKey(stack: string, key: string): { backupId: string; path: string } | undefined {
  if (!key.startsWith(`${stack}/`)) return undefined;
  const [backupId = '', ...rest] = key.slice(stack.length + 1).split('/');
  return backupIdPattern.test(backupId) ? { backupId, path: rest.join('/') } : undefined;
}

/** Which event a stored key is, if it is one the catalog folds. */
export function evidenceKind(stack: string, key: string): CatalogEvent['kind'] | undefined {
  const path = splitBackupKey(stack, key)?.path;
  if (path === 'manifest.json') return 'manifest';
  if (path && /^verifications\/[^/]+\.json$/.test(path)) return 'verification';
  if (path && /^dr\/[^/]+\.json$/.test(path)) return 'dr';
  return undefined;
}

const laterThan = (a: [string, string], b: [string, string] | undefined) => !b || a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
const isoOrder = (time: string) => new Date(time).toISOString();

/** `evidence/20261124T051500123Z-tag-drill.json` → that start time, for evidence without a recorded end. */
function stampOfKey(key: string): string | undefined {
  const match = /\/(\d{8}T\d{6})(?:\.(\d{3}))?Z-[^/]*$/.exec(key);
  if (!match) return undefined;
  const s = match[1]!;
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${match[2] ?? '000'}Z`;
}

/**
 * Applies one event; returns the same catalog object, changed. An event whose key is already
 * in the window was folded before (an activity's retry, a second reader): it changes nothing.
 * Counts of events older than the window may count a retry twice until the next rebuild.
 */
export function foldIntoCatalog(catalog: StackCatalog, event: CatalogEvent, now: Date): StackCatalog {
  const id = splitBackupKey(catalog.stack, event.key)?.backupId;
  if (!id) return catalog;
  const inWindow = catalog.window.from === null || id >= catalog.window.from;
  if (inWindow && catalog.window.keys.includes(event.key)) return catalog;
  catalog.updatedAt = now.toISOString();
  if (inWindow) addToWindow(catalog, event.key);
  if (event.kind === 'manifest') {
    if (!event.manifest) catalog.counts.unreadable += 1;
    else foldManifest(catalog, event.manifest);
  } else if (event.kind === 'verification') {
    if (!event.verification) catalog.counts.unreadable += 1;
    else foldVerification(catalog, event.key, event.verification, event.plan);
  } else if (!event.summary) catalog.counts.unreadable += 1;
  else foldDr(catalog, event.key, id, event.summary);
  return catalog;
}

function foldManifest(catalog: StackCatalog, manifest: Manifest): void {
  const plan = manifest.plan ?? null;
  catalog.counts.completeBackups += 1;
  const entry = {
    plan,
    backupId: manifest.backupId,
    startedAt: isoOrder(manifest.startedAt),
    finishedAt: isoOrder(manifest.finishedAt),
    bytes: manifest.artifacts.reduce((sum, artifact) => sum + artifact.size, 0),
    artifacts: manifest.artifacts.length,
  };
  const index = catalog.plans.findIndex((known) => known.plan === plan);
  const known = catalog.plans[index];
  if (!known) {
    catalog.plans.push({ ...entry, completeBackups: 1 });
    catalog.plans.sort((a, b) => (a.plan ?? '').localeCompare(b.plan ?? '') || (a.plan === null ? -1 : 1));
    return;
  }
  // Newest by the recorded start, then id: ids sort only to the second.
  const newer = laterThan([entry.startedAt, entry.backupId], [known.startedAt, known.backupId]);
  catalog.plans[index] = { ...(newer ? entry : known), completeBackups: known.completeBackups + 1 };
}

function foldVerification(catalog: StackCatalog, key: string, verification: Verification, plan: string | null): void {
  const drill: CatalogDrill = {
    key,
    backupId: verification.backupId,
    plan,
    depth: verification.depth,
    // Evidence written before outcomes has only `passed` (as verificationOutcome reads it).
    outcome: (verification.outcome ?? (verification.passed ? 'passed' : 'failed')) satisfies DrillOutcome,
    startedAt: isoOrder(verification.startedAt),
    finishedAt: isoOrder(verification.finishedAt),
  };
  catalog.counts.drills[drill.outcome] += 1;
  const newer = (known: CatalogDrill | null) => laterThan([drill.finishedAt, drill.key], known ? [known.finishedAt, known.key] : undefined);
  if (newer(catalog.lastDrill)) catalog.lastDrill = drill;
  if (drill.outcome === 'passed' && newer(catalog.lastPassingDrill)) catalog.lastPassingDrill = drill;
  if (drill.outcome === 'passed' && drill.depth === 'restore' && newer(catalog.lastPassingRestoreDrill)) catalog.lastPassingRestoreDrill = drill;
}

function foldDr(catalog: StackCatalog, key: string, backupId: string, summary: DrEvidenceSummary): void {
  const at = summary.rto?.to ? isoOrder(summary.rto.to) : stampOfKey(key);
  if (!at) {
    catalog.counts.unreadable += 1;
    return;
  }
  catalog.counts.drRuns += 1;
  const dr: CatalogDr = { ...summary, key, backupId, at };
  const newer = (known: CatalogDr | null) => laterThan([dr.at, dr.key], known ? [known.at, known.key] : undefined);
  if (newer(catalog.lastDr)) catalog.lastDr = dr;
  if (summary.mode === 'drill' && newer(catalog.lastDrDrill)) catalog.lastDrDrill = dr;
}

/** Adds a key and moves `from` up so the window holds the newest CATALOG_WINDOW_BACKUPS backups. */
function addToWindow(catalog: StackCatalog, key: string): void {
  const window = catalog.window;
  window.keys.push(key);
  const idOf = (k: string) => splitBackupKey(catalog.stack, k)!.backupId;
  const ids = [...new Set(window.keys.map(idOf))].sort().reverse();
  if (ids.length > CATALOG_WINDOW_BACKUPS) window.from = ids[CATALOG_WINDOW_BACKUPS - 1]!;
  else if (window.from === null || idOf(key) < window.from) window.from = ids.at(-1)!;
  window.keys = window.keys.filter((k) => idOf(k) >= window.from!).sort();
}
