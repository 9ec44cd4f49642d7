// deploy/k8s, the kustomize base of the worker: the real `kubectl kustomize` renders it, the real
// `kubectl apply --dry-run=client` accepts it against the Kubernetes API stand-in
// (test/support/k8s), and what it renders hangs together: probes and scrape annotations on the
// ports the worker's environment sets, the image's non-root user, the stacks file valid and its
// secrets present, a Role bound to the worker's account in each namespace it deploys to.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { loadStacksFile } from '../src/config/load.js';
import { startKubeStandin, type KubeStandin } from './support/k8s/index.js';
import { tempDir } from './support/ragops.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BASE = join(ROOT, 'deploy', 'k8s');

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [key: string]: any };

/** What ragops's kubectl commands (src/activities/kubernetes/commands.ts, the traffic shifters, exec sources) need in a target namespace. */
const NEEDED: Array<[group: string, resource: string, verbs: string[]]> = [
  ['apps', 'deployments', ['get', 'list', 'watch', 'create', 'patch', 'delete']], // set image, rollout status/undo, canary Deployment
  ['apps', 'deployments/scale', ['patch']], // kubectl scale
  ['apps', 'replicasets', ['get', 'list', 'watch']], // rollout status/undo, state
  ['', 'pods', ['get', 'list', 'watch']],
  ['', 'pods/log', ['get']], // migration Job logs
  ['', 'pods/exec', ['create']], // Redis RDB and exec dumps from pods
  ['', 'services', ['get', 'patch']], // blue-green switch
  ['batch', 'jobs', ['get', 'create', 'delete']], // migrations
  ['networking.k8s.io', 'ingresses', ['get', 'create', 'patch']], // ingress-nginx canary
  ['gateway.networking.k8s.io', 'httproutes', ['get', 'patch']], // gateway-api weights
];

function allows(role: Obj, group: string, resource: string, verb: string): boolean {
  return (role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>).some(
    (rule) => rule.apiGroups.includes(group) && (rule.resources.includes(resource) || rule.resources.includes('*')) && (rule.verbs.includes(verb) || rule.verbs.includes('*')),
  );
}

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));

