// A run's "static details" in the Web UI: what it was asked to do, resolved against the stacks
// file the client read (components with their labels, store, retention, targets, steps), in
// Markdown. Written once at start, so it shows the plan as the operator launched it. Secret
// references are never shown (not even their names), and URLs lose userinfo, query and fragment.
import type {
  BackupOptions,
  CanaryOptions,
  DeployOptions,
  DisasterRecoveryOptions,
  PruneOptions,
  ReingestOptions,
  RestoreOptions,
  VerifyOptions,
} from '../config/inputs.js';
import type { StackConfig } from '../config/stacks/index.js';
import type { CanaryConfig } from '../config/stacks/canary.js';
import type { DeployTarget } from '../config/stacks/deploy.js';
import type { RetentionPolicy } from '../config/stacks/retention.js';
import type { StoreConfig } from '../config/stacks/store.js';
import { describeCanaryStep } from './canaryDetails.js';
import { redactUrls } from './redact.js';

export type RunbookRequest =
  | { runbook: 'backup'; input: BackupOptions }
  | { runbook: 'verifyBackup'; input: VerifyOptions }
  | { runbook: 'restore'; input: RestoreOptions }
  | { runbook: 'pruneBackups'; input: PruneOptions }
  | { runbook: 'deploy'; input: DeployOptions }
  | { runbook: 'canary'; input: CanaryOptions }
  | { runbook: 'reingest'; input: ReingestOptions }
  | { runbook: 'disasterRecovery'; input: DisasterRecoveryOptions };

/** The stack as the client read it, or why it could not (the worker resolves it again at the run's first step). */
export type StackView = { stack: StackConfig } | { unavailable: string };

type Row = [string, string];

const cell = (text: string) => redactUrls(text).replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;
const list = (items: string[], none = 'none') => (items.length === 0 ? none : items.join(', '));

export function describeStore(store: StoreConfig): string {
  const encrypted = store.encryption && 'clientSide' in store.encryption && store.encryption.clientSide ? ', client-side encrypted' : '';
  if (store.type === 'fs') return `filesystem ${code(store.path)}${encrypted}`;
  const endpoint = store.endpoint ? ` at ${store.endpoint}` : '';
  return `S3 ${code(`s3://${store.bucket}/${store.prefix ?? ''}`)}${endpoint} (${store.region})${encrypted}`;
}

export function describeRetention(policy: RetentionPolicy | undefined): string {
  if (!policy) return 'no retention policy: nothing is pruned';
  const rules = [
    policy.keepLast ? `last ${policy.keepLast}` : '',
    policy.keepDaily ? `${policy.keepDaily} daily` : '',
    policy.keepWeekly ? `${policy.keepWeekly} weekly` : '',
    policy.keepMonthly ? `${policy.keepMonthly} monthly` : '',
    policy.maxAgeDays !== undefined ? `none older than ${policy.maxAgeDays} d` : '',
  ].filter(Boolean);
  return `keep ${list(rules, 'nothing by rule')}; never the newest ${policy.minVerified} verified`;
}

function describeTarget(target: DeployTarget): string {
  return target.type === 'compose'
    ? `Docker Compose project ${code(target.projectName)} in ${code(target.directory)}`
    : `Kubernetes namespace ${code(target.namespace)}${target.context ? ` (context ${code(target.context)})` : ''}`;
}

