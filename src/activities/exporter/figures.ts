import type { DrillOutcome } from '../../config/manifest.js';
import { listBackupsIn } from '../store/catalog.js';
import type { ArtifactStore } from '../store/types.js';

/** What the exporter publishes of one stack, read from its store. */
export interface StackFigures {
  /** The newest complete backup of each plan (`null`: backups made without a plan). */
  plans: Array<{ plan: string | null; finishedAt: string; bytes: number }>;
  /** The newest drill of any depth and outcome. */
  lastDrill?: { outcome: DrillOutcome; finishedAt: string };
  /** When the newest passing restore-depth drill finished. */
  lastPassingRestoreDrillAt?: string;
  /** The newest disaster recovery or DR drill's measured RTO and RPO against their targets. */
  lastDr?: { rto?: { seconds: number; targetSeconds: number }; rpo?: { seconds: number; targetSeconds: number } };
}

const newer = (a: string | undefined, b: string) => a === undefined || Date.parse(b) > Date.parse(a);

/**
 * The one place the exporter reads a stack's figures from the store.
 * TODO(issue 15): read the per-stack catalog object instead of listing every manifest.
 */
export async function readStackFigures(store: ArtifactStore, stack: string): Promise<StackFigures> {
  const byPlan = new Map<string | null, { plan: string | null; finishedAt: string; bytes: number }>();
  const figures: StackFigures = { plans: [] };
  let lastDrKey: string | undefined;
  for (const listing of await listBackupsIn(store, stack)) {
    const manifest = listing.manifest;
    const plan = manifest?.plan ?? null;
    if (manifest && newer(byPlan.get(plan)?.finishedAt, manifest.finishedAt)) {
      byPlan.set(plan, { plan, finishedAt: manifest.finishedAt, bytes: manifest.artifacts.reduce((sum, artifact) => sum + artifact.size, 0) });
    }
    const drill = listing.lastVerification;
    if (drill && newer(figures.lastDrill?.finishedAt, drill.finishedAt)) figures.lastDrill = { outcome: drill.outcome, finishedAt: drill.finishedAt };
    const restore = listing.lastRestoreVerification;
    if (restore?.outcome === 'passed' && newer(figures.lastPassingRestoreDrillAt, restore.finishedAt)) figures.lastPassingRestoreDrillAt = restore.finishedAt;
    // DR evidence names start with the run's start time (dr/<stamp>-…): the greatest is the newest run.
    const dr = listing.lastDr;
    const drName = dr?.key.split('/').at(-1);
    if (dr && drName && (lastDrKey === undefined || drName > lastDrKey)) {
      lastDrKey = drName;
      figures.lastDr = { rto: dr.rto, rpo: dr.rpo };
    }
  }
  figures.plans = [...byPlan.values()];
  return figures;
}
