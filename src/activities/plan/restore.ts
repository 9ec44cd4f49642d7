import type { RestoreOptions, VerifyOptions } from '../../config/inputs.js';
import { notifyOf } from '../../config/stacks/notify.js';
import type { Manifest } from '../../config/manifest.js';
import type { ExecRestoreStep, MirrorRestoreStep, RedisRestoreStep, RestorePlan, VerifyPlan } from '../../config/plan.js';
import type { MirrorComponent } from '../../config/stacks/mirror.js';
import { withMirrorSource } from '../mirror/source.js';
import type { SecretRef } from '../../config/secrets.js';
import { hasPhysical, type PhysicalPostgresTarget, type PostgresTarget, type StackConfig } from '../../config/stacks/index.js';
import type { PlanDeps } from './backup.js';
import { invalidInput, stackFromInput, stacksLoader } from './stacks.js';
import { findManifest, type NewestBackupFilter } from '../store/catalog.js';
import { withStore } from '../store/open.js';
import { newRunTag } from './runTag.js';

/** The named backup, or the newest complete one; an incomplete backup is never chosen. */
async function findBackup(stack: StackConfig, stackName: string, backupId: string | undefined, at?: string): Promise<{ manifest: Manifest; storeLocation: string }> {
  return withStore(stack.store, async (store) => {
    const found = await findManifest(store, stackName, backupId, at !== undefined ? physicalEndedBy(at) : undefined);
    if ('refused' in found) throw invalidInput(found.refused);
    return { manifest: found.manifest, storeLocation: store.location };
  });
}

/** Backups whose physical backups all ended by `at`: a recovery to `at` can start from them. */
function physicalEndedBy(at: string): NewestBackupFilter {
  const by = new Date(at);
  return {
    startedBy: by,
    accept: (manifest) => (manifest.physical ?? []).length > 0 && manifest.physical!.every((backup) => new Date(backup.stoppedAt) <= by),
    what: `with a physical backup that ended by ${at}`,
  };
}

/** The stack's current physical target for each physical backup in the manifest, checked against `at`. */
function physicalTargetsOf(stack: StackConfig, stackName: string, manifest: Manifest, at: string | undefined): Record<string, PhysicalPostgresTarget> {
  const targets: Record<string, PhysicalPostgresTarget> = {};
  for (const backup of manifest.physical ?? []) {
    const target = stack.postgres.find((candidate) => candidate.name === backup.name);
    if (!target || !hasPhysical(target)) throw invalidInput(`stack "${stackName}" no longer configures Postgres "${backup.name}" with a physical section, whose pgBackRest repository holds backup ${backup.label}`);
    if (at !== undefined && new Date(at) < new Date(backup.stoppedAt)) {
      throw invalidInput(`at: ${at} is before physical backup ${backup.label} of ${backup.name} ended (${backup.stoppedAt}); a recovery can only go forward from a backup: pick an earlier backup, or leave backupId out to use the newest that ended by then`);
    }
    targets[backup.name] = target;
  }
  if (at !== undefined && Object.keys(targets).length === 0) throw invalidInput(`at: backup ${manifest.backupId} holds no physical (pgBackRest) backup to recover to a point in time`);
  return targets;
}

/** The labels restored `into` a new cluster from pgBackRest's repository (the source stack's, which knows it). */
function physicalRestoreSteps(source: StackConfig, options: RestoreOptions, manifest: Manifest, refusals: string[]): NonNullable<RestorePlan['physical']> {
  const wanted = Object.entries(options.postgres).filter(([, choice]) => choice.into !== undefined);
  if (options.at !== undefined && wanted.length === 0) {
    refusals.push('at: a point-in-time restore goes into a new cluster: give postgres.<label>.into { dataDirectory, port }');
    return [];
  }
  const steps: NonNullable<RestorePlan['physical']> = [];
  for (const [label, choice] of wanted) {
    const backup = manifest.physical?.find((entry) => entry.name === label);
    const target = source.postgres.find((candidate) => candidate.name === label);
    if (!backup) refusals.push(`postgres.${label}.into: backup ${manifest.backupId} holds no physical (pgBackRest) backup of ${label}`);
    else if (!target || !hasPhysical(target)) refusals.push(`postgres.${label}.into: stack "${options.stack}" no longer configures ${label} with a physical section (its pgBackRest repository)`);
    else if (options.at !== undefined && new Date(options.at) < new Date(backup.stoppedAt)) refusals.push(`at: ${options.at} is before physical backup ${backup.label} ended (${backup.stoppedAt})`);
    else steps.push({ label, target, backup, into: choice.into! });
  }
  return steps;
}

