import { z } from 'zod';
import { drEvidenceSummarySchema, drillOutcomeSchema } from './manifest.js';
import { backupId, stackName } from './names.js';

/**
 * The per-stack catalog object (`<stack>/catalog.json`): what `ragops status` and the metrics
 * need, so they read one object instead of every manifest. The manifests and evidence files
 * stay the truth: the catalog is rebuilt from them when missing, unparsable or stale.
 */
export const STACK_CATALOG_FORMAT = 1;

const iso = z.iso.datetime();

/** The newest complete backup of one plan (`plan: null`: backups made without a plan). */
export const catalogPlanSchema = z.object({
  plan: z.string().nullable(),
  backupId,
  startedAt: iso,
  finishedAt: iso,
  /** Sum of the manifest's artifact sizes. */
  bytes: z.number().int().nonnegative(),
  artifacts: z.number().int().nonnegative(),
  /** Complete backups of this plan the catalog has seen (exact after a rebuild). */
  completeBackups: z.number().int().nonnegative(),
});
export type CatalogPlan = z.infer<typeof catalogPlanSchema>;

export const catalogDrillSchema = z.object({
  key: z.string(),
  backupId,
  /** The drilled backup's plan, when the catalog knew its manifest. */
  plan: z.string().nullable(),
  depth: z.enum(['checksum', 'restore']),
  outcome: drillOutcomeSchema,
  startedAt: iso,
  finishedAt: iso,
});
export type CatalogDrill = z.infer<typeof catalogDrillSchema>;

export const catalogDrSchema = drEvidenceSummarySchema.extend({
  key: z.string(),
  backupId,
  /** When the run validated the recovered stack (its RTO's end), else its start from the key. */
  at: iso,
});
export type CatalogDr = z.infer<typeof catalogDrSchema>;

export const stackCatalogSchema = z.object({
  formatVersion: z.literal(STACK_CATALOG_FORMAT),
  stack: stackName,
  /** When the catalog was last rebuilt from a full listing of the stack's keys. */
  rebuiltAt: iso,
  updatedAt: iso,
  /** One entry per plan, sorted by plan name (null first). */
  plans: z.array(catalogPlanSchema),
  /** The newest drill of any depth and outcome, by its finishedAt. */
  lastDrill: catalogDrillSchema.nullable(),
  lastPassingDrill: catalogDrillSchema.nullable(),
  lastPassingRestoreDrill: catalogDrillSchema.nullable(),
  /** The newest disaster recovery or DR drill evidence of the stack's backups. */
  lastDr: catalogDrSchema.nullable(),
  lastDrDrill: catalogDrSchema.nullable(),
  counts: z.object({
    completeBackups: z.number().int().nonnegative(),
    drills: z.object({ passed: z.number().int().nonnegative(), failed: z.number().int().nonnegative(), inconclusive: z.number().int().nonnegative() }),
    drRuns: z.number().int().nonnegative(),
    /** Manifests and evidence files that could not be read or parsed (never taken as a verdict). */
    unreadable: z.number().int().nonnegative(),
  }),
  /**
   * The evidence keys (manifest, drill and DR files) of the newest backups, from `from` on:
   * a reader lists the keys from `from` and folds any it does not find here, so a lost
   * concurrent update or a missed hook among recent backups is caught at the next read.
   */
  window: z.object({ from: backupId.nullable(), keys: z.array(z.string()) }),
});
export type StackCatalog = z.infer<typeof stackCatalogSchema>;
