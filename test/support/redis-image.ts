// A Redis test image built on this host without any registry: FROM the local busybox base of
// docker-images.ts, plus this machine's /usr/bin/redis-server and every library `ldd` lists,
// each copied (its bytes, not a symlink) at the path the loader looks for it.
//
//   ragops-test/redis:latest    redis-server on 6379, its dir /data (dump.rdb), no AOF
//
// Cached as the base is: a label holds the hash of the binary, the libraries and the
// Dockerfile; a build holds its own lock file and tags a unique temporary tag into place.
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { ensureTestImages, TEST_BASE_IMAGE, withLockFile } from './docker-images.js';

export const TEST_REDIS_IMAGE = 'ragops-test/redis:latest';
const REDIS_SERVER = '/usr/bin/redis-server';
const INPUTS_LABEL = 'org.ragops.test.inputs';
const LOCK_FILE = join(tmpdir(), 'ragops-test-redis-image.lock');

function dockerfile(base: string): string {
  return `FROM ${base}
COPY rootfs/ /
EXPOSE 6379
CMD ["/usr/bin/redis-server", "--port", "6379", "--protected-mode", "no", "--dir", "/data", "--dbfilename", "dump.rdb", "--appendonly", "no"]
`;
}

/** The absolute paths of the shared libraries and the loader `ldd` says the binary needs. */
async function librariesOf(binary: string): Promise<string[]> {
  const { stdout } = await execa('ldd', [binary]);
  const paths: string[] = [];
  for (const line of stdout.split('\n')) {
    const resolved = /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (resolved) paths.push(resolved);
  }
  if (!paths.some((path) => path.includes('ld-linux'))) throw new Error(`ldd ${binary} lists no loader: ${stdout}`);
  return paths;
}

async function labelOf(image: string): Promise<string | undefined> {
  const result = await execa('docker', ['image', 'inspect', '--format', `{{ index .Config.Labels "${INPUTS_LABEL}" }}`, image], { reject: false });
  return result.failed ? undefined : String(result.stdout).trim();
}

async function build(files: string[], hash: string): Promise<void> {
  const context = await mkdtemp(join(tmpdir(), 'ragops-test-redis-image-'));
  const temporary = `ragops-test/redis:build-${randomBytes(4).toString('hex')}`;
  try {
    for (const file of files) {
      await mkdir(join(context, 'rootfs', dirname(file)), { recursive: true });
      await copyFile(file, join(context, 'rootfs', file)); // follows symlinks: the bytes land at the path
    }
    await mkdir(join(context, 'rootfs', 'data'), { recursive: true });
    await writeFile(join(context, 'Dockerfile'), dockerfile(TEST_BASE_IMAGE));
    const built = await execa('docker', ['build', '-q', '--label', `${INPUTS_LABEL}=${hash}`, '-t', temporary, '.'], { cwd: context, reject: false });
    if (built.failed) throw new Error(`docker build of ${TEST_REDIS_IMAGE} failed: ${String(built.stderr).slice(-2000)}`);
    await execa('docker', ['tag', temporary, TEST_REDIS_IMAGE]);
  } finally {
    await execa('docker', ['rmi', temporary], { reject: false });
    await rm(context, { recursive: true, force: true });
  }
}

async function ensure(): Promise<string> {
  await ensureTestImages();
  const files = [REDIS_SERVER, ...(await librariesOf(REDIS_SERVER))];
  const digest = createHash('sha256').update('ragops-test-redis-image/1\0').update(dockerfile('BASE'));
  // The base's label changes when it is rebuilt: so does ours.
  digest.update((await labelOf(TEST_BASE_IMAGE)) ?? '');
  for (const file of files) digest.update(file).update('\0').update(await readFile(file));
  const hash = digest.digest('hex').slice(0, 16);
  if ((await labelOf(TEST_REDIS_IMAGE)) === hash) return TEST_REDIS_IMAGE;
  await withLockFile(LOCK_FILE, 'redis test image', async () => {
    if ((await labelOf(TEST_REDIS_IMAGE)) !== hash) await build(files, hash);
  });
  return TEST_REDIS_IMAGE;
}

let pending: Promise<string> | undefined;

/** Builds the Redis test image once per host and content; later calls return at once. */
export function ensureRedisImage(): Promise<string> {
  pending ??= ensure().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

export interface RedisContainer {
  name: string;
  /** The host port (127.0.0.1) published for the container's 6379. */
  port: number;
  stop(): Promise<void>;
}

/** A container of the image, named `name`, its 6379 published on 127.0.0.1:`port`; extra redis-server flags after the image's. */
export async function runRedisContainer(name: string, port: number, flags: string[] = []): Promise<RedisContainer> {
  const image = await ensureRedisImage();
  const command = ['/usr/bin/redis-server', '--port', '6379', '--protected-mode', 'no', '--dir', '/data', '--dbfilename', 'dump.rdb', '--appendonly', 'no', ...flags];
  const started = await execa('docker', ['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:6379`, image, ...command], { reject: false });
  if (started.failed) throw new Error(`docker run of ${image} failed: ${String(started.stderr).slice(-2000)}`);
  return { name, port, stop: async () => void (await execa('docker', ['rm', '-f', '-v', name], { reject: false })) };
}
