// Tiny test images built on this host without any registry: Debian's static busybox is
// `docker import`ed as a base, and the app images are `docker build`s FROM that local base.
//
//   ragops-test/busybox:latest           /bin/busybox and a symlink per applet
//   ragops-test/api:v1, :v2               healthy; GET /health -> 200 "ok <version>"
//   ragops-test/api:bad                   GET /health -> 500 "unhealthy bad"
//   ragops-test/api:v3-badmigration       healthy, but /app/migrate exits 3
//
// The service listens on 8080: GET /health, GET /version (the version), anything else 404.
// It is a shell handler run per connection by `busybox nc -ll -e`, not `busybox httpd`:
// busybox httpd runs CGI only under /cgi-bin/ (or by file suffix), Debian builds it
// without the P: proxy, and a directory URL answers 302, so it cannot serve a plain
// `/health` that the deploy checks (fetch with redirect: 'manual') accept.
// `/app/migrate` prints "migrated to <version>" and exits 0; it fails (exit 3) in the
// v3-badmigration tag, or in any tag when the container's env has MIGRATION_SHOULD_FAIL=1.
// Every image has a HEALTHCHECK (busybox wget of /health every 1 s, 3 retries), so
// `docker inspect` shows starting/healthy/unhealthy.
//
// Cached: each image carries a label with the hash of everything it is built from; when
// all five carry the current hash, nothing is built. Safe across processes: builds hold a
// lock file, build under unique temporary tags and then `docker tag` them into place.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

export const TEST_BASE_IMAGE = 'ragops-test/busybox:latest';
export const TEST_API_REPOSITORY = 'ragops-test/api';
export const TEST_API_IMAGES = {
  v1: `${TEST_API_REPOSITORY}:v1`,
  v2: `${TEST_API_REPOSITORY}:v2`,
  bad: `${TEST_API_REPOSITORY}:bad`,
  badMigration: `${TEST_API_REPOSITORY}:v3-badmigration`,
} as const;

export interface TestImages {
  base: string;
  tags: { v1: string; v2: string; bad: string; badMigration: string };
}

/** What each tag bakes into /app: its version, whether /health passes, whether migrate passes. */
const VARIANTS: Record<keyof TestImages['tags'], { version: string; health: 'ok' | 'fail'; migration: 'ok' | 'fail' }> = {
  v1: { version: 'v1', health: 'ok', migration: 'ok' },
  v2: { version: 'v2', health: 'ok', migration: 'ok' },
  bad: { version: 'bad', health: 'fail', migration: 'ok' },
  badMigration: { version: 'v3', health: 'ok', migration: 'fail' },
};

/** The hash of what an image was built from, as a label: a test image is rebuilt only when it changed. */
export const INPUTS_LABEL = 'org.ragops.test.inputs';
const LOCK_FILE = join(tmpdir(), 'ragops-test-images.lock');
const LOCK_WAIT_MS = 120_000;
/** A lock older than this whose owner cannot be checked is taken over. */
const LOCK_STALE_MS = 300_000;

// --- files baked into the images ------------------------------------------------------------

const APP_FILES: Record<string, string> = {
  // PID 1: nc answers each connection with a forked http-handler; TERM stops it at once.
  serve: `#!/bin/sh
busybox nc -ll -p 8080 -e /app/http-handler &
server=$!
trap 'kill $server 2>/dev/null; exit 0' TERM INT
echo "ragops-test api $(cat /app/VERSION) listening on :8080"
wait $server
`,
  // One HTTP/1.x exchange on stdin/stdout.
  'http-handler': `#!/bin/sh
cr="$(printf '\\r')"
read -r method target protocol || exit 0
while IFS= read -r line; do
  line="\${line%"$cr"}"
  [ -z "$line" ] && break
done
path="\${target%%\\?*}"
version="$(cat /app/VERSION)"
case "$path" in
  /health)
    if [ "$(cat /app/HEALTH_STATUS)" = ok ]; then status="200 OK"; body="ok $version"
    else status="500 Internal Server Error"; body="unhealthy $version"; fi ;;
  /version) status="200 OK"; body="$version" ;;
  *) status="404 Not Found"; body="not found: $path" ;;
esac
[ "$method" = HEAD ] && send="" || send="$body
"
printf 'HTTP/1.1 %s\\r\\nContent-Type: text/plain\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "$status" "$(( \${#body} + 1 ))" "$send"
echo "$method $path -> \${status%% *}" >&2
`,
  migrate: `#!/bin/sh
version="$(cat /app/VERSION)"
if [ "$(cat /app/MIGRATION_STATUS)" != ok ] || [ "\${MIGRATION_SHOULD_FAIL:-}" = 1 ]; then
  echo "migration to $version failed: relation \\"chunks\\" already has column \\"embedding_v3\\"" >&2
  exit 3
fi
echo "migrated to $version"
`,
  healthcheck: `#!/bin/sh
exec busybox wget -q -O /dev/null http://127.0.0.1:8080/health
`,
};