export function createRestorePlanActivities(deps: Pick<PlanDeps, 'loadStacks'> & { exists: ExistenceProbes }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /** What a drill will check and where; fails on a backup that is missing or incomplete. */
    async resolveVerifyPlan({ options }: { options: VerifyOptions }): Promise<VerifyPlan> {
      const stack = stackFromInput(await loadStacks(), options.stack, 'stack');
      const { manifest, storeLocation } = await findBackup(stack, options.stack, options.backupId, options.at);
      const physicalTargets = physicalTargetsOf(stack, options.stack, manifest, options.at);
      const postgresTargets: VerifyPlan['postgresTargets'] = {};
      for (const artifact of manifest.artifacts) {
        if (artifact.component !== 'postgres') continue;
        const target = stack.postgres.find((candidate) => candidate.name === artifact.name);
        if (!target && options.depth === 'restore') {
          throw invalidInput(`stack "${options.stack}" no longer configures Postgres "${artifact.name}", where the drill would restore its dump`);
        }
        if (target) postgresTargets[artifact.name] = target;
      }
      const hasSnapshots = manifest.artifacts.some((artifact) => artifact.component === 'qdrant');
      if (hasSnapshots && !stack.qdrant && options.depth === 'restore') {
        throw invalidInput(`stack "${options.stack}" no longer configures Qdrant, where the drill would recover its snapshots`);
      }
      // A presigned URL would hand Qdrant ciphertext: client-side encrypted snapshots are uploaded decrypted.
      const encrypted = stack.store.encryption?.clientSide !== undefined;
      const recovery = stack.drill?.qdrantRecovery ?? (stack.store.type === 's3' && !encrypted ? 'both' : 'upload');
      if (recovery !== 'upload' && (stack.store.type !== 's3' || encrypted)) {
        throw invalidInput(
          `drill.qdrantRecovery: "${recovery}" needs an S3 store without client-side encryption (Qdrant fetches the snapshot itself from a presigned URL); this stack's store is ${stack.store.type}${encrypted ? ', client-side encrypted' : ''}`,
        );
      }
      const configuredByName = <T extends { name: string }>(kind: 'mirror' | 'exec', configured: T[]): Record<string, T> => {
        const found: Record<string, T> = {};
        for (const artifact of manifest.artifacts) {
          if (artifact.component !== kind) continue;
          const component = configured.find((candidate) => candidate.name === artifact.name);
          if (!component && options.depth === 'restore') {
            throw invalidInput(`stack "${options.stack}" no longer configures the ${kind === 'mirror' ? 'mirror' : 'exec dump'} "${artifact.name}", whose drill restores with its settings`);
          }
          if (component) found[artifact.name] = component;
        }
        return found;
      };
      return {
        stack: options.stack,
        backupId: manifest.backupId,
        runTag: newRunTag(),
        store: stack.store,
        storeLocation,
        manifest,
        postgresTargets,
        physicalTargets,
        ...(options.at !== undefined ? { at: options.at } : {}),
        mirrors: configuredByName('mirror', stack.mirrors),
        execDumps: configuredByName('exec', stack.execDumps),
        qdrant: stack.qdrant ? { url: stack.qdrant.url, apiKey: stack.qdrant.apiKey } : undefined,
        drill: {
          localDisk: stack.drill?.localDisk ?? false,
          tempDir: stack.drill?.tempDir,
          jobs: stack.drill?.jobs ?? 2,
          samplePoints: stack.drill?.samplePoints ?? 5,
          qdrantRecovery: recovery === 'both' ? ['upload', 'location'] : [recovery],
        },
        ...notifyOf(stack),
      };
    },

    /**
     * What a restore will write, checked before anything is touched: every target name that
     * exists already must be repeated in its `confirm` field, or the run is refused.
     */
    async resolveRestorePlan({ options }: { options: RestoreOptions }): Promise<RestorePlan> {
      const stacks = await loadStacks();
      const source = stackFromInput(stacks, options.stack, 'stack');
      const targetStackName = options.targetStack ?? options.stack;
      const target = stackFromInput(stacks, targetStackName, 'targetStack');
      const { manifest } = await findBackup(source, options.stack, options.backupId, options.at);
      const wants = (component: 'postgres' | 'qdrant' | 'redis') => !options.components || options.components.includes(component);
      // Mirrors and exec dumps replace data outside ragops' own targets: only those named in `mirror` / `exec`; `components` can only leave them out.
      const wantsNamed = (component: 'mirror' | 'exec', named: Record<string, unknown>) => {
        if (options.components?.includes(component) && Object.keys(named).length === 0) {
          refusals.push(`components: ${component}: name the ${component === 'mirror' ? 'mirrors' : 'exec dumps'} to restore (${component === 'mirror' ? 'mirror.<name> with confirm, or into a new prefix' : 'exec.<name> with confirm'}); none is restored unless named`);
        }
        return !options.components || options.components.includes(component);
      };
      const refusals: string[] = [];

      const physical = physicalRestoreSteps(source, options, manifest, refusals);
      for (const [label, choice] of Object.entries(options.postgres)) {
        if (!choice.into && !manifest.artifacts.some((a) => a.component === 'postgres' && a.name === label)) refusals.push(`postgres.${label}: the backup has no such dump`);
      }
      for (const name of Object.keys(options.qdrant)) {
        if (!manifest.artifacts.some((a) => a.component === 'qdrant' && a.name === name)) refusals.push(`qdrant.${name}: the backup has no such collection`);
      }
      for (const label of Object.keys(options.redis)) {
        if (!manifest.artifacts.some((a) => a.component === 'redis' && a.name === label)) refusals.push(`redis.${label}: the backup has no such RDB`);
      }

      const postgres: RestorePlan['postgres'] = [];
      for (const artifact of manifest.artifacts) {
        if (artifact.component !== 'postgres' || !wants('postgres') || options.postgres[artifact.name]?.into) continue;
        const server = target.postgres.find((candidate) => candidate.name === artifact.name);
        if (!server) {
          refusals.push(`postgres.${artifact.name}: stack "${targetStackName}" configures no Postgres "${artifact.name}" to restore into`);
          continue;
        }
        if (options.roles && (!artifact.globals || 'skipped' in artifact.globals)) {
          const why = artifact.globals ? artifact.globals.skipped : 'the backup predates stored roles';
          refusals.push(`roles: the backup of ${artifact.name} holds no roles to create (${why}); create them by hand, or restore without "roles"`);
        }
        const choice = options.postgres[artifact.name] ?? {};
        const database = choice.database ?? server.database;
        const exists = await deps.exists.postgres(server, database);
        if (exists && choice.confirm !== database) {
          refusals.push(`postgres.${artifact.name}.confirm: database "${database}" exists on ${server.host}:${server.port}; set confirm to "${database}" to replace it`);
        }
        postgres.push({ label: artifact.name, target: server, database, replace: exists });
      }

      let qdrant: RestorePlan['qdrant'];
      const snapshots = manifest.artifacts.filter((artifact) => artifact.component === 'qdrant' && wants('qdrant'));
      if (snapshots.length > 0) {
        if (!target.qdrant) throw invalidInput(`targetStack: stack "${targetStackName}" configures no Qdrant to restore ${snapshots.length} collection(s) into`);
        const endpoint = { url: target.qdrant.url, apiKey: target.qdrant.apiKey };
        const collections = [];
        for (const snapshot of snapshots) {
          const choice = options.qdrant[snapshot.name] ?? {};
          const collection = choice.collection ?? snapshot.name;
          const exists = await deps.exists.qdrant(endpoint, collection);
          if (exists && choice.confirm !== collection) {
            refusals.push(`qdrant.${snapshot.name}.confirm: collection "${collection}" exists on ${endpoint.url}; set confirm to "${collection}" to replace it`);
          }
          collections.push({ source: snapshot.name, collection, replace: exists });
        }
        const renamed = new Map(collections.map((step) => [step.source, step.collection]));
        const aliases = options.aliases
          ? (manifest.qdrant?.aliases ?? []).filter((alias) => renamed.has(alias.collection)).map((alias) => ({ alias: alias.alias, collection: renamed.get(alias.collection)! }))
          : [];
        qdrant = { endpoint, collections, aliases };
      }
      const redis: RedisRestoreStep[] = [];
      for (const artifact of manifest.artifacts) {
        if (artifact.component !== 'redis' || !wants('redis')) continue;
        const label = artifact.name;
        const choice = options.redis[label] ?? {};
        if (choice.into) {
          redis.push({ label, into: choice.into });
          continue;
        }
        const into = `or give redis.${label}.into { port, dir } to restore into a new redis-server instead`;
        const server = target.redis.find((candidate) => candidate.name === label);
        if (!server) {
          refusals.push(`redis.${label}: stack "${targetStackName}" configures no Redis "${label}" to restore over; add it, ${into}`);
          continue;
        }
        const { rdb } = server;
        if ('path' in rdb || 'kubernetes' in rdb) {
          const where = 'path' in rdb ? `a host path (${rdb.path})` : `a Kubernetes pod (namespace ${rdb.kubernetes.namespace})`;
          refusals.push(`redis.${label}: Redis "${label}" keeps its RDB in ${where}; ragops restores over a running Redis only in a container (rdb.compose or rdb.docker), which it can stop, copy the RDB into and start: give redis.${label}.into { port, dir } to restore into a new redis-server`);
          continue;
        }
        if (choice.confirm !== label) {
          refusals.push(`redis.${label}.confirm: restoring over the running Redis "${label}" (${server.host}:${server.port}) stops its container, replaces all its data and starts it again; set confirm to "${label}", ${into}`);
        }
        redis.push({ label, over: server });
      }

      const mirrors = await mirrorRestoreSteps(source, target, targetStackName, options, manifest, wantsNamed('mirror', options.mirror), refusals, deps.exists.mirrorObjects ?? countMirrorObjects);
      const exec = execRestoreSteps(target, targetStackName, options, manifest, wantsNamed('exec', options.exec), refusals);

      if (refusals.length > 0) throw invalidInput(`restore refused, nothing was touched: ${refusals.join('; ')}`);
      if (postgres.length === 0 && physical.length === 0 && !qdrant && redis.length === 0 && mirrors.length === 0 && exec.length === 0) throw invalidInput('components: nothing in the backup matches the components asked for');
      return {
        stack: options.stack,
        runTag: newRunTag(),
        targetStack: targetStackName,
        backupId: manifest.backupId,
        store: source.store,
        manifest,
        postgres,
        qdrant,
        redis,
        ...(mirrors.length > 0 ? { mirrors } : {}),
        ...(exec.length > 0 ? { exec } : {}),
        ...(physical.length > 0 ? { physical } : {}),
        ...(options.at !== undefined ? { at: options.at } : {}),
        ...(physical.length > 0 ? { recoverTo: options.recoverTo } : {}),
        mode: { localDisk: target.drill?.localDisk ?? false, tempDir: target.drill?.tempDir, jobs: target.drill?.jobs ?? 2 },
        ...notifyOf(source),
      };
    },
  };
}

