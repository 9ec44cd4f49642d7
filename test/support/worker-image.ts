// The worker image (the repository's Dockerfile) built on this host without a registry.
//
// Its base is made here: a Debian rootfs from `debootstrap --variant=minbase`, `docker import`ed,
// with this machine's `node` and its npm copied in (node:20-bookworm-slim's layout:
// /usr/local/bin/node, /usr/local/lib/node_modules/npm). Both are cached, so only the first run
// pays for them: the debootstrap tree under CACHE_ROOT/worker-image/ (outside the repository)
// and the base image under a tag named by the hash of what it is made of.
//
// The Dockerfile is built with TOOLS_FROM=debian: its `apt-get install` reaches Debian's mirror
// from inside `docker build` here, but not the PGDG, Docker or Kubernetes repositories, so the
// host's own `kubectl` and `docker` binaries go into the build context's image-tools/bin/, and
// the host's added CAs into image-tools/ca-certificates/ (npm ci reaches the registry through
// a TLS-intercepting proxy here).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { withLockFile } from './docker-images.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Cache for what is slow to make and never changes by itself; RAGOPS_CACHE_DIR overrides it. */
export const CACHE_ROOT = process.env.RAGOPS_CACHE_DIR ?? (process.getuid?.() === 0 ? '/var/cache/ragops' : join(homedir(), '.cache', 'ragops'));
const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
export const BASE_REPOSITORY = 'ragops-test/worker-base';
const ROOTFS_REPOSITORY = 'ragops-test/debian-minbase';
/** What of the repository goes into the build context (what .dockerignore lets through). */
const CONTEXT_FILES = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'bin', 'src'];
const LOCK_FILE = join(tmpdir(), 'ragops-worker-image-base.lock');
/** Where Debian keeps the CAs an administrator added to the system's trust store. */
const HOST_EXTRA_CAS = '/usr/local/share/ca-certificates';

const BASE_DOCKERFILE = (rootfsImage: string) => `FROM ${rootfsImage}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
`;

