import type { BackupOptions } from '../../config/inputs.js';
import { notifyOf } from '../../config/stacks/notify.js';
import type { BackupPlan } from '../../config/plan.js';
import type { SecretRef } from '../../config/secrets.js';
import { BACKUP_COMPONENT_KINDS, configuredComponents, hasPhysical, parseSelectors, pickLabels, type BackupComponentKind, type ComponentSelection, type StackConfig } from '../../config/stacks/index.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';
import { storeLocation, withStore } from '../store/open.js';
import { previousMirrorKeys } from '../store/catalog.js';
import { backupIdOf, isOwnedCollection } from '../../core/runNames.js';
import { newRunTag } from './runTag.js';
import { deployedService } from './dr.js';

export interface PlanDeps {
  loadStacks?: LoadStacks;
  listQdrantCollections(qdrant: { url: string; apiKey?: SecretRef }): Promise<string[]>;
}

const configuredKinds = (stack: StackConfig): BackupComponentKind[] =>
  BACKUP_COMPONENT_KINDS.filter((kind) => (kind === 'qdrant' ? stack.qdrant !== undefined : componentsOf(stack, kind).length > 0));

const componentsOf = (stack: StackConfig, kind: Exclude<BackupComponentKind, 'qdrant'>) => configuredComponents(stack)[kind];

/** What this run backs up: a named plan's components, the kinds asked for, or everything configured. */
function selectionFor(stack: StackConfig, options: BackupOptions): ComponentSelection {
  const configured = configuredKinds(stack);
  if (options.plan !== undefined) {
    const plan = stack.plans?.[options.plan];
    if (!plan) throw invalidInput(`plan: stack "${options.stack}" has no backup plan "${options.plan}"${stack.plans ? ` (it has ${Object.keys(stack.plans).join(', ')})` : ''}`);
    return parseSelectors(plan.components);
  }
  const kinds = options.components ?? configured;
  const missing = kinds.filter((kind) => !configured.includes(kind));
  if (missing.length > 0) throw invalidInput(`components: stack "${options.stack}" has no ${missing.join(' or ')} configured`);
  if (kinds.length === 0) throw invalidInput(`components: stack "${options.stack}" configures no component to back up`);
  if (options.collections && !kinds.includes('qdrant')) throw invalidInput('collections: given, but qdrant is not among the components of this backup');
  return Object.fromEntries(kinds.map((kind) => [kind, kind === 'qdrant' && options.collections ? options.collections : 'all']));
}

export function createBackupPlanActivities(deps: PlanDeps) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /** Resolves a stack into the non-secret plan of one backup run; nothing is written. */
    async resolveBackupPlan({ options }: { options: BackupOptions }): Promise<BackupPlan> {
      const stack = stackFromInput(await loadStacks(), options.stack);
      const selection = selectionFor(stack, options);
      const pick = <T extends { name: string }>(kind: Exclude<BackupComponentKind, 'qdrant'>, all: T[]): T[] => {
        const { picked } = pickLabels(selection, kind, all.map((c) => c.name));
        return all.filter((c) => picked.includes(c.name));
      };

      let qdrant: BackupPlan['qdrant'];
      if (stack.qdrant && selection.qdrant !== undefined) {
        const onNode = await deps.listQdrantCollections(stack.qdrant);
        const wanted = selection.qdrant === 'all' ? stack.qdrant.collections : selection.qdrant;
        // "*" means the stack's own collections: never the scratch collections of a running drill.
        const collections = wanted.includes('*') ? onNode.filter((name) => !isOwnedCollection(name)) : [...new Set(wanted)];
        const absent = collections.filter((name) => !onNode.includes(name));
        if (absent.length > 0) {
          throw invalidInput(`collections: ${absent.map((name) => `"${name}"`).join(', ')} not found on Qdrant at ${stack.qdrant.url}`);
        }
        qdrant = { url: stack.qdrant.url, apiKey: stack.qdrant.apiKey, collections };
      }
      const mirrors = pick('mirror', stack.mirrors);
      const previous = mirrors.length === 0 ? {} : await withStore(stack.store, (store) => previousMirrorKeys(store, options.stack, mirrors.map((m) => m.name), stack.store.encryption?.clientSide !== undefined));
      const runTag = newRunTag();
      const plan: BackupPlan = {
        stack: options.stack,
        backupId: backupIdOf(new Date(), runTag),
        runTag,
        store: stack.store,
        storeLocation: storeLocation(stack.store),
        components: BACKUP_COMPONENT_KINDS.filter((kind) => selection[kind] !== undefined),
        postgres: pick('postgres', stack.postgres),
        qdrant,
        redis: pick('redis', stack.redis),
        mirrors: mirrors.map((component) => ({ component, ...(previous[component.name] ? { previousKey: previous[component.name] } : {}) })),
        execDumps: pick('exec', stack.execDumps),
        physical: pick('pgbackrest', stack.postgres.filter(hasPhysical)).map((target) => ({
          target,
          type: options.physicalType ?? (options.plan !== undefined ? stack.plans?.[options.plan]?.physical : undefined) ?? 'incr',
        })),
        ...(stack.dr && stack.deploy ? { deploy: { target: stack.deploy.target, services: Object.keys(stack.deploy.services).map((service) => deployedService(stack, service)) } } : {}),
        retention: options.plan !== undefined ? (stack.plans?.[options.plan]?.retention ?? stack.retention) : stack.retention,
        ...(options.plan !== undefined ? { planName: options.plan } : {}),
        ...notifyOf(stack),
      };
      return plan;
    },
  };
}
