import { z } from 'zod';
import { retentionSchema } from './retention.js';

// Named backup plans: each backs up a set of the stack's components on its own schedule and
// keeps its backups by its own retention, e.g. Redis hourly for 3 days, Qdrant daily for 7.

// postgres: logical dumps; pgbackrest: physical backups of the targets with a `physical` section.
export const BACKUP_COMPONENT_KINDS = ['postgres', 'pgbackrest', 'qdrant', 'redis', 'mirror', 'exec'] as const;
export type BackupComponentKind = (typeof BACKUP_COMPONENT_KINDS)[number];

export const backupPlanName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'plan names are lower-case letters, digits and "-" (max 63)');

/** "redis" (every Redis of the stack) or "redis:cache" (one, by its label; for qdrant, a collection). */
export const componentSelector = z
  .string()
  .regex(
    /^(postgres|pgbackrest|qdrant|redis|mirror|exec)(:[A-Za-z0-9][A-Za-z0-9_-]{0,254})?$/,
    'a component is postgres, pgbackrest, qdrant, redis, mirror or exec, alone (all of that kind) or with ":<label>" (qdrant: ":<collection>")',
  );

export const backupPlanSchema = z
  .object({
    components: z.array(componentSelector).min(1, 'list the components this plan backs up'),
    /** The pgBackRest backup type of this plan's physical backups (a weekly `full` plan, a daily `incr` one). */
    physical: z.enum(['full', 'diff', 'incr']).optional(),
    /** This plan's backups are kept by this policy; other plans' backups are never touched by it. */
    retention: retentionSchema.optional(),
  })
  .strict();
export type BackupPlanConfig = z.infer<typeof backupPlanSchema>;

/** What a set of selectors picks: per kind, "all" or the labels named. */
export type ComponentSelection = Partial<Record<BackupComponentKind, 'all' | string[]>>;

export function parseSelectors(selectors: readonly string[]): ComponentSelection {
  const selection: ComponentSelection = {};
  for (const selector of selectors) {
    const [kind, label] = selector.split(':', 2) as [BackupComponentKind, string | undefined];
    const current = selection[kind];
    if (label === undefined || current === 'all') selection[kind] = 'all';
    else selection[kind] = [...new Set([...(current ?? []), label])];
  }
  return selection;
}

/** The labels of `kind` a selection picks among those configured; the unknown ones named in `unknown`. */
export function pickLabels(selection: ComponentSelection, kind: BackupComponentKind, configured: readonly string[]): { picked: string[]; unknown: string[] } {
  const wanted = selection[kind];
  if (wanted === undefined) return { picked: [], unknown: [] };
  if (wanted === 'all') return { picked: [...configured], unknown: [] };
  return { picked: wanted.filter((label) => configured.includes(label)), unknown: wanted.filter((label) => !configured.includes(label)) };
}
