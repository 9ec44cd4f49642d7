// The Kubernetes side of the canary end-to-end tests: one stable Deployment per service in the
// API stand-in, a metrics app per service whose /stats the canary's http-json metric reads, and
// the stacks file with a `canary.<service>` section (kubernetes-replicas shifter) for each.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CanaryStep } from '../../src/config/stacks/canary.js';
import type { KubeStandin } from './k8s/index.js';

export const CANARY_NAMESPACE = 'canary';
export const STABLE_IMAGE = 'ragops-test/api:v1';
/** Stable replicas: 10 % is 1 canary pod, 50 % is 2. */
export const STABLE_REPLICAS = 4;

export interface CanaryService {
  /** The stable Deployment (the canary one is `<deployment>-canary`). */
  deployment: string;
  /** The http-json metric's URL (a metrics app's /stats). */
  statsUrl: string;
  steps: CanaryStep[];
  maxWeight?: number;
  /** Where the error rate is in /stats (default the whole-run window's). */
  path?: string;
  /** Another provider for the error-rate metric (e.g. a probe), instead of http-json on statsUrl. */
  provider?: Record<string, unknown>;
}

export function seedStableDeployment(kube: KubeStandin, name: string, replicas = STABLE_REPLICAS): void {
  const labels = { app: name };
  kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CANARY_NAMESPACE } });
  kube.apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: CANARY_NAMESPACE, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: STABLE_IMAGE, ports: [{ containerPort: 8080 }] }] } },
    },
  });
}

/** The error-rate metric every canary here analyses: at most 5 % errors, no failure tolerated. */
export const ERROR_RATE = 'error-rate';

export function canaryStacks(kube: KubeStandin, services: Record<string, CanaryService>): unknown {
  const deployServices = Object.fromEntries(
    Object.entries(services).map(([service, s]) => [service, { deployment: s.deployment, container: 'api', rolloutTimeoutSeconds: 30 }]),
  );
  const canary = Object.fromEntries(
    Object.entries(services).map(([service, s]) => [
      service,
      {
        traffic: { type: 'kubernetes-replicas', deployment: s.deployment },
        maxWeight: s.maxWeight ?? 50,
        steps: s.steps,
        metrics: [
          {
            name: ERROR_RATE,
            provider: s.provider ?? { type: 'http-json', url: s.statsUrl, path: s.path ?? 'windows[0].errorRate', timeoutSeconds: 5 },
            thresholdRange: { max: 0.05 },
            inconclusiveLimit: 1,
          },
        ],
      },
    ]),
  );
  return {
    stacks: {
      prod: {
        store: { type: 'fs', path: '/nonexistent-unused' },
        deploy: {
          target: { type: 'kubernetes', kubeconfig: kube.kubeconfigPath, context: kube.context, namespace: CANARY_NAMESPACE },
          services: deployServices,
        },
        canary,
      },
    },
  };
}

export const deploymentOf = (kube: KubeStandin, name: string) => kube.get('deployment', CANARY_NAMESPACE, name);
export const imageOf = (kube: KubeStandin, name: string): string | undefined => deploymentOf(kube, name)?.spec.template.spec.containers[0].image;
export const canaryReplicasOf = (kube: KubeStandin, deployment: string): number | undefined => deploymentOf(kube, `${deployment}-canary`)?.spec.replicas;

/** Writes to the canary Deployment (PATCH, PUT, DELETE) among `kube.requests` from index `from`. */
export const canaryPatches = (kube: KubeStandin, deployment: string, from = 0) =>
  kube.requests.slice(from).filter((r) => r.method === 'PATCH' && r.path.endsWith(`/deployments/${deployment}-canary`));

/**
 * Samples the canary Deployment's replicas every 25 ms and keeps each change, so a test can
 * check the steps it went through ('absent' when there is none).
 */
export function watchCanaryReplicas(kube: KubeStandin, deployment: string): { seen: Array<number | 'absent'>; stop(): Promise<void> } {
  const seen: Array<number | 'absent'> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const now = canaryReplicasOf(kube, deployment) ?? 'absent';
      if (seen.at(-1) !== now) seen.push(now);
      await sleep(25);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Polls `probe` until it gives a value (not undefined/false), or fails naming `what`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(100);
  }
}