/** Read-only probes the plan uses to refuse an unconfirmed replacement before touching anything. */
export interface ExistenceProbes {
  postgres(target: PostgresTarget, database: string): Promise<boolean>;
  qdrant(endpoint: { url: string; apiKey?: SecretRef }, collection: string): Promise<boolean>;
  /** Whether anything is under the mirror's bucket and prefix (default: one S3 listing). */
  mirrorObjects?(component: MirrorComponent): Promise<boolean>;
}

async function countMirrorObjects(component: MirrorComponent): Promise<boolean> {
  return withMirrorSource(component, async (source) => {
    for await (const _object of source.list(component.bucket, component.prefix)) return true;
    return false;
  });
}

/**
 * The mirrors to put back: over the target stack's mirror of the same name (live data: its
 * name in `confirm`), or `into` a new prefix on that mirror's endpoint (the source stack's
 * mirror when the target has none), which must be empty.
 */
async function mirrorRestoreSteps(
  source: StackConfig,
  target: StackConfig,
  targetStackName: string,
  options: RestoreOptions,
  manifest: Manifest,
  wanted: boolean,
  refusals: string[],
  holdsObjects: (component: MirrorComponent) => Promise<boolean>,
): Promise<MirrorRestoreStep[]> {
  const inBackup = manifest.artifacts.filter((a) => a.component === 'mirror').map((a) => a.name);
  for (const label of Object.keys(options.mirror)) {
    if (!inBackup.includes(label)) refusals.push(`mirror.${label}: the backup has no such mirror`);
    else if (!wanted) refusals.push(`mirror.${label}: components leaves out mirror`);
  }
  if (!wanted) return [];
  const steps: MirrorRestoreStep[] = [];
  for (const label of inBackup) {
    if (!options.mirror[label]) continue;
    const choice = options.mirror[label] ?? {};
    const own = target.mirrors.find((candidate) => candidate.name === label);
    if (choice.into) {
      const base = own ?? source.mirrors.find((candidate) => candidate.name === label);
      if (!base) {
        refusals.push(`mirror.${label}.into: neither stack "${targetStackName}" nor "${options.stack}" configures the mirror "${label}", whose endpoint and credentials the restore would use`);
        continue;
      }
      const component = { ...base, bucket: choice.into.bucket, prefix: choice.into.prefix };
      // A prefix inside (or around) a live mirror's would mix the backup's objects into live data.
      const live = [...target.mirrors, ...source.mirrors].find((m) => m.endpoint === component.endpoint && m.bucket === component.bucket && (m.prefix.startsWith(component.prefix) || component.prefix.startsWith(m.prefix)));
      if (live) {
        refusals.push(`mirror.${label}.into: s3://${component.bucket}/${component.prefix} overlaps the mirror "${live.name}" (s3://${live.bucket}/${live.prefix}); restore into a prefix of its own`);
        continue;
      }
      if (await holdsObjects(component)) {
        refusals.push(`mirror.${label}.into: s3://${component.bucket}/${component.prefix} is not empty; restore into a new prefix, or over the mirror's own with confirm "${label}"`);
        continue;
      }
      steps.push({ label, component, over: false });
      continue;
    }
    if (!own) {
      refusals.push(`mirror.${label}: stack "${targetStackName}" configures no mirror "${label}" to restore over; give mirror.${label}.into { bucket, prefix } to restore into a new prefix`);
      continue;
    }
    if (choice.confirm !== label) {
      refusals.push(
        `mirror.${label}.confirm: restoring over s3://${own.bucket}/${own.prefix} puts the backup's objects back in place (objects it does not hold are left, not deleted); set confirm to "${label}", or give mirror.${label}.into { bucket, prefix } to restore into a new prefix`,
      );
    }
    steps.push({ label, component: own, over: true });
  }
  return steps;
}

