// The API image of the disaster-recovery test stack, built on this host from the local busybox
// base of docker-images.ts (no registry):
//
//   ragops-test/dr-api:v1, :v2    identical but for the version they report
//
// The service listens on $PORT (default 8080; every address: Debian's busybox nc has no -s).
// The stack runs it with network_mode: host, so it reaches the machine's PostgreSQL on
// 127.0.0.1:5432, which a container on a bridge network could not:
//   GET /health   200 "ok <version>: database <name> answers at …" when the database
//                 $DB_NAME at $DB_HOST:$DB_PORT (user $DB_USER, default postgres) takes a
//                 connection; 500 "unhealthy <version>: <reason>" when it does not (e.g.
//                 "3D000 database "x" does not exist", or no answer within 2 s), or when forced
//                 by HEALTH_FORCE_500=1, a file /control/force500 or /tmp/force500
//   GET /version  200 "<version>"
// The database probe (dr-api/db-probe) writes a PostgreSQL v3 StartupMessage and a Terminate
// with busybox printf through busybox nc (2 s in all) and reads the reply: ReadyForQuery means it answers, an
// ErrorResponse gives the reason. With trust auth the first byte is AuthenticationOk ('R') even
// for a missing database (the server authenticates before it looks the database up), so the
// probe reads the whole reply rather than the first byte.
//
// Like docker-images.ts, the HTTP side is `busybox nc -ll -e` with a shell handler, not
// `busybox httpd`: httpd runs CGI only under /cgi-bin/ or by file suffix, and answers a
// directory URL with 302, so it cannot serve a plain /health.
//
// The scripts are the files in test/support/dr-api/. Cached: each image carries a label with the
// hash of everything it is built from (the scripts, the Dockerfile, the base's own label); a build
// holds a lock file, builds under unique temporary tags and `docker tag`s them into place.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensureTestImages, imageId, INPUTS_LABEL, labelOf, TEST_BASE_IMAGE, withLockFile } from './docker-images.js';

export const DR_API_REPOSITORY = 'ragops-test/dr-api';
export const DR_API_IMAGES = { v1: `${DR_API_REPOSITORY}:v1`, v2: `${DR_API_REPOSITORY}:v2` } as const;
export type DrApiVersion = keyof typeof DR_API_IMAGES;

const SCRIPTS_DIR = fileURLToPath(new URL('./dr-api/', import.meta.url));
const LOCK_FILE = join(tmpdir(), 'ragops-test-dr-api-image.lock');

function dockerfile(base: string): string {
  return `FROM ${base}
COPY app/ /app/
ARG VARIANT
COPY variants/\${VARIANT}/ /app/
HEALTHCHECK --interval=1s --timeout=5s --retries=3 CMD ["/app/healthcheck"]
CMD ["/app/serve"]
`;
}

async function scripts(): Promise<Array<[string, string]>> {
  const names = (await readdir(SCRIPTS_DIR)).filter((name) => !name.startsWith('.')).sort();
  return Promise.all(names.map(async (name) => [name, await readFile(join(SCRIPTS_DIR, name), 'utf8')] as [string, string]));
}


async function allCurrent(hash: string): Promise<boolean> {
  return (await Promise.all(Object.values(DR_API_IMAGES).map(labelOf))).every((label) => label === hash);
}

async function build(files: Array<[string, string]>, hash: string): Promise<void> {
  const context = await mkdtemp(join(tmpdir(), 'ragops-test-dr-api-'));
  const suffix = `build-${randomBytes(4).toString('hex')}`;
  const temporary: string[] = [];
  try {
    await mkdir(join(context, 'app'), { recursive: true });
    for (const [name, text] of files) await writeFile(join(context, 'app', name), text, { mode: 0o755 });
    for (const version of Object.keys(DR_API_IMAGES)) {
      await mkdir(join(context, 'variants', version), { recursive: true });
      await writeFile(join(context, 'variants', version, 'VERSION'), `${version}\n`);
    }
    await writeFile(join(context, 'Dockerfile'), dockerfile(TEST_BASE_IMAGE));
    for (const [version, final] of Object.entries(DR_API_IMAGES)) {
      const temp = `${DR_API_REPOSITORY}:${suffix}-${version}`;
      temporary.push(temp);
      const built = await execa('docker', ['build', '-q', '--build-arg', `VARIANT=${version}`, '--label', `${INPUTS_LABEL}=${hash}`, '-t', temp, '.'], {
        cwd: context,
        reject: false,
      });
      if (built.failed) throw new Error(`docker build of ${final} failed: ${String(built.stderr).slice(-2000)}`);
    }
    const previous = await Promise.all(Object.values(DR_API_IMAGES).map(imageId));
    for (const [version, final] of Object.entries(DR_API_IMAGES)) await execa('docker', ['tag', `${DR_API_REPOSITORY}:${suffix}-${version}`, final]);
    // The replaced images, now untagged; one a container still uses stays (rmi fails, ignored).
    const replaced = [...new Set(previous.filter((id): id is string => id !== undefined))];
    if (replaced.length > 0) await execa('docker', ['rmi', ...replaced], { reject: false });
  } finally {
    if (temporary.length > 0) await execa('docker', ['rmi', ...temporary], { reject: false });
    await rm(context, { recursive: true, force: true });
  }
}

async function ensure(): Promise<typeof DR_API_IMAGES> {
  await ensureTestImages();
  const files = await scripts();
  const digest = createHash('sha256').update('ragops-test-dr-api/1\0').update(dockerfile('BASE')).update(JSON.stringify(files));
  // The base's label changes when it is rebuilt: so does ours.
  digest.update((await labelOf(TEST_BASE_IMAGE)) ?? '');
  const hash = digest.digest('hex').slice(0, 16);
  if (await allCurrent(hash)) return DR_API_IMAGES;
  await withLockFile(LOCK_FILE, 'dr-api test images', async () => {
    if (!(await allCurrent(hash))) await build(files, hash);
  });
  return DR_API_IMAGES;
}

let pending: Promise<typeof DR_API_IMAGES> | undefined;

/** Builds ragops-test/dr-api:v1 and :v2 once per host and content; later calls return at once. */
export function ensureDrApiImages(): Promise<typeof DR_API_IMAGES> {
  pending ??= ensure().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}
