// A throwaway Compose project in a temp directory: one service (`api` by default) from a
// test image, published on 127.0.0.1:<free port>, with a 1 s healthcheck so `docker inspect`
// turns healthy/unhealthy within seconds. Nothing is started here: tests bring it up with
// the real compose CLI (e.g. the argv from composeCommands.up), and down() removes it all.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { composeCommands, type ComposeFlavor } from '../../src/activities/compose/commands.js';
import { findFreePort } from '../../src/client/dev/devserver.js';
import { TEST_API_IMAGES } from './docker-images.js';

let flavor: Promise<ComposeFlavor> | undefined;

/** `v2` when `docker compose version` works, else `v1` when `docker-compose version` does; asked once. */
export function detectComposeFlavor(): Promise<ComposeFlavor> {
  flavor ??= (async () => {
    for (const candidate of ['v2', 'v1'] as const) {
      const [file, ...args] = composeCommands.version(candidate).argv;
      const result = await execa(file, args, { reject: false, timeout: 30_000 });
      if (!result.failed) return candidate;
    }
    flavor = undefined;
    throw new Error('neither `docker compose` (v2) nor `docker-compose` (v1) works here; run `bash scripts/setup.sh`');
  })();
  return flavor;
}

/** The compose argv head of a flavor: ['docker', 'compose'] or ['docker-compose']. */
export function composeHead(of: ComposeFlavor): [string, ...string[]] {
  return of === 'v2' ? ['docker', 'compose'] : ['docker-compose'];
}

export interface TestComposeProject {
  flavor: ComposeFlavor;
  directory: string;
  /** Absolute path of docker-compose.yml. */
  files: string[];
  projectName: string;
  service: string;
  hostPort: number;
  /** http://127.0.0.1:<hostPort>, the service's port 8080. */
  url: string;
  /** `down -v --remove-orphans` for the project, then removes the directory. Never throws. */
  down(): Promise<void>;
}

export interface ComposeProjectOptions {
  service?: string;
  image?: string;
  hostPort?: number;
}

export function composeFileText(service: string, image: string, hostPort: number): string {
  // Format 3.8: docker-compose 1.29 and compose v2 both read it, healthcheck included.
  return `version: "3.8"
services:
  ${service}:
    image: ${image}
    ports:
      - "127.0.0.1:${hostPort}:8080"
    healthcheck:
      test: ["CMD", "/app/healthcheck"]
      interval: 1s
      timeout: 3s
      retries: 3
    stop_grace_period: 3s
`;
}

export async function createComposeProject(opts: ComposeProjectOptions = {}): Promise<TestComposeProject> {
  const service = opts.service ?? 'api';
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(service)) throw new Error(`createComposeProject: bad service name ${JSON.stringify(service)}`);
  const image = opts.image ?? TEST_API_IMAGES.v1;
  if (!/^[\w./:@-]+$/.test(image)) throw new Error(`createComposeProject: bad image ${JSON.stringify(image)}`);
  const composeFlavor = await detectComposeFlavor();
  const hostPort = opts.hostPort ?? (await findFreePort());
  const directory = await mkdtemp(join(tmpdir(), 'ragops-compose-'));
  const file = join(directory, 'docker-compose.yml');
  await writeFile(file, composeFileText(service, image, hostPort));
  const projectName = `ragops-t-${randomBytes(5).toString('hex')}`;
  let downed = false;
  return {
    flavor: composeFlavor,
    directory,
    files: [file],
    projectName,
    service,
    hostPort,
    url: `http://127.0.0.1:${hostPort}`,
    async down() {
      if (downed) return;
      downed = true;
      const [head, ...rest] = composeHead(composeFlavor);
      await execa(head, [...rest, '--project-directory', directory, '-f', file, '-p', projectName, 'down', '-v', '--remove-orphans', '-t', '3'], {
        reject: false,
        timeout: 120_000,
      });
      await rm(directory, { recursive: true, force: true });
    },
  };
}