/** The exec dumps to restore: the target stack's dump of the same name must have a `restore` section, and the input its name in `confirm`. */
function execRestoreSteps(target: StackConfig, targetStackName: string, options: RestoreOptions, manifest: Manifest, wanted: boolean, refusals: string[]): ExecRestoreStep[] {
  const inBackup = manifest.artifacts.filter((a) => a.component === 'exec').map((a) => a.name);
  for (const label of Object.keys(options.exec)) {
    if (!inBackup.includes(label)) refusals.push(`exec.${label}: the backup has no such exec dump`);
    else if (!wanted) refusals.push(`exec.${label}: components leaves out exec`);
  }
  if (!wanted) return [];
  const steps: ExecRestoreStep[] = [];
  for (const label of inBackup) {
    if (!options.exec[label]) continue;
    const component = target.execDumps.find((candidate) => candidate.name === label);
    if (!component) {
      refusals.push(`exec.${label}: stack "${targetStackName}" configures no exec dump "${label}" to restore with`);
      continue;
    }
    if (!component.restore) {
      refusals.push(`exec.${label}: the exec dump "${label}" of stack "${targetStackName}" has no restore section (restore.argv, run on the worker's host with the artifact on stdin); add one to restore it`);
      continue;
    }
    if (options.exec[label]?.confirm !== label) {
      refusals.push(`exec.${label}.confirm: running "${component.restore.argv.join(' ')}" with the backup on stdin replaces what it restores into; set confirm to "${label}"`);
    }
    steps.push({ label, component: { ...component, restore: component.restore } });
  }
  return steps;
}