describe('deploy/k8s: the worker as a kustomize base', () => {
  let rendered: string;
  let objects: Obj[];
  const one = (kind: string, predicate: (o: Obj) => boolean = () => true) => {
    const found = objects.filter((o) => o.kind === kind && predicate(o));
    assert.equal(found.length, 1, `one ${kind} rendered, found ${found.length}`);
    return found[0]!;
  };

  before(async () => {
    rendered = (await execa('kubectl', ['kustomize', BASE])).stdout;
    objects = parseAllDocuments(rendered).map((doc) => doc.toJS() as Obj).filter(Boolean);
  });

  test('kubectl kustomize renders the worker, its account, RBAC, config and secret', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? '-'}`).sort();
    assert.deepEqual(kinds, ['ConfigMap/ragops', 'ConfigMap/ragops', 'Deployment/ragops', 'Namespace/-', 'Role/rag', 'RoleBinding/rag', 'Secret/ragops', 'ServiceAccount/ragops']);
  });

  test('probes and the Prometheus annotations use the ports the worker listens on; it runs as the image user, non-root', async () => {
    const deployment = one('Deployment');
    const pod = deployment.spec.template;
    const container = pod.spec.containers[0];
    const envMap = one('ConfigMap', (c) => container.envFrom.some((e: any) => e.configMapRef?.name === c.metadata.name));
    const env = envMap.data as Record<string, string>;
    const ports = Object.fromEntries((container.ports as Array<{ name: string; containerPort: number }>).map((p) => [p.name, p.containerPort]));
    assert.equal(ports.health, portOf(env.RAGOPS_HEALTH_ADDRESS!));
    assert.equal(ports.metrics, portOf(env.RAGOPS_METRICS_ADDRESS!));
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      assert.equal(container[probe]?.httpGet?.path, '/healthz', probe);
      assert.equal(ports[container[probe].httpGet.port], ports.health, probe);
    }
    assert.equal(pod.metadata.annotations['prometheus.io/scrape'], 'true');
    assert.equal(Number(pod.metadata.annotations['prometheus.io/port']), ports.metrics);

    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const [uid, gid] = /^USER (\d+):(\d+)$/m.exec(dockerfile)!.slice(1).map(Number);
    assert.deepEqual(
      { runAsNonRoot: pod.spec.securityContext.runAsNonRoot, runAsUser: pod.spec.securityContext.runAsUser, runAsGroup: pod.spec.securityContext.runAsGroup },
      { runAsNonRoot: true, runAsUser: uid, runAsGroup: gid },
    );
    assert.ok(uid! > 0);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    // A read-only root needs writable scratch where the worker writes: /tmp and the image user's $HOME.
    if (container.securityContext.readOnlyRootFilesystem) {
      const home = /--home-dir (\S+)/.exec(dockerfile)![1]!;
      const emptyDirs = new Set((pod.spec.volumes as Array<{ name: string; emptyDir?: object }>).filter((v) => v.emptyDir).map((v) => v.name));
      for (const path of ['/tmp', home]) {
        assert.ok((container.volumeMounts as Array<{ name: string; mountPath: string }>).some((m) => m.mountPath === path && emptyDirs.has(m.name)), `an emptyDir at ${path}`);
      }
    }
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
    // Every secret reference resolves to a rendered Secret (the generator's hashed name).
    const secret = one('Secret');
    assert.ok(container.envFrom.some((e: any) => e.secretRef?.name === secret.metadata.name));
    assert.equal(deployment.spec.template.spec.serviceAccountName, one('ServiceAccount').metadata.name);
  });

  test('the mounted stacks file is valid, at RAGOPS_CONFIG, and the Secret holds every { env } it references', async () => {
    const container = one('Deployment').spec.template.spec.containers[0];
    const env = one('ConfigMap', (c) => container.envFrom.some((e: any) => e.configMapRef?.name === c.metadata.name)).data as Record<string, string>;
    const volumes = one('Deployment').spec.template.spec.volumes as Array<{ name: string; configMap?: { name: string } }>;
    const mount = (container.volumeMounts as Array<{ name: string; mountPath: string }>).find((m) => env.RAGOPS_CONFIG!.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `a volume is mounted where RAGOPS_CONFIG (${env.RAGOPS_CONFIG}) points`);
    const stacksMap = one('ConfigMap', (c) => c.metadata.name === volumes.find((v) => v.name === mount.name)?.configMap?.name);
    const text = stacksMap.data[env.RAGOPS_CONFIG!.slice(mount.mountPath.length + 1)] as string;
    assert.ok(text, `the ConfigMap ${stacksMap.metadata.name} has the file RAGOPS_CONFIG names`);

    const dir = await tempDir('kustomize');
    try {
      const path = join(dir.path, 'ragops.yaml');
      await writeFile(path, text);
      const stacks = await loadStacksFile(path);
      assert.ok(Object.keys(stacks.stacks).length > 0);
    } finally {
      await dir.remove();
    }
    const referenced: string[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        const entries = Object.entries(value);
        if (entries.length === 1 && entries[0]![0] === 'env' && typeof entries[0]![1] === 'string') referenced.push(entries[0]![1]);
        else entries.forEach(([, v]) => walk(v));
      }
    };
    walk(parse(text));
    assert.ok(referenced.length > 0);
    const secretKeys = Object.keys(one('Secret').data ?? {});
    for (const name of referenced) assert.ok(secretKeys.includes(name), `the Secret holds ${name}`);
  });

  test('each namespace the stacks file deploys to has a Role, bound to the worker, allowing what ragops runs there', () => {
    const container = one('Deployment').spec.template.spec.containers[0];
    const env = one('ConfigMap', (c) => container.envFrom.some((e: any) => e.configMapRef?.name === c.metadata.name)).data as Record<string, string>;
    const stacksText = objects.filter((o) => o.kind === 'ConfigMap').map((c) => c.data[env.RAGOPS_CONFIG!.split('/').pop()!]).find(Boolean) as string;
    const stacks = parse(stacksText) as { stacks: Record<string, { deploy?: { target: { type: string; namespace?: string } } }> };
    const namespaces = [...new Set(Object.values(stacks.stacks).flatMap((s) => (s.deploy?.target.type === 'kubernetes' ? [s.deploy.target.namespace!] : [])))];
    assert.ok(namespaces.length > 0);
    const account = one('ServiceAccount');
    for (const namespace of namespaces) {
      const binding = one('RoleBinding', (b) => b.metadata.namespace === namespace);
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
      const role = one('Role', (r) => r.metadata.namespace === namespace && r.metadata.name === binding.roleRef.name);
      for (const [group, resource, verbs] of NEEDED) {
        for (const verb of verbs) assert.ok(allows(role, group, resource, verb), `Role ${namespace}/${role.metadata.name} allows ${verb} ${resource}${group ? `.${group}` : ''}`);
      }
      assert.ok(!allows(role, '', 'secrets', 'get'), 'no Secrets in the namespaces it deploys to');
    }
  });

  describe('against the API stand-in with the real kubectl', () => {
    let kube: KubeStandin;
    before(async () => {
      kube = await startKubeStandin();
    });
    after(async () => {
      await kube?.stop();
    });

    const kubectl = (args: string[], input?: string) =>
      execa('kubectl', [`--kubeconfig=${kube.kubeconfigPath}`, ...args], { input, reject: false, all: true, env: { KUBECONFIG: kube.kubeconfigPath } });

    test('kubectl kustomize deploy/k8s | kubectl apply --dry-run=client -f - passes and stores nothing', async () => {
      const result = await kubectl(['apply', '--dry-run=client', '-f', '-'], rendered);
      assert.equal(result.exitCode, 0, String(result.all));
      const lines = String(result.stdout).split('\n').filter(Boolean).sort();
      const expected = objects.map((o) => `${o.kind.toLowerCase()}${o.apiVersion.includes('/') && !o.apiVersion.startsWith('apps/') ? `.${o.apiVersion.split('/')[0]}` : o.apiVersion.startsWith('apps/') ? '.apps' : ''}/${o.metadata.name} created (dry run)`).sort();
      assert.deepEqual(lines, expected);
      // It asked the server about each object, and wrote nothing.
      for (const o of objects) {
        assert.ok(kube.requests.some((r) => r.method === 'GET' && r.path.includes(`/${o.metadata.name}`)), `kubectl looked up ${o.kind} ${o.metadata.name}`);
      }
      assert.equal(kube.requests.filter((r) => !['GET', 'HEAD'].includes(r.method)).length, 0, 'a client dry run writes nothing');
      assert.equal(kube.get('deployment', 'ragops', 'ragops-worker'), undefined);
    });

    test('applied for real, the stand-in stores every object and rolls the worker Deployment out', async () => {
      const result = await kubectl(['apply', '-f', '-'], rendered);
      assert.equal(result.exitCode, 0, String(result.all));
      const stored = kube.get('deployment', 'ragops', 'ragops-worker');
      assert.equal(stored.spec.template.spec.serviceAccountName, 'ragops-worker');
      assert.equal(kube.get('role', 'rag', 'ragops-worker').rules.length, one('Role').rules.length);
      assert.equal(kube.get('serviceaccount', 'ragops', 'ragops-worker').metadata.name, 'ragops-worker');
      const rollout = await kubectl(['rollout', 'status', 'deployment/ragops-worker', '--namespace=ragops', '--timeout=30s']);
      assert.equal(rollout.exitCode, 0, String(rollout.all));
      assert.match(String(rollout.stdout), /successfully rolled out/);
      const again = await kubectl(['apply', '-f', '-'], rendered);
      assert.equal(again.exitCode, 0, String(again.all));
      assert.match(String(again.stdout), /deployment\.apps\/ragops-worker unchanged/);
    });
  });
});