function dockerfile(base: string): string {
  return `FROM ${base}
COPY app/ /app/
ARG VARIANT
COPY variants/\${VARIANT}/ /app/
EXPOSE 8080
HEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD ["/app/healthcheck"]
CMD ["/app/serve"]
`;
}

// --- busybox ----------------------------------------------------------------------------------

async function findBusybox(): Promise<string> {
  for (const path of ['/bin/busybox', '/usr/bin/busybox']) {
    if (existsSync(path)) return path;
  }
  throw new Error(
    'busybox not found (/bin/busybox): the docker test images need a static busybox; run `bash scripts/setup.sh` ' +
      '(as root on Debian it installs busybox-static) or `apt-get install busybox-static`',
  );
}

/** True when the ELF executable asks for a dynamic loader (PT_INTERP), i.e. cannot run in an empty rootfs. */
function isDynamicElf(binary: Buffer): boolean {
  if (binary.readUInt32BE(0) !== 0x7f454c46 || binary[4] !== 2) return false; // only 64-bit ELF checked
  const little = binary[5] === 1;
  const u16 = (at: number) => (little ? binary.readUInt16LE(at) : binary.readUInt16BE(at));
  const u32 = (at: number) => (little ? binary.readUInt32LE(at) : binary.readUInt32BE(at));
  const phoff = Number(little ? binary.readBigUInt64LE(0x20) : binary.readBigUInt64BE(0x20));
  const phentsize = u16(0x36);
  const phnum = u16(0x38);
  for (let i = 0; i < phnum; i++) {
    if (u32(phoff + i * phentsize) === 3 /* PT_INTERP */) return true;
  }
  return false;
}

// --- docker helpers ---------------------------------------------------------------------------

async function docker(args: string[], options: { input?: string; cwd?: string } = {}): Promise<string> {
  const result = await execa('docker', args, { input: options.input, cwd: options.cwd, reject: false });
  if (result.failed) {
    throw new Error(`docker ${args.join(' ')} failed (exit ${result.exitCode}): ${String(result.stderr).slice(-2000) || String(result.stdout).slice(-2000)}`);
  }
  return String(result.stdout);
}

/** The image's inputs hash (INPUTS_LABEL), or undefined when it is absent. */
export async function labelOf(image: string): Promise<string | undefined> {
  const result = await execa('docker', ['image', 'inspect', '--format', `{{ index .Config.Labels "${INPUTS_LABEL}" }}`, image], { reject: false });
  return result.failed ? undefined : String(result.stdout).trim();
}

export async function imageId(image: string): Promise<string | undefined> {
  const result = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { reject: false });
  return result.failed ? undefined : String(result.stdout).trim();
}

async function allCurrent(hash: string): Promise<boolean> {
  const labels = await Promise.all([TEST_BASE_IMAGE, ...Object.values(TEST_API_IMAGES)].map(labelOf));
  return labels.every((label) => label === hash);
}

// --- lock -------------------------------------------------------------------------------------

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `work` holding `lockFile` (created exclusively, holding our pid), across processes: a lock
 * whose owner is gone, or without an owner and older than LOCK_STALE_MS, is taken over.
 */
