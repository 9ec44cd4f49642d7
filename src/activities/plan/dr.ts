import type { DisasterRecoveryOptions } from '../../config/inputs.js';
import { notifyOf } from '../../config/stacks/notify.js';
import type { Manifest } from '../../config/manifest.js';
import type { DrPlan, DrService } from '../../config/plan.js';
import type { StackConfig } from '../../config/stacks/index.js';
import type { DrRestoreKind } from '../../config/stacks/dr.js';
import { chooseDrBackup, type DrBackupCandidate } from '../../core/dr.js';
import { createDrActivities, type DeployedService } from '../dr/index.js';
import { serverBinDir } from '../pgbackrest/serverCommands.js';
import { withPostgresAdmin } from '../postgres/session.js';
import { listCollectionNames } from '../qdrant/collections.js';
import { listBackupsIn } from '../store/catalog.js';
import { withStore } from '../store/open.js';
import { newRunTag } from './runTag.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';

/** The deploy service's names on its target (as the deploy plan derives them). */
export function deployedService(stack: StackConfig, service: string): DeployedService {
  const config = stack.deploy?.services[service];
  return { service, composeService: config?.composeService ?? service, deployment: config?.deployment ?? service, container: config?.container ?? service };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
/** One host, as far as a name can tell: the same name, or both this machine's loopback. */
const sameHost = (a: string, b: string) => a === b || (LOOPBACK.has(a) && LOOPBACK.has(b));
/** The same directory, or one inside the other. */
const overlaps = (a: string, b: string) => {
  const [x, y] = [a.replace(/\/+$/, ''), b.replace(/\/+$/, '')];
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
};

/**
 * A drill's stack must not share a database, a cluster (data directory or host:port), a
 * collection, a Redis or a Compose project with production.
 */
function sharedWithProduction(production: StackConfig, drill: StackConfig, manifest: Manifest): string[] {
  const shared: string[] = [];
  for (const target of drill.postgres) {
    if (production.postgres.some((p) => p.host === target.host && p.port === target.port && p.database === target.database)) shared.push(`database ${target.database} on ${target.host}:${target.port}`);
    // A drill cluster recovered from pgBackRest is started on this host, on the target's port, from its pgData.
    if (target.physical) {
      const pgData = target.physical.pgData;
      for (const p of production.postgres) {
        if (p.physical && overlaps(p.physical.pgData, pgData)) shared.push(`the data directory ${pgData} (production's cluster ${p.name} is in ${p.physical.pgData})`);
        else if (p.port === target.port && (sameHost(p.host, target.host) || LOOPBACK.has(p.host) || p.host.startsWith('/'))) shared.push(`the cluster on ${target.host}:${target.port} (production's ${p.name} is ${p.host}:${p.port})`);
      }
    }
  }
  if (drill.qdrant && production.qdrant && drill.qdrant.url === production.qdrant.url) {
    const collections = manifest.artifacts.filter((a) => a.component === 'qdrant').map((a) => a.name);
    if (collections.length > 0) shared.push(`Qdrant ${drill.qdrant.url} (the backup's collections ${collections.join(', ')} would be recovered over production's)`);
  }
  for (const redis of drill.redis) if (production.redis.some((r) => r.host === redis.host && r.port === redis.port)) shared.push(`Redis ${redis.host}:${redis.port}`);
  const drillProject = drill.deploy?.target.type === 'compose' ? drill.deploy.target.projectName : undefined;
  if (drillProject && production.deploy?.target.type === 'compose' && production.deploy.target.projectName === drillProject) shared.push(`Compose project ${drillProject}`);
  return shared;
}

async function probe(component: string, check: () => Promise<string>): Promise<DrPlan['probes'][number]> {
  try {
    return { component, answers: true, detail: await check() };
  } catch (error) {
    return { component, answers: false, detail: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

export function createDrPlanActivities(deps: { loadStacks?: LoadStacks }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  const dr = createDrActivities();
  return {
    /**
     * The assess phase: the backup to restore (the newest whose last restore drill passed, by
     * `at`), what each component answers now, what will be stopped, restored and started.
     * Changes nothing.
     */
    async resolveDrPlan({ options }: { options: DisasterRecoveryOptions }): Promise<DrPlan> {
      const stacks = await loadStacks();
      const source = stackFromInput(stacks, options.stack, 'stack');
      if (!source.dr) throw invalidInput(`stack "${options.stack}" has no dr section: declare its targets, writers, services and validation first`);
      const targetName = options.mode === 'drill' ? (options.into ?? source.dr.drillStack) : options.stack;
      if (!targetName) throw invalidInput('into: a drill restores into another stack: give into, or set dr.drillStack');
      const target = stackFromInput(stacks, targetName, 'into');

      const listings = await withStore(source.store, (store) => listBackupsIn(store, options.stack));
      const complete = listings.filter((listing) => listing.manifest);
      const candidates: DrBackupCandidate[] = complete.map((listing) => ({
        backupId: listing.backupId,
        startedAt: listing.manifest!.startedAt,
        finishedAt: listing.manifest!.finishedAt,
        ...(listing.lastConclusiveVerification ? { lastConclusiveDrill: listing.lastConclusiveVerification.outcome } : {}),
        ...(listing.lastRestoreVerification ? { lastRestoreDrill: listing.lastRestoreVerification.outcome } : {}),
      }));
      // Newest first by the recorded times: ids sort by the second, so two backups of one second would tie.
      candidates.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.finishedAt.localeCompare(a.finishedAt));
      const choice = chooseDrBackup(candidates, { at: options.at, backupId: options.backupId, allowUnverified: options.allowUnverified });
      if ('refused' in choice) throw invalidInput(choice.refused);
      const manifest = complete.find((listing) => listing.backupId === choice.backupId)!.manifest!;

      if (options.mode === 'drill') {
        const shared = sharedWithProduction(source, target, manifest);
        if (shared.length > 0) throw invalidInput(`into: stack "${targetName}" shares ${shared.join('; ')} with production; a drill must never touch production`);
      }
      const refusals: string[] = [];
      // A database with physical backups is recovered to `at` (or the archive's end), not to the dump's time.
      const labels = [...new Set([...manifest.artifacts.filter((a) => a.component === 'postgres').map((a) => a.name), ...(manifest.physical ?? []).map((p) => p.name)])];
      const postgres: DrPlan['components']['postgres'] = [];
      const clusters: NonNullable<DrPlan['teardown']>['clusters'] & object = [];
      for (const label of labels) {
        const into = target.postgres.find((candidate) => candidate.name === label);
        if (!into) {
          refusals.push(`stack "${targetName}" configures no Postgres "${label}" to restore into`);
          continue;
        }
        const hasDump = manifest.artifacts.some((a) => a.component === 'postgres' && a.name === label);
        const physicalBackup = manifest.physical?.find((p) => p.name === label);
        // A physical backup is recovered whenever the target has a cluster of its own to recover into
        // (recover: production's; drill: the drill stack's), even beside a dump: a drill then
        // rehearses what a recovery would do, to `at` or the archive's end. Else the dump.
        if (physicalBackup && into.physical) {
          const from = source.postgres.find((candidate) => candidate.name === label);
          if (!from?.physical) {
            refusals.push(`postgres ${label}: stack "${options.stack}" no longer configures ${label} with a physical section, whose pgBackRest repository holds backup ${physicalBackup.label}`);
            continue;
          }
          postgres.push({ label, database: into.database, physical: { dataDirectory: into.physical.pgData, port: into.port } });
          if (options.mode === 'drill') {
            clusters.push({ label, dataDirectory: into.physical.pgData, port: into.port, binDir: serverBinDir(physicalBackup.postgresVersion, from.physical.binDir), ...(from.physical.osUser ? { osUser: from.physical.osUser } : {}) });
          }
        } else if (hasDump) postgres.push({ label, database: into.database });
        else if (options.mode === 'drill') {
          refusals.push(`postgres ${label}: the backup holds only a physical backup, and stack "${targetName}" gives ${label} no cluster of its own to recover it into: set postgres ${label}.physical.pgData (an empty directory) and a free port in the drill stack, or take a logical dump too (the postgres component)`);
        } else refusals.push(`postgres ${label}: the backup holds only a physical backup, and stack "${targetName}" configures ${label} with no physical section (pgData) to recover it into`);
      }
      const qdrant = manifest.artifacts.filter((artifact) => artifact.component === 'qdrant').map((artifact) => artifact.name);
      if (qdrant.length > 0 && !target.qdrant) refusals.push(`stack "${targetName}" configures no Qdrant to recover ${qdrant.length} collection(s) into`);
      const redis = manifest.artifacts.filter((artifact) => artifact.component === 'redis').map((artifact) => artifact.name);
      // Mirrors and exec dumps: listed with why one is not restored (never silently skipped).
      const drillRefusal = (what: string) => `a DR drill does not restore ${what} yet (production's objects and commands could be touched); \`ragops verify\` restore drills prove them restorable`;
      const mirror = manifest.artifacts.filter((a) => a.component === 'mirror').map(({ name: label }) =>
        options.mode === 'drill' ? { label, restorable: false, why: drillRefusal('mirrors') }
        : target.mirrors.some((m) => m.name === label) ? { label, restorable: true }
        : { label, restorable: false, why: `stack "${targetName}" no longer configures the mirror "${label}" to restore over` });
      const exec = manifest.artifacts.filter((a) => a.component === 'exec').map(({ name: label }) => {
        const configured = target.execDumps.find((e) => e.name === label);
        return options.mode === 'drill' ? { label, restorable: false, why: drillRefusal('exec dumps') }
          : !configured ? { label, restorable: false, why: `stack "${targetName}" no longer configures the exec dump "${label}"` }
          : !configured.restore ? { label, restorable: false, why: `the exec dump "${label}" has no restore section (restore.argv, fed the artifact on stdin)` }
          : { label, restorable: true };
      });
      const has: Record<DrRestoreKind, boolean> = {
        postgres: postgres.length > 0, qdrant: qdrant.length > 0, redis: redis.length > 0,
        mirror: mirror.some((m) => m.restorable), exec: exec.some((e) => e.restorable),
      };
      const restoreGroups = source.dr.restoreOrder.map((group) => group.filter((kind) => has[kind])).filter((group) => group.length > 0);
      // The object stores and exec dumps the declared order leaves out (the default does) come last, together.
      const named = new Set(source.dr.restoreOrder.flat());
      const last = (['mirror', 'exec'] as const).filter((kind) => has[kind] && !named.has(kind));
      if (last.length > 0) restoreGroups.push([...last]);

      const plan = target.dr ?? source.dr;
      const serviceNames = plan.services ?? plan.writers;
      const services: DrService[] = [];
      for (const service of serviceNames) {
        if (!target.deploy?.services[service]) {
          refusals.push(`stack "${targetName}" has no deploy service "${service}" to bring back`);
          continue;
        }
        const recorded = manifest.services?.find((entry) => entry.service === service)?.image;
        if (recorded) {
          services.push({ service, image: recorded, source: 'the backup manifest' });
          continue;
        }
        const [now] = await dr.recordServiceVersions({ target: target.deploy.target, services: [deployedService(target, service)] });
        if (now?.image) services.push({ service, image: now.image, source: 'running now' });
        else refusals.push(`service "${service}": the backup recorded no version and nothing runs now; deploy it once, or take a new backup`);
      }
      if (refusals.length > 0) throw invalidInput(`disaster recovery refused, nothing was touched: ${refusals.join('; ')}`);

      const probes = [
        ...(await Promise.all(
          target.postgres.map((server) =>
            probe(`postgres ${server.name}`, () => withPostgresAdmin(server, undefined, async ({ admin }) => {
              const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [server.database]);
              return found.rowCount ? `database ${server.database} exists` : `the server answers; database ${server.database} is missing`;
            })),
          ),
        )),
        ...(target.qdrant ? [await probe('qdrant', async () => `${(await listCollectionNames(target.qdrant!)).length} collection(s)`)] : []),
      ];

      return {
        stack: options.stack,
        mode: options.mode,
        targetStack: targetName,
        runTag: newRunTag(),
        store: source.store,
        backup: { backupId: manifest.backupId, startedAt: manifest.startedAt, finishedAt: manifest.finishedAt, verified: choice.verified, why: choice.why },
        dataAsOf: manifest.startedAt,
        ...(options.at !== undefined ? { at: options.at } : {}),
        restoreGroups,
        components: { postgres, qdrant, redis, ...(mirror.length > 0 ? { mirror } : {}), ...(exec.length > 0 ? { exec } : {}) },
        writers: options.mode === 'drill' ? [] : plan.writers.map((service) => deployedService(target, service)),
        ...(target.deploy ? { deployTarget: target.deploy.target } : {}),
        ...(options.mode === 'drill'
          ? {
              teardown: {
                postgres: postgres.filter((p) => !p.physical).map(({ label }) => ({ label, target: target.postgres.find((candidate) => candidate.name === label)! })),
                ...(clusters.length > 0 ? { clusters } : {}),
                ...(target.qdrant ? { qdrant: { url: target.qdrant.url, apiKey: target.qdrant.apiKey } } : {}),
                redis: redis.map((label) => target.redis.find((candidate) => candidate.name === label)).filter((found) => found !== undefined),
                services: services.map(({ service }) => deployedService(target, service)),
              },
            }
          : {}),
        services,
        dependencies: plan.dependencies,
        ...(plan.traffic ? { traffic: plan.traffic } : {}),
        validation: plan.validation.checks,
        targets: source.dr.targets,
        approvalTimeout: source.dr.approvalTimeout,
        probes,
        ...notifyOf(source),
      };
    },
  };
}
