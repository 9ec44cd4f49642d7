// Image references, ids and digests on a Docker host: pure helpers, no I/O.

/** A local image id as the engine prints it (`docker inspect .Image`, `docker image inspect .Id`). */
const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;

/** True for a bare image id (`sha256:<64 hex>`), which names content on this host only. */
export function isImageId(reference: string): boolean {
  return IMAGE_ID.test(reference);
}

/** True for `repo@sha256:<64 hex>` (with or without a tag before the `@`). */
export function isDigestReference(reference: string): boolean {
  return /@sha256:[a-f0-9]{64}$/.test(reference);
}

/**
 * The repository of a reference, without tag or digest: `registry:5000/team/api:v2` →
 * `registry:5000/team/api`. Docker Hub's implicit parts are dropped (`docker.io/library/x` → `x`)
 * so a reference and a RepoDigests entry compare in the same, familiar form.
 */
export function repositoryOf(reference: string): string {
  let name = reference.split('@')[0] ?? reference;
  const lastColon = name.lastIndexOf(':');
  if (lastColon > name.lastIndexOf('/')) name = name.slice(0, lastColon);
  return name.replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
}

/**
 * The RepoDigests entry (`repo@sha256:…`) that pins `reference`'s content: the one of the same
 * repository when there is one, else the first (any of them names exactly this image), else null
 * (an image built or loaded on this host and never pushed or pulled has none).
 */
export function pickRepoDigest(repoDigests: readonly string[] | null | undefined, reference: string | null): string | null {
  const entries = (repoDigests ?? []).filter(isDigestReference);
  if (entries.length === 0) return null;
  if (reference) {
    if (isDigestReference(reference) && entries.includes(reference)) return reference;
    const repository = repositoryOf(reference);
    const same = entries.find((entry) => repositoryOf(entry) === repository);
    if (same) return same;
  }
  return entries[0] ?? null;
}

/**
 * The local name ragops deploys a bare image id as. docker-compose v1 (1.29) takes
 * `image: sha256:<id>` (checked: it hands it to the engine, which resolves ids). Compose v2
 * parses `image:` as a reference (distribution/reference), where `sha256:<hex>` reads as
 * repository `sha256` with tag `<hex>` — not checked on a v2 binary, none could be installed
 * here — so both flavors get a name: one way that works for both. The tag carries the whole
 * id, and rollout re-tags it to that id every time, so it cannot stand for other content.
 */
export function pinnedTagFor(service: string, imageId: string): string {
  if (!isImageId(imageId)) throw new Error(`pinnedTagFor: ${imageId} is not an image id`);
  const component = service.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'image';
  return `ragops-pinned/${component}:sha256-${imageId.slice('sha256:'.length)}`;
}

/** The image id a ragops-pinned tag stands for, or null for any other reference. */
export function imageIdOfPinnedTag(reference: string): string | null {
  const match = /^ragops-pinned\/[a-z0-9-]+:sha256-([a-f0-9]{64})$/.exec(reference);
  return match ? `sha256:${match[1]}` : null;
}

export type PullFailureKind = 'missing' | 'denied' | 'transient';

/**
 * What a failed `docker pull` says, from the daemon's message: the image or tag does not exist,
 * access is denied (both stay so on a retry), or anything else (network, registry 5xx, rate
 * limit), which a retry may get past.
 */
export function classifyPullFailure(message: string): PullFailureKind {
  const text = message.toLowerCase();
  // Rate limits and server errors come with words that read like the permanent cases below.
  if (/toomanyrequests|rate limit|too many requests|\b50[0-4]\b|service unavailable|bad gateway|internal server error/.test(text)) return 'transient';
  // A bare "denied" is what a registry's DENIED error reads as through the daemon.
  if (/pull access denied|\bdenied\b|\bunauthorized\b|authentication required|no basic auth credentials|\bforbidden\b|incorrect username or password/.test(text)) {
    return 'denied';
  }
  if (/manifest unknown|manifest for .* not found|name unknown|repository does not exist|not found: |no such image|no matching manifest for|invalid reference format/.test(text)) {
    return 'missing';
  }
  return 'transient';
}

/** The part of `docker image inspect` ragops reads. */
export interface InspectedImage {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
}

/** The part of `docker container inspect` ragops reads. */
export interface InspectedContainer {
  Id: string;
  Name: string;
  /** The image id the container was created from. */
  Image: string;
  Config: { Image: string; Labels?: Record<string, string> | null };
  State: { Status: string; Running: boolean; ExitCode: number; Health?: { Status: string } };
  HostConfig?: { RestartPolicy?: { Name?: string } };
}

/**
 * The container label holding the reference (usually a tag) a service was deployed as when
 * ragops deployed it by digest or id: what people read in reports, while Config.Image is the
 * pinned name.
 */
export const REFERENCE_LABEL = 'org.ragops.reference';

/** Compose marks `run` containers (migrations, one-off tasks) so; they are not the service's replicas. */
export function isOneOffContainer(container: Pick<InspectedContainer, 'Config'>): boolean {
  return (container.Config.Labels?.['com.docker.compose.oneoff'] ?? '').toLowerCase() === 'true';
}
