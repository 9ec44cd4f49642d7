// Test images of a service under a canary, built on this host from the local busybox test
// base (no registry): FROM ragops-test/api:v1 (its /app/serve, /app/healthcheck and
// HEALTHCHECK), with an HTTP handler that counts what it answers in /tmp/requests and
// exports it at /metrics as http_requests_total{version,code} for a real Prometheus.
//
//   ragops-test/canary-app:c1       version "c1", never fails
//   ragops-test/canary-app:c2       version "c2", never fails
//   ragops-test/canary-app:c2bad    version "c2bad", every fifth request answered 500 (20 %)
//
// Every path but /health and /metrics answers the version ("c1") with 200, or "error <version>"
// with 500. Built once per set of inputs (a label holds their hash), under the same lock
// discipline as docker-images.ts: build under a unique tag, then `docker tag` into place.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureTestImages, TEST_API_IMAGES } from './docker-images.js';

export const CANARY_APP_IMAGES = { c1: 'ragops-test/canary-app:c1', c2: 'ragops-test/canary-app:c2', c2bad: 'ragops-test/canary-app:c2bad' } as const;
export type CanaryAppVersion = keyof typeof CANARY_APP_IMAGES;

const FAIL_EVERY: Record<CanaryAppVersion, number> = { c1: 0, c2: 0, c2bad: 5 };
const LABEL = 'org.ragops.test.canary-app-inputs';

const HANDLER = `#!/bin/sh
cr="$(printf '\\r')"
read -r method target protocol || exit 0
while IFS= read -r line; do
  line="\${line%"$cr"}"
  [ -z "$line" ] && break
done
path="\${target%%\\?*}"
version="$(cat /app/VERSION)"
every="$(cat /app/FAIL_EVERY)"
[ -f /tmp/requests ] || : >> /tmp/requests
case "$path" in
  /health) status="200 OK"; body="ok $version" ;;
  /metrics)
    ok="$(grep -c '^200$' /tmp/requests)"
    err="$(grep -c '^500$' /tmp/requests)"
    status="200 OK"
    body="# TYPE http_requests_total counter
http_requests_total{version=\\"$version\\",code=\\"200\\"} $ok
http_requests_total{version=\\"$version\\",code=\\"500\\"} $err" ;;
  *)
    n=$(( $(wc -l < /tmp/requests) + 1 ))
    if [ "$every" -gt 0 ] && [ $(( n % every )) -eq 0 ]; then code=500; status="500 Internal Server Error"; body="error $version"
    else code=200; status="200 OK"; body="$version"; fi
    echo "$code" >> /tmp/requests ;;
esac
[ "$method" = HEAD ] && send="" || send="$body
"
printf 'HTTP/1.1 %s\\r\\nContent-Type: text/plain\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "$status" "$(( \${#body} + 1 ))" "$send"
`;

async function labelOf(image: string): Promise<string | undefined> {
  const result = await execa('docker', ['image', 'inspect', '--format', `{{ index .Config.Labels "${LABEL}" }}`, image], { reject: false });
  return result.failed ? undefined : String(result.stdout).trim();
}

/** Builds the three images when any is missing or stale; returns their references. */
export async function ensureCanaryAppImages(): Promise<typeof CANARY_APP_IMAGES> {
  await ensureTestImages();
  const baseId = (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', TEST_API_IMAGES.v1])).stdout.trim();
  const hash = createHash('sha256').update(HANDLER).update(JSON.stringify(FAIL_EVERY)).update(baseId).digest('hex').slice(0, 16);
  const labels = await Promise.all(Object.values(CANARY_APP_IMAGES).map(labelOf));
  if (labels.every((label) => label === hash)) return CANARY_APP_IMAGES;
  const work = await mkdtemp(join(tmpdir(), 'ragops-canary-app-'));
  try {
    for (const [version, image] of Object.entries(CANARY_APP_IMAGES) as Array<[CanaryAppVersion, string]>) {
      const context = join(work, version);
      await mkdir(join(context, 'app'), { recursive: true });
      await writeFile(join(context, 'app', 'http-handler'), HANDLER);
      await chmod(join(context, 'app', 'http-handler'), 0o755);
      await writeFile(join(context, 'app', 'VERSION'), `${version}\n`);
      await writeFile(join(context, 'app', 'FAIL_EVERY'), `${FAIL_EVERY[version]}\n`);
      await writeFile(join(context, 'Dockerfile'), `FROM ${TEST_API_IMAGES.v1}\nCOPY app/ /app/\nLABEL ${LABEL}=${hash}\n`);
      const temporary = `${image}-build-${randomBytes(4).toString('hex')}`;
      await execa('docker', ['build', '-q', '-t', temporary, context]);
      await execa('docker', ['tag', temporary, image]);
      await execa('docker', ['rmi', temporary], { reject: false });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return CANARY_APP_IMAGES;
}