async function run(file: string, args: string[], what: string): Promise<string> {
  const result = await execa(file, args, { reject: false, all: true });
  if (result.failed) throw new Error(`${what}: ${file} ${args.join(' ')} failed (exit ${result.exitCode}):\n${String(result.all).slice(-4000)}`);
  return String(result.stdout);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function imageExists(image: string): Promise<boolean> {
  return (await execa('docker', ['image', 'inspect', image], { reject: false })).exitCode === 0;
}

/** The cached minbase tree and the line that says how it was made (its stamp, beside it). */
async function debianRootfs(): Promise<{ dir: string; stamp: string }> {
  const arch = (await run('dpkg', ['--print-architecture'], 'the architecture')).trim();
  const dir = join(CACHE_ROOT, 'worker-image', `${SUITE}-minbase-${arch}`);
  const stampFile = `${dir}.stamp`;
  const stamp = await readFile(stampFile, 'utf8').catch(() => undefined);
  if (stamp && existsSync(join(dir, 'usr/bin/apt-get'))) return { dir, stamp };
  if (process.getuid?.() !== 0) throw new Error(`no Debian rootfs cached at ${dir}, and only root can run debootstrap to make it`);
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  await run('debootstrap', ['--variant=minbase', `--arch=${arch}`, SUITE, partial, MIRROR], `debootstrap of Debian ${SUITE} (scripts/setup.sh installs debootstrap)`);
  // The downloaded .debs and package lists: the image's own apt-get update fetches fresh lists.
  await run('find', [join(partial, 'var/cache/apt/archives'), join(partial, 'var/lib/apt/lists'), '-maxdepth', '1', '-type', 'f', '-delete'], 'cleaning the rootfs');
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  const made = `debootstrap --variant=minbase --arch=${arch} ${SUITE} ${MIRROR} (${new Date().toISOString()})\n`;
  await writeFile(stampFile, made);
  return { dir, stamp: made };
}

/** This machine's node (the one running the tests) and the npm beside it. */
async function hostNode(): Promise<{ node: string; npm: string; npmVersion: string }> {
  const node = await realpath(process.execPath);
  const npm = join(dirname(dirname(node)), 'lib', 'node_modules', 'npm');
  const { version } = JSON.parse(await readFile(join(npm, 'package.json'), 'utf8')) as { version: string };
  return { node, npm, npmVersion: version };
}

/**
 * The test base: Debian minbase + this machine's Node.js, as `ragops-test/worker-base:<hash>`.
 * Made once per rootfs, node binary and npm version; older tags of it are removed.
 */
export async function ensureWorkerTestBase(): Promise<string> {
  return withLockFile(LOCK_FILE, 'the worker image test base', async () => {
    const rootfs = await debianRootfs();
    const { node, npm, npmVersion } = await hostNode();
    const rootfsImage = `${ROOTFS_REPOSITORY}:${sha256(rootfs.stamp).slice(0, 16)}`;
    const hash = sha256([rootfs.stamp, await sha256OfFile(node), npmVersion, BASE_DOCKERFILE(rootfsImage)].join('\n')).slice(0, 16);
    const base = `${BASE_REPOSITORY}:${hash}`;
    if (await imageExists(base)) return base;
    await removeTagsBut(ROOTFS_REPOSITORY, rootfsImage);
    await removeTagsBut(BASE_REPOSITORY, base);
    const context = await mkdtemp(join(tmpdir(), 'ragops-worker-base-'));
    try {
      if (!(await imageExists(rootfsImage))) {
        const tarball = join(context, 'rootfs.tar');
        await run('tar', ['-C', rootfs.dir, '-cf', tarball, '.'], `packing ${rootfs.dir}`);
        await run('docker', ['import', tarball, rootfsImage], `docker import of ${rootfs.dir}`);
        await rm(tarball);
      }
      await copyFile(node, join(context, 'node'));
      await cp(npm, join(context, 'npm'), { recursive: true, verbatimSymlinks: true });
      await writeFile(join(context, 'Dockerfile'), BASE_DOCKERFILE(rootfsImage));
      await run('docker', ['build', '--force-rm', '-q', '-t', base, context], `building ${base}`);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
    return base;
  });
}

async function removeTagsBut(repository: string, keep: string): Promise<void> {
  const tags = (await run('docker', ['images', repository, '--format', '{{.Repository}}:{{.Tag}}'], `listing ${repository}`)).split('\n').filter(Boolean);
  for (const tag of tags.filter((t) => t !== keep)) await execa('docker', ['rmi', tag], { reject: false });
}

export interface BuiltImage {
  image: string;
  /** The build's output, for a failing assertion to show. */
  log: string;
  durationMs: number;
  remove(): Promise<void>;
}

/**
 * `docker build` of the repository's Dockerfile FROM `base`, with TOOLS_FROM=debian and this
 * host's kubectl and docker binaries in the context's image-tools/bin/; a unique tag, removed
 * (with its layers) by remove().
 */
export async function buildWorkerImage(base: string): Promise<BuiltImage> {
  const image = `ragops-test/worker:${randomBytes(4).toString('hex')}`;
  const context = await mkdtemp(join(tmpdir(), 'ragops-worker-context-'));
  const started = Date.now();
  try {
    for (const entry of CONTEXT_FILES) await cp(join(PROJECT_ROOT, entry), join(context, entry), { recursive: true, verbatimSymlinks: true });
    await mkdir(join(context, 'image-tools', 'bin'), { recursive: true });
    // This host's extra CAs (e.g. of a TLS-intercepting egress proxy in front of the npm registry).
    const extraCas = (await readdir(HOST_EXTRA_CAS).catch(() => [] as string[])).filter((name) => name.endsWith('.crt'));
    if (extraCas.length > 0) {
      await mkdir(join(context, 'image-tools', 'ca-certificates'));
      for (const name of extraCas) await copyFile(join(HOST_EXTRA_CAS, name), join(context, 'image-tools', 'ca-certificates', name));
    }
    for (const tool of ['kubectl', 'docker']) {
      const found = (await run('sh', ['-c', `command -v ${tool}`], `finding ${tool} on this host`)).trim();
      await copyFile(await realpath(found), join(context, 'image-tools', 'bin', tool));
    }
    const result = await execa('docker', ['build', '--force-rm', '--build-arg', `BASE_IMAGE=${base}`, '--build-arg', 'TOOLS_FROM=debian', '-t', image, context], { reject: false, all: true });
    const log = String(result.all);
    if (result.failed) throw new Error(`docker build of the worker image FROM ${base} failed (exit ${result.exitCode}):\n${log.slice(-6000)}`);
    return {
      image,
      log,
      durationMs: Date.now() - started,
      remove: async () => {
        await execa('docker', ['rmi', '-f', image], { reject: false });
      },
    };
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

/** `docker run --rm <image> <argv>` as the image's user: exit code and output. */
export async function runInImage(image: string, argv: string[], options: { user?: string } = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa('docker', ['run', '--rm', ...(options.user ? ['--user', options.user] : []), image, ...argv], { reject: false });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
