import type { CommandSpec } from '../runtime/exec.js';

/** Where kubectl points: a kubeconfig (or the default one), a context, a namespace. */
export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
  namespace: string;
}

/**
 * kubectl finds its cluster through KUBECONFIG (when the target names no file) and may
 * reach it through a proxy; exec credential plugins get only this and what the kubeconfig's
 * `exec.env` names.
 */
export const KUBECTL_INHERITED_ENV = ['KUBECONFIG', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'] as const;

/** `kubectl [--kubeconfig=…] [--context=…] --namespace=… <args>`: every kubectl argv starts so. */
export function kubectlArgv(target: Pick<KubeTarget, 'kubeconfig' | 'context' | 'namespace'>, ...args: string[]): [string, ...string[]] {
  return [
    'kubectl',
    ...(target.kubeconfig ? [`--kubeconfig=${target.kubeconfig}`] : []),
    ...(target.context ? [`--context=${target.context}`] : []),
    `--namespace=${target.namespace}`,
    ...args,
  ];
}

function kubectl(target: KubeTarget, purpose: string, ...args: string[]): CommandSpec {
  return {
    argv: kubectlArgv(target, ...args),
    inheritEnv: KUBECTL_INHERITED_ENV,
    purpose: `kubectl ${purpose} (namespace ${target.namespace}${target.context ? `, context ${target.context}` : ''})`,
  };
}

export const kubectlCommands = {
  getDeployment: (t: KubeTarget, name: string) => kubectl(t, `get deployment/${name}`, 'get', `deployment/${name}`, '-o', 'json'),
  listReplicaSets: (t: KubeTarget, selector: string) => kubectl(t, `get replicasets -l ${selector}`, 'get', 'replicasets', '-l', selector, '-o', 'json'),
  /** One `List` of both, so the pods and the ReplicaSet that owns them are read together. */
  listReplicaSetsAndPods: (t: KubeTarget, selector: string) =>
    kubectl(t, `get replicasets,pods -l ${selector}`, 'get', 'replicasets,pods', '-l', selector, '-o', 'json'),
  setImage: (t: KubeTarget, name: string, container: string, image: string) =>
    kubectl(t, `set image deployment/${name}`, 'set', 'image', `deployment/${name}`, `${container}=${image}`),
  rolloutStatus: (t: KubeTarget, name: string, timeoutSeconds: number) =>
    kubectl(t, `rollout status deployment/${name}`, 'rollout', 'status', `deployment/${name}`, '--watch=true', `--timeout=${timeoutSeconds}s`),
  rolloutUndo: (t: KubeTarget, name: string, revision: number) =>
    kubectl(t, `rollout undo deployment/${name}`, 'rollout', 'undo', `deployment/${name}`, `--to-revision=${revision}`),
  scale: (t: KubeTarget, name: string, replicas: number) => kubectl(t, `scale deployment/${name}`, 'scale', `deployment/${name}`, `--replicas=${replicas}`),
  getService: (t: KubeTarget, name: string) => kubectl(t, `get service/${name}`, 'get', `service/${name}`, '-o', 'json'),
  patchServiceSelector: (t: KubeTarget, name: string, selector: Record<string, string>) =>
    kubectl(t, `patch service/${name}`, 'patch', `service/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { selector } })),
  /** A manifest (JSON) on stdin, e.g. a migration Job. */
  createFromStdin: (t: KubeTarget, what: string) => kubectl(t, `create ${what}`, 'create', '-f', '-', '-o', 'json'),
  getJob: (t: KubeTarget, name: string) => kubectl(t, `get job/${name}`, 'get', `job/${name}`, '-o', 'json'),
  /** The Job as JSON, or empty output when there is none. */
  findJob: (t: KubeTarget, name: string) => kubectl(t, `get job/${name}`, 'get', `job/${name}`, '--ignore-not-found=true', '-o', 'json'),
  /** A finished Job's pod logs; `--pod-running-timeout` short, as a Job whose pod is gone (deadline, deleted) has none to wait for (kubectl waits 20 s by default). */
  jobLogs: (t: KubeTarget, name: string, tailLines: number) => kubectl(t, `logs job/${name}`, 'logs', `job/${name}`, `--tail=${tailLines}`, '--pod-running-timeout=3s'),
  /** kubectl's default `--cascade=background`: the API server is sent propagationPolicy Background, so the Job's pods go too. */
  deleteJob: (t: KubeTarget, name: string) => kubectl(t, `delete job/${name}`, 'delete', `job/${name}`, '--ignore-not-found=true', '--wait=false'),
  // Traffic shifters (src/activities/traffic/kubernetes*.ts). `kind/name` is one of
  // deployment/…, ingress/…, httproute.gateway.networking.k8s.io/… (names validated by the stacks schema).
  /** The object as JSON, or empty output when there is none. */
  findObject: (t: KubeTarget, ref: string) => kubectl(t, `get ${ref}`, 'get', ref, '--ignore-not-found=true', '-o', 'json'),
  getObject: (t: KubeTarget, ref: string) => kubectl(t, `get ${ref}`, 'get', ref, '-o', 'json'),
  /** A JSON merge patch (RFC 7386): works on built-in and custom resources alike. */
  mergePatch: (t: KubeTarget, ref: string, patch: object) => kubectl(t, `patch ${ref}`, 'patch', ref, '--type=merge', '-p', JSON.stringify(patch), '-o', 'json'),
  /** A JSON patch (RFC 6902), e.g. `test` a backendRef's name, then `add` its weight. */
  jsonPatch: (t: KubeTarget, ref: string, ops: object[]) => kubectl(t, `patch ${ref}`, 'patch', ref, '--type=json', '-p', JSON.stringify(ops), '-o', 'json'),
  /** Background cascade: the Deployment's ReplicaSets and pods go too. */
  deleteDeployment: (t: KubeTarget, name: string) => kubectl(t, `delete deployment/${name}`, 'delete', `deployment/${name}`, '--ignore-not-found=true', '--wait=false'),
};
