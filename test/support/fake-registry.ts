// A pull-only Docker registry (distribution API v2) on 127.0.0.1, enough for `docker pull`:
// tests publish local images into it (from `docker save`), so pulls get a real repo digest
// without any registry image or network. The engine treats 127.0.0.0/8 as an insecure
// registry by default and talks plain HTTP to it.
//
//   GET /v2/                                  200, the API version header
//   GET|HEAD /v2/<name>/manifests/<tag|digest>  the schema-2 manifest; 404 MANIFEST_UNKNOWN; 403 DENIED
//   GET|HEAD /v2/<name>/blobs/<digest>          config and gzipped layers; 404 BLOB_UNKNOWN
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const CONFIG_TYPE = 'application/vnd.docker.container.image.v1+json';
const LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface FakeRegistry {
  /** `127.0.0.1:<port>`, the registry part of image references. */
  host: string;
  /**
   * Serves the local image `localImage` as `<host>/<repository>:<tag>` (replacing what that tag
   * served); returns the manifest digest, i.e. what `repo@sha256:…` a pull records.
   */
  publish(repository: string, tag: string, localImage: string): Promise<string>;
  /** Every request to this repository answers 403 DENIED, as a registry does without access. */
  deny(repository: string): void;
  /** Manifest requests seen, `<name>:<reference>`, for asserting what was (not) asked. */
  manifestRequests: string[];
  stop(): Promise<void>;
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { digest: string; body: Buffer }>(); // "<name>:<tag>" and "<name>@<digest>"
  const denied = new Set<string>();
  const manifestRequests: string[] = [];

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://registry');
    const send = (status: number, body: Buffer | string, headers: Record<string, string> = {}) => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      response.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', 'Content-Length': String(bytes.length), ...headers });
      response.end(request.method === 'HEAD' ? undefined : bytes);
    };
    if (url.pathname === '/v2/' || url.pathname === '/v2') return send(200, '{}', { 'Content-Type': 'application/json' });
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!match || (request.method !== 'GET' && request.method !== 'HEAD')) return send(404, errorBody('UNSUPPORTED', 'not supported by the fake registry'));
    const [, name, kind, reference] = match as unknown as [string, string, string, string];
    if (denied.has(name)) return send(403, errorBody('DENIED', 'requested access to the resource is denied'), { 'Content-Type': 'application/json' });
    if (kind === 'manifests') {
      manifestRequests.push(`${name}:${reference}`);
      const manifest = manifests.get(reference.startsWith('sha256:') ? `${name}@${reference}` : `${name}:${reference}`);
      if (!manifest) return send(404, errorBody('MANIFEST_UNKNOWN', 'manifest unknown'), { 'Content-Type': 'application/json' });
      return send(200, manifest.body, { 'Content-Type': MANIFEST_TYPE, 'Docker-Content-Digest': manifest.digest });
    }
    const blob = blobs.get(reference);
    if (!blob) return send(404, errorBody('BLOB_UNKNOWN', 'blob unknown to registry'), { 'Content-Type': 'application/json' });
    return send(200, blob, { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': reference });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    host,
    manifestRequests,
    deny: (repository) => denied.add(repository),
    async publish(repository, tag, localImage) {
      const work = await mkdtemp(join(tmpdir(), 'ragops-fake-registry-'));
      try {
        await execa('docker', ['save', '-o', join(work, 'image.tar'), localImage]);
        await execa('tar', ['-xf', join(work, 'image.tar'), '-C', work]);
        const [entry] = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as Array<{ Config: string; Layers: string[] }>;
        if (!entry) throw new Error(`docker save ${localImage}: no manifest entry`);
        const config = await readFile(join(work, entry.Config));
        const configDigest = sha256(config);
        blobs.set(configDigest, config);
        const layers = [];
        for (const layerPath of entry.Layers) {
          const gz = gzipSync(await readFile(join(work, layerPath)));
          const digest = sha256(gz);
          blobs.set(digest, gz);
          layers.push({ mediaType: LAYER_TYPE, size: gz.length, digest });
        }
        const body = Buffer.from(
          JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: { mediaType: CONFIG_TYPE, size: config.length, digest: configDigest }, layers }),
        );
        const digest = sha256(body);
        manifests.set(`${repository}:${tag}`, { digest, body });
        manifests.set(`${repository}@${digest}`, { digest, body });
        return digest;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
