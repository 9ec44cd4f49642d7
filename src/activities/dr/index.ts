import { lookup } from 'node:dns/promises';
import { Readable } from 'node:stream';
import type { Manifest } from '../../config/manifest.js';
import type { DeployTarget, DrDependency, StoreConfig } from '../../config/stacks/index.js';
import { composeCommands } from '../compose/commands.js';
import { createComposeActivities } from '../compose/index.js';
import { projectOf } from '../compose/project.js';
import { createHttpActivities } from '../http/index.js';
import { kubectlCommands } from '../kubernetes/commands.js';
import { createKubernetesActivities } from '../kubernetes/index.js';
import { runCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { probeTcp } from '../runtime/tcp.js';
import { withStore } from '../store/open.js';
import { recordInCatalogSafely } from '../store/stackCatalog.js';
import { createDrTeardownActivities } from './teardown.js';

/** A deploy service as the deploy target names it: the Compose service, or the Deployment and its container. */
export interface DeployedService {
  service: string;
  composeService: string;
  deployment: string;
  container: string;
}

export interface DependencyEvidence {
  name: string;
  type: DrDependency['type'];
  passed: boolean;
  detail: string;
  durationMs: number;
}

export function createDrActivities() {
  const compose = createComposeActivities();
  const kubernetes = createKubernetesActivities();
  const http = createHttpActivities();
  return {
    ...createDrTeardownActivities(),
    /** What each deploy service runs now, recorded in the backup's manifest so a recovery deploys the same versions. */
    async recordServiceVersions({ target, services }: { target: DeployTarget; services: DeployedService[] }): Promise<NonNullable<Manifest['services']>> {
      const versions: NonNullable<Manifest['services']> = [];
      for (const entry of services) {
        if (target.type === 'compose') {
          const version = await compose.composeCurrentVersion({ target, service: entry.composeService });
          versions.push({ service: entry.service, image: version.image, digest: version.imageId, pinned: version.repoDigest ?? version.imageId });
        } else {
          const state = await kubernetes.k8sDeploymentState({ target, deployment: entry.deployment, container: entry.container });
          versions.push({ service: entry.service, image: state.image, digest: state.imageId, pinned: state.pinned ?? null });
        }
      }
      return versions;
    },

    /** Holds a writer still while its data is restored: `compose stop` (containers kept), or the Deployment scaled to zero. */
    async stopDrWriter({ target, service }: { target: DeployTarget; service: DeployedService }): Promise<string> {
      if (target.type === 'compose') {
        await runCommand(composeCommands.stop(await projectOf(target), service.composeService, 30), { timeoutMs: 120_000 });
        return `compose stop ${service.composeService}`;
      }
      await runCommand(kubectlCommands.scale({ kubeconfig: target.kubeconfig, context: target.context, namespace: target.namespace }, service.deployment, 0), { timeoutMs: 120_000 });
      return `deployment/${service.deployment} scaled to 0`;
    },

    /** HTTP checks, TCP ports and DNS names the stack depends on: each one's evidence, passed or not. */
    async checkDrDependencies({ dependencies }: { dependencies: DrDependency[] }): Promise<DependencyEvidence[]> {
      const progress = new ProgressHeartbeat('verify dependencies');
      return progress.during(
        Promise.all(
          dependencies.map(async (dependency): Promise<DependencyEvidence> => {
            const started = Date.now();
            const result = (passed: boolean, detail: string): DependencyEvidence => ({ name: dependency.name, type: dependency.type, passed, detail, durationMs: Date.now() - started });
            if (dependency.type === 'http') {
              const [evidence] = await http.runHttpChecks({ checks: [dependency.check], what: `dependency ${dependency.name}` });
              return result(evidence?.passed ?? false, evidence ? `${evidence.url}: ${evidence.status ?? evidence.error ?? 'no answer'} after ${evidence.attempts} attempt(s)` : 'no evidence');
            }
            if (dependency.type === 'tcp') {
              const probe = await probeTcp(dependency.host, dependency.port, dependency.timeoutSeconds * 1000);
              const said = probe.state === 'answers' ? 'accepts connections' : probe.state === 'refused' ? 'refuses connections' : probe.detail;
              return result(probe.state === 'answers', `${dependency.host}:${dependency.port} ${said}`);
            }
            const found = await lookup(dependency.hostname, { all: true }).then(
              (addresses) => addresses.map((address) => address.address),
              (error: Error) => error,
            );
            return found instanceof Error ? result(false, `${dependency.hostname}: ${found.message}`) : result(true, `${dependency.hostname} → ${found.join(', ')}`);
          }),
        ),
      );
    },

    /** The run's evidence (phases, RTO, RPO), written beside the backup it recovered. */
    async writeDrEvidence({ store, key, evidence }: { store: StoreConfig; key: string; evidence: unknown }): Promise<string> {
      await withStore(store, async (opened) => {
        await opened.put(key, Readable.from([JSON.stringify(evidence, null, 2) + '\n']), { contentType: 'application/json' });
        await recordInCatalogSafely(opened, key, evidence);
      });
      return key;
    },
  };
}
