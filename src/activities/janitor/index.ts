import type { Client } from '@temporalio/client';
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { StackConfig } from '../../config/stacks/index.js';
import { isAsideOriginal, orphansAmong, pitrDirParts } from '../../core/janitor.js';
import { OWNED_DATABASE } from '../../core/runNames.js';
import { stacksLoader, stackFromInput, type LoadStacks } from '../plan/stacks.js';
import { dropOwnedDatabase, withPostgresAdmin } from '../postgres/session.js';
import { openQdrant } from '../qdrant/client.js';
import { deleteOwnedCollection, listCollectionNames } from '../qdrant/collections.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { listPitrLeftovers, sweepPitrLeftovers } from './pitr.js';
import { runningScratchRuns } from './runningTags.js';

export interface JanitorReport {
  droppedDatabases: string[];
  deletedCollections: string[];
  removedTempDirs: string[];
  /** Physical drills' scratch data directories (ragops-pitr-*), and those whose server had to be stopped first. */
  removedPitrDirs: string[];
  stoppedScratchServers: string[];
  /** Per-call pgbackrest.conf dirs (ragops-pgbackrest-*) a killed worker left, with the repository's secrets in them. */
  removedPgbackrestConfigs: string[];
  /** Originals a crashed restore renamed aside (`ragops_old_*`): never dropped here, for an operator to look at. */
  asideOriginals: string[];
  /** Why a kind of leftover was not swept this time. */
  notes: string[];
}

const TEMP_DIR = /^ragops-restore-/;
/** A drill dir younger than this may belong to a drill of another ragops (another server) on this host. */
const TEMP_DIR_MIN_AGE_MS = 10 * 60_000;

/**
 * Removes what crashed or terminated runs of a stack left: scratch databases and collections
 * whose run is no longer running, and local drill dirs older than 10 minutes when no drill or
 * restore runs at all (their names do not say whose they are); physical drills' scratch data
 * directories of runs no longer running (their server stopped first), and pgBackRest config
 * dirs (see pitr.ts). Only names ragops owns are touched.
 */
export interface SweepOptions {
  progress?: ProgressHeartbeat;
  /** Narrows what is looked at (a test sharing its servers with other runs' scratch targets). */
  only?: (name: string) => boolean;
}

export async function sweepOrphans(stack: StackConfig, client: Client, { progress, only = () => true }: SweepOptions = {}): Promise<JanitorReport> {
  const report: JanitorReport = {
    droppedDatabases: [],
    deletedCollections: [],
    removedTempDirs: [],
    removedPitrDirs: [],
    stoppedScratchServers: [],
    removedPgbackrestConfigs: [],
    asideOriginals: [],
    notes: [],
  };
  // Listed before the running runs: a target created after this listing is not looked at.
  progress?.phase('listing scratch targets');
  const databases = new Map<string, string[]>();
  for (const target of stack.postgres ?? []) {
    const names = await withPostgresAdmin(target, undefined, async ({ admin }) =>
      (await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ragops\\_%'")).rows.map((row) => row.datname),
    );
    databases.set(target.name, names.filter((name) => OWNED_DATABASE.test(name) && only(name)));
  }
  const collections = (stack.qdrant ? await listCollectionNames({ url: stack.qdrant.url, apiKey: stack.qdrant.apiKey }) : []).filter(only);
  const tempRoots = [...new Set([tmpdir(), ...(stack.drill?.tempDir ? [stack.drill.tempDir] : [])])];
  const tempDirs = (await Promise.all(tempRoots.map(async (root) => (await readdir(root).catch(() => [])).filter((name) => TEMP_DIR.test(name)).map((name) => join(root, name))))).flat().filter(only);
  // Only a stack with physical targets owns such leftovers, and only its labels' scratch dirs:
  // another stack's janitor on this host must not sweep a drill it cannot see running.
  const physicalLabels = new Set((stack.postgres ?? []).filter((target) => target.physical).map((target) => target.name));
  const ownsPitrPath = (path: string) => {
    const parts = pitrDirParts(basename(path));
    return parts === undefined || physicalLabels.has(parts.label);
  };
  const pitrLeftovers = physicalLabels.size === 0 ? { scratchDirs: [], configDirs: [] } : await listPitrLeftovers(tempRoots, (path) => only(path) && ownsPitrPath(path));

  progress?.phase('finding running drills and restores');
  const running = await runningScratchRuns(client);

  progress?.phase('removing orphans');
  const seenDatabases = new Set<string>();
  for (const target of stack.postgres ?? []) {
    const names = databases.get(target.name) ?? [];
    for (const name of names.filter(isAsideOriginal)) if (!report.asideOriginals.includes(name)) report.asideOriginals.push(name);
    const orphans = orphansAmong(names, running.tags).filter((name) => !seenDatabases.has(name));
    if (orphans.length === 0) continue;
    await withPostgresAdmin(target, undefined, async ({ admin }) => {
      for (const name of orphans) {
        seenDatabases.add(name);
        if (await dropOwnedDatabase(admin, name)) report.droppedDatabases.push(name);
      }
    });
  }
  const orphanCollections = orphansAmong(collections, running.tags);
  if (stack.qdrant && orphanCollections.length > 0) {
    const endpoint = { url: stack.qdrant.url, apiKey: stack.qdrant.apiKey };
    const session = await openQdrant(endpoint);
    for (const name of orphanCollections) if (await deleteOwnedCollection(session, endpoint, name)) report.deletedCollections.push(name);
  }
  if (running.runs > 0) {
    if (tempDirs.length > 0) report.notes.push(`${tempDirs.length} local drill dir(s) kept: ${running.runs} drill or restore run(s) are running and the dirs do not say whose they are`);
  } else {
    for (const dir of tempDirs) {
      const modified = await stat(dir).then((info) => info.mtimeMs, () => Date.now());
      if (Date.now() - modified < TEMP_DIR_MIN_AGE_MS) continue;
      await rm(dir, { recursive: true, force: true });
      report.removedTempDirs.push(dir);
    }
  }
  const binDirOf = (label: string) => stack.postgres?.find((target) => target.name === label)?.physical?.binDir;
  const pitr = await sweepPitrLeftovers(pitrLeftovers, running, binDirOf);
  report.removedPitrDirs.push(...pitr.removedPitrDirs);
  report.stoppedScratchServers.push(...pitr.stoppedScratchServers);
  report.removedPgbackrestConfigs.push(...pitr.removedPgbackrestConfigs);
  report.notes.push(...pitr.notes);
  report.notes.push("Qdrant snapshots left on a node are not swept: their names are Qdrant's, not ragops-owned");
  return report;
}

export function createJanitorActivities(deps: { loadStacks?: LoadStacks; temporalClient: () => Promise<Client> }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /** The janitor step of pruneBackups: sweeps a stack's orphans (see sweepOrphans). */
    async sweepOrphans(input: { stack: string }): Promise<JanitorReport> {
      const progress = new ProgressHeartbeat(`janitor of ${input.stack}`);
      const stack = stackFromInput(await loadStacks(), input.stack);
      return progress.during(deps.temporalClient().then((client) => sweepOrphans(stack, client, { progress })));
    },
  };
}
