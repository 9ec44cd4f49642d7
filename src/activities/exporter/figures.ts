import type { DrillOutcome } from '../../config/manifest.js';
import { readStackCatalog } from '../store/stackCatalog.js';
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

/** The one place the exporter reads a stack's figures: its catalog object (rebuilt from the manifests when missing or stale). */
export async function readStackFigures(store: ArtifactStore, stack: string): Promise<StackFigures> {
  const catalog = await readStackCatalog(store, stack);
  return {
    plans: catalog.plans.map(({ plan, finishedAt, bytes }) => ({ plan, finishedAt, bytes })),
    ...(catalog.lastDrill ? { lastDrill: { outcome: catalog.lastDrill.outcome, finishedAt: catalog.lastDrill.finishedAt } } : {}),
    ...(catalog.lastPassingRestoreDrill ? { lastPassingRestoreDrillAt: catalog.lastPassingRestoreDrill.finishedAt } : {}),
    ...(catalog.lastDr ? { lastDr: { rto: catalog.lastDr.rto, rpo: catalog.lastDr.rpo } } : {}),
  };
}
