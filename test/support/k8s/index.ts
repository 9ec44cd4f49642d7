// A Kubernetes API server stand-in that the real `kubectl` talks to: discovery, Deployments,
// ReplicaSets, Pods (with logs), Services, ConfigMaps, Secrets, ServiceAccounts, Roles and
// RoleBindings (stored, not enforced), Ingresses, Gateway API HTTPRoutes, Jobs and Namespaces, with resourceVersions, watches, the three patch types, the scale subresource,
// and an in-process controller that rolls Deployments out and runs Jobs (see the files beside
// this one).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from './controller.js';
import { applyDefaults, validate } from './defaults.js';
import { Faults, type KubeFaults } from './faults.js';
import { ImageRegistry } from './images.js';
import { writeKubeconfig } from './kubeconfig.js';
import { listenHttpAndHttps, selfSignedCertificate } from './listener.js';
import { resourceByKind, resourceOfObject } from './resources.js';
import { createValidated } from './rest.js';
import { requestHandler, type RequestRecord } from './server.js';
import { clone, ObjectStore } from './store.js';

export interface KubeStandin {
  /** http://127.0.0.1:<free port>: plain HTTP, for raw requests from tests (send `Authorization: Bearer <token>`). */
  url: string;
  /** https://127.0.0.1:<same port>: what the kubeconfig points kubectl at. */
  httpsUrl: string;
  /** The PEM certificate the HTTPS side presents (self-signed; the kubeconfig trusts it). */
  caCert: string;
  /** A kubeconfig: cluster `httpsUrl`, a bearer-token user, context `standin` (namespace default). */
  kubeconfigPath: string;
  context: string;
  /** The bearer token the server accepts. */
  token: string;
  /** Creates or replaces an object directly (test setup), defaulted and validated like a create. */
  apply(obj: object): void;
  /** The stored object (a copy), or undefined. `kind` may be a kind, plural or short name. */
  get(kind: string, namespace: string, name: string): any;
  /** The stored objects of a kind in a namespace, by name. */
  list(kind: string, namespace: string): any[];
  /** Every request received, in order, with the status it was answered. */
  requests: RequestRecord[];
  /** Fault injection: e.g. `faults.failNext({ method: 'PATCH', pathIncludes: '/deployments/api', status: 500 })`. */
  faults: KubeFaults;
  /**
   * The registry pods pull from: `images.digestOf('team/api:v1')` is the digest a container
   * started now from that tag runs (and reports in `imageID` as `docker.io/team/api@<digest>`);
   * `images.push('team/api:v1')` moves the tag to new content (a retag). Digest references run
   * their own digest.
   */
  images: Pick<ImageRegistry, 'digestOf' | 'push' | 'imageIdOf'>;
  /** Closes the server, stops the controller and removes the kubeconfig's temp dir. */
  stop(): Promise<void>;
}

export interface KubeStandinOptions {
  /** How long a pod takes to become ready, or a Job's pod to finish (default 300 ms). */
  readyDelayMs?: number;
  /** The bearer token (default random). */
  token?: string;
}

export type { RequestRecord } from './server.js';
export type { FailNextOptions, KubeFaults } from './faults.js';

export async function startKubeStandin(opts: KubeStandinOptions = {}): Promise<KubeStandin> {
  const token = opts.token ?? randomBytes(16).toString('hex');
  const tls = await selfSignedCertificate();
  const store = new ObjectStore();
  const requests: RequestRecord[] = [];
  const faults = new Faults();
  const images = new ImageRegistry();
  const listener = await listenHttpAndHttps(requestHandler({ store, token, requests, faults }), tls);
  const controller = new Controller(store, opts.readyDelayMs ?? 300, images);
  const [url, httpsUrl] = [`http://127.0.0.1:${listener.port}`, `https://127.0.0.1:${listener.port}`];
  const context = 'standin';
  let dir: string | undefined;
  let kubeconfigPath: string;
  try {
    dir = await mkdtemp(join(tmpdir(), 'kube-standin-'));
    kubeconfigPath = await writeKubeconfig(dir, { server: httpsUrl, caCert: tls.cert, token, context });
  } catch (error) {
    controller.stop();
    await listener.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    httpsUrl,
    caCert: tls.cert,
    kubeconfigPath,
    context,
    token,
    requests,
    faults,
    images,
    apply(obj: any) {
      const r = resourceOfObject(obj);
      if (!r) throw new Error(`the Kubernetes stand-in does not serve ${obj.apiVersion} ${obj.kind}`);
      const copy = clone(obj);
      copy.metadata ??= {};
      if (r.namespaced) copy.metadata.namespace ??= 'default';
      const existing = store.get(r, copy.metadata.namespace, copy.metadata.name);
      if (!existing) {
        createValidated(store, r, copy);
        return;
      }
      const next = { ...copy, metadata: { ...copy.metadata, uid: existing.metadata.uid, resourceVersion: undefined } };
      next.status = copy.status ?? existing.status;
      if (next.status === undefined) delete next.status;
      applyDefaults(r, next);
      validate(r, next);
      store.update(r, next);
    },
    get: (kind, namespace, name) => store.get(resourceByKind(kind), namespace, name),
    list: (kind, namespace) => store.list(resourceByKind(kind), namespace),
    stop: () =>
      (stopped ??= (async () => {
        controller.stop();
        await listener.close();
        await rm(dir!, { recursive: true, force: true });
      })()),
  };
}
