// The Kubernetes side of the deploy tests: Deployments and Services in the stand-in, and
// the stacks file that points ragops at them.
import type { CheckServer } from './check-server.js';
import type { KubeStandin } from './k8s/index.js';

export const NAMESPACE = 'rag';
const IMAGE_V1 = 'ragops-test/api:v1';

function deployment(name: string, labels: Record<string, string>, replicas: number): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: IMAGE_V1, ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

/** `api` (rolling) and `api-blue`/`api-green` behind service `api-bg` (blue live). */
export function seedCluster(kube: KubeStandin): void {
  kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  kube.apply(deployment('api', { app: 'api' }, 2));
  kube.apply(deployment('api-blue', { app: 'api-bg', color: 'blue' }, 2));
  kube.apply(deployment('api-green', { app: 'api-bg', color: 'green' }, 0));
  kube.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api-bg', namespace: NAMESPACE },
    spec: { selector: { app: 'api-bg', color: 'blue' }, ports: [{ port: 80, targetPort: 8080 }] },
  });
}

/** Checks of one colour at `<checks>/<colour>/health` and `/smoke`, quick to give up. */
export function colourChecks(checks: CheckServer, colour: 'blue' | 'green', kind: 'health' | 'smoke') {
  return [{ url: checks.url(`/${colour}/${kind}`), timeoutSeconds: 2, intervalMs: 200 }];
}

/**
 * The stacks file of the Kubernetes deploy tests. Blue-green (`web`) requires checks of both
 * colours: given a check server they are its `/blue/…` and `/green/…` paths; without one the
 * service opts out (requireChecks: false).
 */
export function kubernetesStacks(kube: KubeStandin, rolloutTimeoutSeconds = 5, checks?: CheckServer): unknown {
  const blueGreenChecks = checks
    ? {
        health: { blue: colourChecks(checks, 'blue', 'health'), green: colourChecks(checks, 'green', 'health') },
        smoke: { blue: colourChecks(checks, 'blue', 'smoke'), green: colourChecks(checks, 'green', 'smoke') },
      }
    : {};
  return {
    stacks: {
      prod: {
        store: { type: 'fs', path: '/nonexistent-unused' },
        deploy: {
          target: { type: 'kubernetes', kubeconfig: kube.kubeconfigPath, context: kube.context, namespace: NAMESPACE },
          services: {
            api: { deployment: 'api', container: 'api', migration: { command: ['sh', '-c', 'migrate'] }, rolloutTimeoutSeconds },
            'api-no-migration': { deployment: 'api', container: 'api', rolloutTimeoutSeconds },
            'api-failing-migration': { deployment: 'api', container: 'api', migration: { command: ['sh', '-c', 'migrate --fail'] }, rolloutTimeoutSeconds },
            web: {
              container: 'api',
              blueGreen: { service: 'api-bg', deployments: { blue: 'api-blue', green: 'api-green' }, ...blueGreenChecks },
              ...(checks ? {} : { requireChecks: false }),
              rolloutTimeoutSeconds,
            },
            'web-migrating': {
              container: 'api',
              blueGreen: { service: 'api-bg', deployments: { blue: 'api-blue', green: 'api-green' }, ...blueGreenChecks },
              ...(checks ? {} : { requireChecks: false }),
              migration: { command: ['sh', '-c', 'migrate'] },
              rolloutTimeoutSeconds,
            },
          },
        },
      },
    },
  };
}

export function imageOf(kube: KubeStandin, name: string): string {
  return kube.get('deployment', NAMESPACE, name)?.spec.template.spec.containers[0].image;
}

/** ReplicaSets of a Deployment that still have replicas: after a finished rollout, exactly one. */
export function liveReplicaSets(kube: KubeStandin, deploymentName: string): Array<{ image: string; replicas: number; ready: number }> {
  return kube
    .list('replicaset', NAMESPACE)
    .filter((rs) => rs.metadata.ownerReferences?.some((owner: { name: string }) => owner.name === deploymentName) && (rs.spec.replicas ?? 0) > 0)
    .map((rs) => ({ image: rs.spec.template.spec.containers[0].image, replicas: rs.spec.replicas, ready: rs.status?.readyReplicas ?? 0 }));
}