/** Every component a stack configures, one phrase each: label and where it lives, no credentials. */
function components(stack: StackConfig): Record<'postgres' | 'pgbackrest' | 'qdrant' | 'redis' | 'mirror' | 'exec', Array<{ label: string; text: string }>> {
  return {
    postgres: stack.postgres.map((t) => ({ label: t.name, text: `postgres ${code(t.name)} (${t.database} on ${t.host}:${t.port})` })),
    pgbackrest: stack.postgres.filter((t) => t.physical).map((t) => ({ label: t.name, text: `pgBackRest ${code(t.name)} (cluster of ${t.host}:${t.port})` })),
    qdrant: stack.qdrant ? stack.qdrant.collections.map((c) => ({ label: c, text: `qdrant ${c === '*' ? 'every collection' : code(c)} at ${stack.qdrant!.url}` })) : [],
    redis: stack.redis.map((r) => ({ label: r.name, text: `redis ${code(r.name)} (${r.host}:${r.port})` })),
    mirror: stack.mirrors.map((m) => ({ label: m.name, text: `bucket mirror ${code(m.name)} (${code(`s3://${m.bucket}/${m.prefix}`)})` })),
    exec: stack.execDumps.map((e) => ({ label: e.name, text: `exec dump ${code(e.name)} (${Object.keys(e.run)[0]} command, ${e.extension})` })),
  };
}

type Kind = keyof ReturnType<typeof components>;

/** The components a backup picks: a plan's selectors, the kinds asked for, or all configured. */
function backupComponents(stack: StackConfig, input: BackupOptions): string[] {
  const all = components(stack);
  const selectors: Array<[Kind, string | undefined]> = input.plan
    ? (stack.plans?.[input.plan]?.components ?? []).map((s) => s.split(':', 2) as [Kind, string | undefined])
    : ((input.components ?? (Object.keys(all) as Kind[])) as Kind[]).map((kind) => [kind, undefined]);
  const picked: string[] = [];
  for (const [kind, label] of selectors) {
    if (kind === 'qdrant' && !label && input.collections && stack.qdrant) {
      picked.push(...input.collections.map((c) => `qdrant ${code(c)} at ${stack.qdrant!.url}`));
      continue;
    }
    for (const component of all[kind] ?? []) if (label === undefined || component.label === label) picked.push(component.text);
    if (kind === 'qdrant' && label && stack.qdrant && !all.qdrant.some((c) => c.label === label)) picked.push(`qdrant ${code(label)} at ${stack.qdrant.url}`);
  }
  return [...new Set(picked)];
}

function canaryRows(canary: CanaryConfig | undefined, input: CanaryOptions): Row[] {
  const steps = input.steps ?? canary?.steps ?? [];
  return [
    ['steps', steps.length === 0 ? 'the stack has no canary section for this service' : steps.map((s, i) => `${i + 1}. ${describeCanaryStep(s)}`).join('; ')],
    ...(canary
      ? ([
          ['traffic', `${canary.traffic.type} shifter, weight at most ${canary.maxWeight} % before promotion`],
          ['metrics', list(canary.metrics.map((m) => `${m.name} (${m.provider.type})`))],
        ] as Row[])
      : []),
  ];
}

function rowsFor(request: RunbookRequest, stack: StackConfig | undefined): Row[] {
  const store: Row[] = stack ? [['store', describeStore(stack.store)]] : [];
  switch (request.runbook) {
    case 'backup': {
      const { input } = request;
      const plan = input.plan ? stack?.plans?.[input.plan] : undefined;
      const retention = input.plan ? (plan?.retention ?? stack?.retention) : stack?.retention;
      return [
        ['plan', input.plan ? code(input.plan) : 'none (components given or all configured)'],
        ['components', stack ? list(backupComponents(stack, input)) : list(input.components ?? [], 'all configured')],
        ...store,
        ['verify after writing', input.verify === 'checksum' ? 'checksum: every artifact re-read from the store' : 'none'],
        ...(input.physicalType || plan?.physical ? ([['pgBackRest type', input.physicalType ?? plan!.physical!]] as Row[]) : []),
        ['prune after', !input.prune ? 'off (prune: false)' : stack ? describeRetention(retention) : 'by the stack’s retention, if any'],
      ];
    }
    case 'verifyBackup': {
      const { input } = request;
      return [
        ['backup', input.backupId ? code(input.backupId) : input.at ? `the newest that ended before ${input.at}` : 'the newest complete one'],
        ['depth', input.depth === 'checksum' ? 'checksum: every artifact re-read and hashed' : 'restore: into scratch targets, counts compared exactly, sanity checks, scratch dropped'],
        ...(input.at ? ([['recover to', input.at]] as Row[]) : []),
        ...store,
        ...(stack && input.depth === 'restore' ? ([['scratch targets on', list(Object.values(components(stack)).flat().filter((c) => !c.text.startsWith('bucket')).map((c) => c.text))]] as Row[]) : []),
      ];
    }
    case 'restore': {
      const { input } = request;
      const renamed = [
        ...Object.entries(input.postgres).map(([label, o]) => `postgres ${code(label)} → ${o.into ? `new cluster in ${code(o.into.dataDirectory)} on port ${o.into.port}` : code(o.database ?? 'its configured database')}${o.confirm ? ' (replace confirmed)' : ''}`),
        ...Object.entries(input.qdrant).map(([name, o]) => `qdrant ${code(name)} → ${code(o.collection ?? name)}${o.confirm ? ' (replace confirmed)' : ''}`),
        ...Object.entries(input.redis).map(([label, o]) => `redis ${code(label)} → ${o.into ? `new redis-server on ${o.into.bind}:${o.into.port}` : 'over the running one'}${o.confirm ? ' (confirmed)' : ''}`),
      ];
      return [
        ['backup', input.backupId ? code(input.backupId) : 'the newest complete one'],
        ['into stack', code(input.targetStack ?? input.stack)],
        ['components', list(input.components ?? [], 'all in the backup')],
        ...(renamed.length ? ([['targets', renamed.join('; ')]] as Row[]) : []),
        ...(input.at ? ([['recover to', input.at]] as Row[]) : []),
        ['aliases', input.aliases ? 'pointed at the restored collections' : 'left as they are'],
        ['roles', input.roles ? 'missing roles created (no passwords)' : 'not created'],
        ...store,
      ];
    }
    case 'pruneBackups': {
      const { input } = request;
      const retention = input.plan ? (stack?.plans?.[input.plan]?.retention ?? stack?.retention) : stack?.retention;
      return [
        ['backups of', input.plan ? `plan ${code(input.plan)}` : 'no plan'],
        ['mode', input.dryRun ? 'dry run: plan only, nothing deleted' : 'delete what the policy does not keep'],
        ...(stack ? ([['policy', describeRetention(retention)]] as Row[]) : []),
        ...store,
      ];
    }
    case 'deploy': {
      const { input } = request;
      return [
        ['service', code(input.service)],
        ['image', code(input.image)],
        ['strategy', input.strategy === 'blueGreen' ? `blue-green, rollback window ${input.rollbackWindowSeconds} s` : 'rolling'],
        ['backup first', input.backup ? 'yes (child backup run)' : 'no'],
        ...(stack?.deploy ? ([['target', describeTarget(stack.deploy.target)]] as Row[]) : []),
      ];
    }
    case 'canary': {
      const { input } = request;
      return [
        ['service', code(input.service)],
        ['image', code(input.image)],
        ...(stack?.deploy ? ([['target', describeTarget(stack.deploy.target)]] as Row[]) : []),
        ...canaryRows(stack?.canary?.[input.service], input),
      ];
    }
    case 'reingest': {
      const { input } = request;
      const source = stack?.reingest?.sources[input.source];
      const embedder = stack?.reingest?.embedders[input.embedder];
      return [
        ['alias', code(input.alias)],
        ['source', `${code(input.source)}${source ? ` (${source.kind === 'postgres' ? 'PostgreSQL query' : 'S3 JSONL'})` : ''}, ${input.pageSize} rows a page`],
        ['embedder', `${code(input.embedder)}${embedder ? ` (${embedder.type} ${code(embedder.model)})` : ''}, ${input.batchSize} texts a request, ${input.concurrency} at once`],
        ['switch', input.approve === 'manual' ? `on approval (waits ${input.approveTimeout})` : 'as soon as the gate passes'],
        ['rollback window', input.window],
        ...(stack?.reingest ? ([['gate', `recall@${stack.reingest.gate.k} ≥ ${stack.reingest.gate.minRecall} over ${stack.reingest.golden.length} golden queries`]] as Row[]) : []),
      ];
    }
    case 'disasterRecovery': {
      const { input } = request;
      const dr = stack?.dr;
      return [
        ['mode', input.mode === 'plan' ? 'plan: assess only, change nothing' : input.mode === 'drill' ? `drill into ${code(input.into ?? dr?.drillStack ?? '(the stack’s dr.drillStack)')}, production untouched` : 'recover the stack itself'],
        ['backup', input.backupId ? code(input.backupId) : input.at ? `the newest that finished by ${input.at}` : 'the newest verified one'],
        ['approval', input.approve === 'auto' ? 'none (auto)' : `manual${dr ? `, waited for ${dr.approvalTimeout}` : ''}`],
        ...(dr
          ? ([
              ['targets', `RTO ${dr.targets.rtoMinutes} min, RPO ${dr.targets.rpoMinutes} min`],
              ['restore order', restoreOrderText(dr.restoreOrder)],
              ['services', list(dr.services ?? dr.writers)],
            ] as Row[])
          : []),
        ...store,
      ];
    }
  }
}

/** The Markdown block: a title line, a two-column table of what the run will do, and where the plan came from. */
export function runStaticDetails(request: RunbookRequest, view: StackView): string {
  const stack = 'stack' in view ? view.stack : undefined;
  const rows = rowsFor(request, stack);
  const title = `**${request.runbook}** of stack ${code(request.input.stack)}`;
  return [
    title,
    '',
    '| | resolved plan |',
    '|---|---|',
    ...rows.map(([name, value]) => `| ${cell(name)} | ${cell(value)} |`),
    '',
    'stack' in view ? '_resolved from the stacks file the client read; the worker resolves it again at the first step_' : `_stacks file not read here (${cell(view.unavailable)}): the worker resolves the plan at the first step_`,
  ].join('\n');
}

/** The declared order, and the kinds it leaves out that a recovery appends when the backup holds them. */
function restoreOrderText(order: string[][]): string {
  const appended = ['mirror', 'exec'].filter((kind) => !order.flat().includes(kind));
  return `${order.map((group) => group.join(' + ')).join(' → ')}${appended.length ? ` (then ${appended.join(' + ')}, when the backup holds them)` : ''}`;
}
