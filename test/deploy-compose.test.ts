import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { composeCommands } from '../src/activities/compose/commands.js';
import { startDeploy } from '../src/client/api/runbooks.js';
import type { DeployReport } from '../src/workflows/deploy/index.js';
import { createComposeProject, type TestComposeProject } from './support/compose-project.js';
import { ensureTestImages, type TestImages } from './support/docker-images.js';
import { createTestDatabase, seedRagDatabase, type TestDatabase } from './support/postgres.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';
import { deployFailure } from './support/deploy.js';

describe('deploy on Docker Compose (real engine, docker-compose v1)', () => {
  let images: TestImages;
  let temporal: TestTemporal;
  let project: TestComposeProject;
  let db: TestDatabase;
  let store: { path: string; remove(): Promise<void> };
  let worker: RunningWorker;
  let taskQueue: string;
  const pgPassword = `pg-${randomBytes(10).toString('hex')}`;
  const registryPassword = `reg-${randomBytes(10).toString('hex')}`;
  const healthToken = `tok-${randomBytes(10).toString('hex')}`;

  before(async () => {
    [images, temporal, db, store] = await Promise.all([ensureTestImages(), startTestTemporal(), createTestDatabase('deploy'), tempDir('deploy-store')]);
    await seedRagDatabase(db.name, { documents: 1000 });
    project = await createComposeProject({ image: images.tags.v1 });
    // Relative, as operators write them: ragops resolves them against the project directory.
    // Images built on this host: never pulled (no registry here), resolved locally to their ids.
    const target = { type: 'compose' as const, directory: project.directory, files: ['docker-compose.yml'], projectName: project.projectName, pull: 'never' as const };
    const [head, ...args] = composeCommands.up({ ...target, files: project.files, flavor: project.flavor }, project.service).argv;
    await execa(head, args);
    process.env.DEPLOY_TEST_PG_PASSWORD = pgPassword;
    process.env.DEPLOY_TEST_REGISTRY_PASSWORD = registryPassword;
    process.env.DEPLOY_TEST_HEALTH_TOKEN = healthToken;
    const stacks = {
      stacks: {
        prod: {
          postgres: [{ name: 'app', database: db.name, password: { env: 'DEPLOY_TEST_PG_PASSWORD' } }],
          store: { type: 'fs', path: store.path },
          deploy: {
            target,
            services: {
              api: {
                health: [{ url: `${project.url}/health`, timeoutSeconds: 15, intervalMs: 500, headers: { 'X-Health-Token': { env: 'DEPLOY_TEST_HEALTH_TOKEN' } } }],
                migration: { command: ['/app/migrate'] },
                rolloutTimeoutSeconds: 30,
              },
            },
          },
        },
        private: {
          store: { type: 'fs', path: store.path },
          deploy: {
            // Pulls, so the registry login is tried.
            target: { ...target, pull: 'always' as const },
            registry: { server: '127.0.0.1:1', username: 'deployer', password: { env: 'DEPLOY_TEST_REGISTRY_PASSWORD' } },
            services: { api: {} },
          },
        },
      },
    };
    taskQueue = uniqueName('deploy-compose');
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
  });
  after(async () => {
    await worker?.stop();
    await project?.down();
    await Promise.allSettled([temporal?.stop(), db?.drop(), store?.remove()]);
  });

  async function health(): Promise<{ status: number; body: string }> {
    const response = await fetch(`${project.url}/health`);
    return { status: response.status, body: (await response.text()).trim() };
  }

  test('v1 → v2 with a pre-deploy backup: migrated, rolled out, healthy; the backup is in the report; no secret in history', async () => {
    assert.equal((await health()).body, 'ok v1');
    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api', image: images.tags.v2, backup: true }, { taskQueue });
    const report = (await handle.result()) as DeployReport;
    assert.equal(report.outcome, 'deployed');
    assert.equal(report.previous?.image, images.tags.v1);
    assert.match(report.migrationOutput ?? '', /migrated to v2/);
    assert.ok(report.backup?.backupId, 'the pre-deploy backup is in the report');
    assert.match(report.backup?.manifestKey ?? '', /^prod\/.*\/manifest\.json$/);
    assert.deepEqual(await health(), { status: 200, body: 'ok v2' });
    for (const workflowId of [handle.workflowId, `${handle.workflowId}-backup`]) {
      const history = await exportHistoryJson(temporal.client, workflowId);
      assert.ok(!history.includes(pgPassword), `the password is in the history of ${workflowId}`);
      assert.ok(!history.includes(healthToken), `the health check's header value is in the history of ${workflowId}`);
    }
    assert.deepEqual(report.checks[0]?.headers, ['X-Health-Token'], 'the evidence names the header, without its value');
  });

  test('v2 → bad after the tag moved: the rollback brings back the recorded digest, not what the tag points at now', async () => {
    // A tag of v2's content, deployed; then moved to v1's content, as a registry tag can move.
    const moving = 'ragops-test/api:moving';
    await execa('docker', ['tag', images.tags.v2, moving]);
    const deployed = (await (await startDeploy(temporal.client, { stack: 'prod', service: 'api', image: moving }, { taskQueue })).result()) as DeployReport;
    assert.equal(deployed.outcome, 'deployed');
    assert.match(deployed.deployed?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    await execa('docker', ['tag', images.tags.v1, moving]);

    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api', image: images.tags.bad }, { taskQueue });
    const { message, report } = await deployFailure(handle.result());
    assert.equal(report.previous?.image, moving);
    assert.equal(report.previous?.digest, deployed.deployed?.digest);
    assert.match(message, new RegExp(`failed at (verify|rollout).*rolled back to ragops-test/api:moving \\(${report.previous?.pinned}\\), healthy`));
    assert.equal(report.outcome, 'rolled back');
    assert.ok(report.failure?.evidence.includes('/health') || report.failure?.evidence.includes('unhealthy'), report.failure?.evidence);
    assert.deepEqual(await health(), { status: 200, body: 'ok v2' }, 'v2 is back, not the v1 the tag points at now');
    await execa('docker', ['rmi', moving]).catch(() => undefined);
  });

  test('a failing migration stops the deploy before any rollout', async () => {
    const handle = await startDeploy(temporal.client, { stack: 'prod', service: 'api', image: images.tags.badMigration }, { taskQueue });
    const { message } = await deployFailure(handle.result());
    assert.match(message, /migrate: \/app\/migrate failed: migration `\/app\/migrate` with .* failed \(exit \d+\)/);
    assert.deepEqual(await health(), { status: 200, body: 'ok v2' });
  });

  test('a registry login that fails stops the deploy at pull; the registry password is in neither history nor error', async () => {
    const handle = await startDeploy(temporal.client, { stack: 'private', service: 'api', image: images.tags.v2 }, { taskQueue });
    const { message } = await deployFailure(handle.result());
    assert.match(message, /pull .* failed: .*docker login 127\.0\.0\.1:1 as deployer failed/);
    assert.ok(!message.includes(registryPassword));
    assert.ok(!(await exportHistoryJson(temporal.client, handle.workflowId)).includes(registryPassword));
    assert.deepEqual(await health(), { status: 200, body: 'ok v2' });
  });
});
