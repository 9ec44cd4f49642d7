// What the kubelet's container runtime (containerd) makes of image references: a registry of
// tags → digests that tests can move (a push or a retag), and the `imageID` a started
// container reports — `docker.io/library/nginx@sha256:…`, never a tag. A reference given by
// digest runs exactly that digest, whatever its tag says.
import { createHash } from 'node:crypto';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** A reference split into containerd's normalized repository, tag and digest. */
export interface ParsedImage {
  /** `docker.io/library/nginx`, `docker.io/team/api`, `ghcr.io/o/a`, `localhost:5000/x`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImage(reference: string): ParsedImage {
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) [rest, digest] = [rest.slice(0, at), rest.slice(at + 1)];
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) [rest, tag] = [rest.slice(0, colon), rest.slice(colon + 1)];
  const first = rest.split('/')[0]!;
  const hasRegistry = rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let repository = hasRegistry ? rest : `docker.io/${rest}`;
  if (repository === 'index.docker.io' || repository.startsWith('index.docker.io/')) repository = `docker.io${repository.slice('index.docker.io'.length)}`;
  if (/^docker\.io\/[^/]+$/.test(repository)) repository = repository.replace('docker.io/', 'docker.io/library/');
  return { repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Tags and the digests they point at, as a registry would answer a pull. */
export class ImageRegistry {
  private readonly tags = new Map<string, string>();

  /**
   * The digest a pull of `reference` gets now: its own digest when it names one, else what its
   * tag (default `latest`) points at — a stable digest derived from the name until a test moves it.
   */
  digestOf(reference: string): string {
    const { repository, tag, digest } = parseImage(reference);
    if (digest) return digest;
    const name = `${repository}:${tag ?? 'latest'}`;
    return this.tags.get(name) ?? `sha256:${createHash('sha256').update(name).digest('hex')}`;
  }

  /**
   * Points a tag at a digest, as `docker push` or a retag does (a fresh random-looking one
   * unless given); containers started afterwards from that tag run it, running ones keep theirs.
   */
  push(reference: string, digest?: string): string {
    const { repository, tag, digest: pinned } = parseImage(reference);
    if (pinned) throw new Error(`push: "${reference}" names a digest; push a tag`);
    const next = digest ?? `sha256:${createHash('sha256').update(`${repository}:${tag ?? 'latest'}:${Date.now()}:${Math.random()}`).digest('hex')}`;
    if (!DIGEST.test(next)) throw new Error(`push: "${next}" is not a sha256 digest`);
    this.tags.set(`${repository}:${tag ?? 'latest'}`, next);
    return next;
  }

  /** The `imageID` of a container started now from `reference`: repository@digest, as containerd reports it. */
  imageIdOf(reference: string): string {
    return `${parseImage(reference).repository}@${this.digestOf(reference)}`;
  }
}
