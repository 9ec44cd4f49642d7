// Image references and the digests pods report. Pure: no I/O. A rollback deploys what the pods
// ran, by digest — a tag may point elsewhere by then.

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `registry:5000/team/api:v1@sha256:…` → `registry:5000/team/api` (tag and digest dropped). */
export function repositoryOf(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** The digest a reference names (`…@sha256:…`), if any. */
export function digestOf(image: string): string | null {
  const digest = image.split('@')[1];
  return digest !== undefined && DIGEST.test(digest) ? digest : null;
}

/**
 * The repository as container runtimes spell it: `nginx` → `docker.io/library/nginx`,
 * `team/api` → `docker.io/team/api`, `index.docker.io/…` → `docker.io/…`; others unchanged.
 */
export function canonicalRepository(repository: string): string {
  const first = repository.split('/')[0]!;
  const hasRegistry = repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let canonical = hasRegistry ? repository : `docker.io/${repository}`;
  if (canonical.startsWith('index.docker.io/')) canonical = `docker.io/${canonical.slice('index.docker.io/'.length)}`;
  if (/^docker\.io\/[^/]+$/.test(canonical)) canonical = canonical.replace('docker.io/', 'docker.io/library/');
  return canonical;
}

/**
 * The immutable reference a rollback deploys, from a container's `imageID` and the image its
 * template names: `repo@sha256:…`.
 * - Runtime prefixes go (`docker-pullable://`, `docker://`, any `<scheme>://`).
 * - `repo@sha256:d` (containerd, docker-pullable): the template's own spelling of the repository
 *   when it is the same repository (`team/api@sha256:d`, not `docker.io/team/api@sha256:d`),
 *   else the imageID's repository.
 * - A bare `sha256:d` (no repository: an image the node has but no registry digest for): the
 *   template image's repository + `@` + d.
 * - Anything else (empty, another algorithm, garbage): null — nothing to pin.
 */
export function pinnedReference(imageId: string | null | undefined, templateImage: string): string | null {
  if (!imageId) return null;
  const id = imageId.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  if (DIGEST.test(id)) return `${repositoryOf(templateImage)}@${id}`;
  const at = id.lastIndexOf('@');
  if (at <= 0) return null;
  const [repository, digest] = [id.slice(0, at), id.slice(at + 1)];
  if (!DIGEST.test(digest)) return null;
  const templateRepository = repositoryOf(templateImage);
  const sameRepository = canonicalRepository(repository) === canonicalRepository(templateRepository);
  return `${sameRepository ? templateRepository : repository}@${digest}`;
}

/** The pinned form of a reference that already names a digest (`repo:tag@sha256:d` → `repo@sha256:d`), else null. */
export function pinnedFromReference(image: string): string | null {
  const digest = digestOf(image);
  return digest ? `${repositoryOf(image)}@${digest}` : null;
}
