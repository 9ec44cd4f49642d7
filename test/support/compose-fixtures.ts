// Compose fixtures for the digest and migration tests: a project of several services (each
// from a given image, optionally with bind mounts) as a ComposeTarget, and locally built image
// variants under names of the test's own, so tests running at the same time on one engine
// never move each other's tags.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { ComposeTarget } from '../../src/config/stacks/deploy.js';
import { composeHead, detectComposeFlavor } from './compose-project.js';

export interface ComposeFixture {
  target: ComposeTarget;
  directory: string;
  projectName: string;
  /** `down -v --remove-orphans`, then the directory; never throws. */
  down(): Promise<void>;
}

export interface FixtureService {
  image: string;
  /** `host:container` bind mounts. */
  volumes?: string[];
}

export async function createComposeFixture(services: Record<string, FixtureService>): Promise<ComposeFixture> {
  const flavor = await detectComposeFlavor();
  const directory = await mkdtemp(join(tmpdir(), 'ragops-compose-fx-'));
  const projectName = `ragops-fx-${randomBytes(5).toString('hex')}`;
  const file = {
    version: '3.8',
    services: Object.fromEntries(
      Object.entries(services).map(([name, service]) => [
        name,
        {
          image: service.image,
          ...(service.volumes ? { volumes: service.volumes } : {}),
          healthcheck: { test: ['CMD', '/app/healthcheck'], interval: '1s', timeout: '3s', retries: 3 },
          stop_grace_period: '3s',
        },
      ]),
    ),
  };
  await writeFile(join(directory, 'docker-compose.yml'), stringify(file));
  const target: ComposeTarget = { type: 'compose', directory, files: ['docker-compose.yml'], projectName, flavor };
  let downed = false;
  return {
    target,
    directory,
    projectName,
    async down() {
      if (downed) return;
      downed = true;
      const [head, ...rest] = composeHead(flavor);
      await execa(head, [...rest, '--project-directory', directory, '-f', join(directory, 'docker-compose.yml'), '-p', projectName, 'down', '-v', '--remove-orphans', '-t', '3'], {
        reject: false,
        timeout: 120_000,
      });
      // Files written by containers (as root) in bind mounts are removed with the directory.
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Builds `FROM <from>` plus a label unique to this call, tagged `<image>`: same content as
 * `from` (same /app, same /version answer), its own image id. Moves the tag if it existed.
 */
export async function buildVariant(from: string, image: string): Promise<string> {
  const dockerfile = `FROM ${from}\nLABEL org.ragops.test.variant=${randomBytes(8).toString('hex')}\n`;
  await execa('docker', ['build', '-q', '-t', image, '-'], { input: dockerfile });
  return (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image])).stdout.trim();
}

/** Removes the images (by tag or id), ignoring those already gone or still in use. */
export async function removeImages(...images: string[]): Promise<void> {
  if (images.length > 0) await execa('docker', ['rmi', '-f', ...images], { reject: false });
}

export async function imageIdOf(image: string): Promise<string> {
  return (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image])).stdout.trim();
}

/** What the service's running container says on GET /version, asked from inside it. */
export async function versionInside(fixture: ComposeFixture, service: string): Promise<string> {
  const [head, ...rest] = composeHead(fixture.target.flavor ?? (await detectComposeFlavor()));
  const { stdout: id } = await execa(head, [...rest, '--project-directory', fixture.directory, '-f', join(fixture.directory, 'docker-compose.yml'), '-p', fixture.projectName, 'ps', '-q', service]);
  const first = id.split('\n').map((line) => line.trim()).filter(Boolean)[0];
  if (!first) throw new Error(`no container for ${service}`);
  return (await execa('docker', ['exec', first, 'busybox', 'wget', '-q', '-O', '-', 'http://127.0.0.1:8080/version'])).stdout.trim();
}