export async function withLockFile<T>(lockFile: string, what: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      const age = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
      const stale = owner > 0 ? !processAlive(owner) : age > LOCK_STALE_MS;
      if (stale) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${what}: lock ${lockFile} held by pid ${owner || '?'} for over ${LOCK_WAIT_MS / 1000} s`);
      await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockFile, { force: true });
  }
}

// --- build ------------------------------------------------------------------------------------

async function buildAll(busyboxPath: string, busybox: Buffer, hash: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'ragops-test-images-'));
  const suffix = `build-${randomBytes(4).toString('hex')}`;
  const temporary: string[] = [];
  try {
    // 1. The base: a rootfs with busybox and a symlink per applet, imported as an image.
    const rootfs = join(work, 'rootfs');
    for (const dir of ['bin', 'tmp', 'etc', 'proc', 'sys', 'dev', 'app']) await mkdir(join(rootfs, dir), { recursive: true });
    await chmod(join(rootfs, 'tmp'), 0o1777);
    await writeFile(join(rootfs, 'bin', 'busybox'), busybox, { mode: 0o755 });
    const applets = (await execa(busyboxPath, ['--list'])).stdout.split('\n').map((a) => a.trim());
    for (const applet of applets) {
      if (applet && applet !== 'busybox' && /^[\w.[-]+$/.test(applet)) await symlink('busybox', join(rootfs, 'bin', applet));
    }
    await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    const tarball = join(work, 'rootfs.tar');
    await execa('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tarball, '.']);
    const baseTemp = `ragops-test/busybox:${suffix}`;
    temporary.push(baseTemp);
    await docker([
      'import',
      '--change', 'CMD ["/bin/sh"]',
      '--change', 'ENV PATH=/bin',
      '--change', `LABEL ${INPUTS_LABEL}=${hash}`,
      '--message', 'ragops test base: Debian busybox-static',
      tarball,
      baseTemp,
    ]);

    // 2. The app images, FROM the local base (nothing to pull), one variant each.
    const context = join(work, 'context');
    await mkdir(join(context, 'app'), { recursive: true });
    for (const [name, text] of Object.entries(APP_FILES)) await writeFile(join(context, 'app', name), text, { mode: 0o755 });
    for (const [tag, variant] of Object.entries(VARIANTS)) {
      const dir = join(context, 'variants', tag);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'VERSION'), `${variant.version}\n`);
      await writeFile(join(dir, 'HEALTH_STATUS'), `${variant.health}\n`);
      await writeFile(join(dir, 'MIGRATION_STATUS'), `${variant.migration}\n`);
    }
    await writeFile(join(context, 'Dockerfile'), dockerfile(baseTemp));
    const built: Array<[string, string]> = [];
    // Sequential: the shared COPY app/ layer is cached after the first build.
    for (const [tag, final] of Object.entries(TEST_API_IMAGES)) {
      const temp = `${TEST_API_REPOSITORY}:${suffix}-${tag.toLowerCase()}`;
      temporary.push(temp);
      await docker(['build', '-q', '--build-arg', `VARIANT=${tag}`, '--label', `${INPUTS_LABEL}=${hash}`, '-t', temp, '.'], { cwd: context });
      built.push([temp, final]);
    }

    // 3. Into place: `docker tag` moves each final tag atomically.
    const finals = [TEST_BASE_IMAGE, ...built.map(([, final]) => final)];
    const previous = (await Promise.all(finals.map((image) => imageId(image)))).filter((id): id is string => id !== undefined);
    await docker(['tag', baseTemp, TEST_BASE_IMAGE]);
    for (const [temp, final] of built) await docker(['tag', temp, final]);
    // The replaced images, now untagged; a container still using one keeps it (rmi fails, ignored).
    if (previous.length > 0) await execa('docker', ['rmi', ...new Set(previous)], { reject: false });
  } finally {
    // Untagging leaves the images under their final tags (and drops the replaced ones' tags).
    if (temporary.length > 0) await execa('docker', ['rmi', ...temporary], { reject: false });
    await rm(work, { recursive: true, force: true });
  }
}

async function ensure(): Promise<TestImages> {
  const busyboxPath = await findBusybox();
  const busybox = await readFile(busyboxPath);
  if (isDynamicElf(busybox)) {
    throw new Error(`${busyboxPath} is dynamically linked and cannot run in an empty image; install Debian's busybox-static (apt-get install busybox-static)`);
  }
  const hash = createHash('sha256')
    .update('ragops-test-images/1\0')
    .update(busybox)
    .update(JSON.stringify({ APP_FILES, VARIANTS, dockerfile: dockerfile('BASE') }))
    .digest('hex')
    .slice(0, 16);
  const result: TestImages = { base: TEST_BASE_IMAGE, tags: { ...TEST_API_IMAGES } };
  if (await allCurrent(hash)) return result;
  await withLockFile(LOCK_FILE, 'test images', async () => {
    if (await allCurrent(hash)) return; // another process built them while we waited
    await buildAll(busyboxPath, busybox, hash);
  });
  return result;
}

let pending: Promise<TestImages> | undefined;

/** Builds the test images once (per host, per content); later calls return at once. */
export function ensureTestImages(): Promise<TestImages> {
  pending ??= ensure().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}
