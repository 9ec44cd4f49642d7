import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { composeCommands, dockerCommands, type ComposeProject } from '../src/activities/compose/commands.js';
import { kubectlCommands } from '../src/activities/kubernetes/commands.js';
import { migrationJob } from '../src/activities/kubernetes/index.js';
import { imageReference } from '../src/config/stacks/deploy.js';
import { deployInputSchema } from '../src/config/inputs.js';

const project = (flavor: 'v1' | 'v2'): ComposeProject => ({
  flavor,
  directory: '/srv/rag',
  files: ['docker-compose.yml', 'docker-compose.prod.yml'],
  projectName: 'rag',
  overrideFile: '/srv/rag/.ragops/rag.images.yml',
});

describe('compose argv, both flavors', () => {
  test('v2 is `docker compose`, v1 is `docker-compose`; the same verbs after the head', () => {
    const tail = ['--project-directory', '/srv/rag', '-f', 'docker-compose.yml', '-f', 'docker-compose.prod.yml', '-f', '/srv/rag/.ragops/rag.images.yml', '-p', 'rag'];
    assert.deepEqual(composeCommands.up(project('v2'), 'api').argv, ['docker', 'compose', ...tail, 'up', '-d', '--no-deps', 'api']);
    assert.deepEqual(composeCommands.up(project('v1'), 'api').argv, ['docker-compose', ...tail, 'up', '-d', '--no-deps', 'api']);
    assert.deepEqual(composeCommands.runOnce(project('v1'), 'api', ['bin/rails', 'db:migrate']).argv.slice(-7), ['run', '--rm', '--no-deps', '-T', 'api', 'bin/rails', 'db:migrate']);
    assert.deepEqual(composeCommands.pull(project('v2'), 'api').argv.slice(-2), ['pull', 'api']);
    assert.deepEqual(composeCommands.containerIds(project('v1'), 'api').argv.slice(-3), ['ps', '-q', 'api']);
    assert.deepEqual(composeCommands.logs(project('v2'), 'api', 40).argv.slice(-4), ['logs', '--no-color', '--tail=40', 'api']);
    assert.deepEqual(composeCommands.version('v2').argv, ['docker', 'compose', 'version']);
    assert.deepEqual(composeCommands.version('v1').argv, ['docker-compose', 'version']);
  });

  test('without a ragops override only the operator files are passed', () => {
    const argv = composeCommands.up({ ...project('v1'), overrideFile: undefined }, 'api').argv;
    assert.equal(argv.filter((arg) => arg === '-f').length, 2);
  });

  test('docker login takes the password on stdin, never in argv', () => {
    assert.deepEqual(dockerCommands.login('registry.example.com', 'deployer', '/tmp/ragops-docker-x').argv, ['docker', 'login', 'registry.example.com', '--username', 'deployer', '--password-stdin']);
    assert.deepEqual(dockerCommands.pull('registry.example.com/api:1.4.2').argv, ['docker', 'pull', 'registry.example.com/api:1.4.2']);
  });
});

describe('kubectl argv', () => {
  const target = { kubeconfig: '/etc/ragops/kubeconfig', context: 'prod', namespace: 'rag' };
  const head = ['kubectl', '--kubeconfig=/etc/ragops/kubeconfig', '--context=prod', '--namespace=rag'];
  test('each verb ragops uses', () => {
    assert.deepEqual(kubectlCommands.setImage(target, 'api', 'api', 'registry/api:1.4.2').argv, [...head, 'set', 'image', 'deployment/api', 'api=registry/api:1.4.2']);
    assert.deepEqual(kubectlCommands.rolloutStatus(target, 'api', 120).argv, [...head, 'rollout', 'status', 'deployment/api', '--watch=true', '--timeout=120s']);
    assert.deepEqual(kubectlCommands.rolloutUndo(target, 'api', 7).argv, [...head, 'rollout', 'undo', 'deployment/api', '--to-revision=7']);
    assert.deepEqual(kubectlCommands.getDeployment(target, 'api').argv, [...head, 'get', 'deployment/api', '-o', 'json']);
    assert.deepEqual(kubectlCommands.scale(target, 'api-blue', 0).argv, [...head, 'scale', 'deployment/api-blue', '--replicas=0']);
    assert.deepEqual(kubectlCommands.patchServiceSelector(target, 'api', { app: 'api', color: 'green' }).argv, [
      ...head,
      'patch',
      'service/api',
      '--type=merge',
      '-p',
      '{"spec":{"selector":{"app":"api","color":"green"}}}',
    ]);
    assert.deepEqual(kubectlCommands.createFromStdin(target, 'job/x').argv, [...head, 'create', '-f', '-', '-o', 'json']);
    assert.deepEqual(kubectlCommands.deleteJob(target, 'x').argv, [...head, 'delete', 'job/x', '--ignore-not-found=true', '--wait=false']);
    assert.deepEqual(kubectlCommands.getDeployment({ namespace: 'rag' }, 'api').argv, ['kubectl', '--namespace=rag', 'get', 'deployment/api', '-o', 'json']);
  });

  test('a migration Job is the Deployment pod template with the new image and the command', () => {
    const deployment = {
      metadata: { name: 'api' },
      spec: { template: { spec: { serviceAccountName: 'api', containers: [{ name: 'api', image: 'api:v1', env: [{ name: 'X', value: '1' }] }] } } },
    };
    const job = migrationJob(deployment as never, 'api', 'api:v2', ['bin/migrate'], 'api-migrate-0190a2b3') as {
      kind: string;
      spec: { backoffLimit: number; template: { spec: { restartPolicy: string; serviceAccountName: string; containers: Array<{ image: string; command: string[]; env: unknown }> } } };
    };
    assert.equal(job.kind, 'Job');
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(job.spec.template.spec.restartPolicy, 'Never');
    assert.equal(job.spec.template.spec.serviceAccountName, 'api');
    assert.deepEqual(job.spec.template.spec.containers[0]?.command, ['bin/migrate']);
    assert.equal(job.spec.template.spec.containers[0]?.image, 'api:v2');
    assert.deepEqual(job.spec.template.spec.containers[0]?.env, [{ name: 'X', value: '1' }]);
  });
});

describe('deploy input validation', () => {
  test('injection attempts are refused', () => {
    for (const bad of ['api; rm -rf /', '$(id)', '../x', 'api:v1 && curl x', 'API', 'api:`id`', '']) {
      assert.ok(!imageReference.safeParse(bad).success, bad);
    }
    for (const good of ['registry.example.com/api:1.4.2', 'api', 'localhost:5000/team/api:v2', `ghcr.io/o/a@sha256:${'0'.repeat(64)}`]) {
      assert.ok(imageReference.safeParse(good).success, good);
    }
    for (const service of ['api; rm -rf /', '$(id)', '../x']) {
      const parsed = deployInputSchema.safeParse({ stack: 'prod', service, image: 'api:v1' });
      assert.ok(!parsed.success && parsed.error.issues[0]?.path[0] === 'service', service);
    }
  });
});
