// What a child process started by the executor can see of the worker's environment, and
// the URL redaction that keeps presigned URLs and tokens out of errors and evidence.
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOCKER_INHERITED_ENV, composeCommands, dockerCommands } from '../src/activities/compose/commands.js';
import { createComposeActivities } from '../src/activities/compose/index.js';
import { kubectlCommands } from '../src/activities/kubernetes/commands.js';
import { pgDumpCommand, pgRestoreCommand } from '../src/activities/postgres/commands.js';
import { childEnv, runCommand, type CommandSpec } from '../src/activities/runtime/exec.js';
import { redactError, redactingActivityInterceptors } from '../src/activities/runtime/redactErrors.js';
import { REDACTED_QUERY, redactUrls } from '../src/core/redact.js';
import { tempDir } from './support/ragops.js';

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

function parseEnv(stdout: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env.set(line.slice(0, at), line.slice(at + 1));
  }
  return env;
}

describe('the executor passes a minimal environment', () => {
  const otherStackPassword = secret('other-pg');
  const temporalApiKey = secret('temporal');
  const ownPassword = secret('own-pg');
  const saved = { ...process.env };
  let bin: { path: string; remove(): Promise<void> };

  before(async () => {
    bin = await tempDir('exec-env');
    // Stand-ins for the real tools that print the environment they were given.
    for (const tool of ['pg_dump', 'pg_restore', 'kubectl', 'docker']) {
      const path = join(bin.path, tool);
      await writeFile(path, '#!/bin/sh\nexec env\n');
      await chmod(path, 0o755);
    }
    Object.assign(process.env, {
      OTHER_STACK_PG_PASSWORD: otherStackPassword,
      TEMPORAL_API_KEY: temporalApiKey,
      AWS_SECRET_ACCESS_KEY: secret('aws'),
      PGPASSFILE: '/nonexistent/pgpass',
      PGSSLROOTCERT: '/etc/ragops/root.crt',
      KUBECONFIG: '/etc/ragops/kubeconfig',
      DOCKER_HOST: 'unix:///run/ragops-docker.sock',
      LC_TIME: 'C.UTF-8',
      TZ: 'Europe/Berlin',
    });
  });
  after(async () => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await bin?.remove();
  });

  async function envOf(spec: CommandSpec): Promise<Map<string, string>> {
    return parseEnv((await runCommand(spec)).stdout);
  }

  function assertNoSecrets(env: Map<string, string>, what: string): void {
    const text = [...env].map(([k, v]) => `${k}=${v}`).join('\n');
    for (const value of [otherStackPassword, temporalApiKey]) assert.ok(!text.includes(value), `${what} sees a secret of the worker's environment`);
    for (const name of ['OTHER_STACK_PG_PASSWORD', 'TEMPORAL_API_KEY', 'AWS_SECRET_ACCESS_KEY', 'PGPASSFILE']) assert.ok(!env.has(name), `${what} sees ${name}`);
  }

  test('`env` run by the executor sees PATH, HOME, locale and TZ, and what its spec names, nothing else', async () => {
    const env = await envOf({ argv: ['env'], env: { RAGOPS_ONLY_FOR_THIS: 'yes' }, purpose: 'env' });
    assertNoSecrets(env, 'env');
    assert.equal(env.get('PATH'), process.env.PATH);
    assert.equal(env.get('HOME'), process.env.HOME);
    assert.equal(env.get('LC_TIME'), 'C.UTF-8');
    assert.equal(env.get('TZ'), 'Europe/Berlin');
    assert.equal(env.get('RAGOPS_ONLY_FOR_THIS'), 'yes');
    assert.ok(!env.has('KUBECONFIG') && !env.has('DOCKER_HOST'), 'a command that names no inherited variables gets none');
  });

  test('pg_dump and pg_restore from the builders get their own PGPASSWORD, never another stack\'s secrets', async () => {
    const connection = { name: 'app', host: '127.0.0.1', port: 5432, database: 'shop', user: 'backup', password: ownPassword, sslmode: 'require' as const };
    for (const spec of [pgDumpCommand(connection, '00000003-0000001B-1', bin.path), pgRestoreCommand(connection, 'stdin', bin.path)]) {
      const env = await envOf(spec);
      assertNoSecrets(env, spec.argv[0]);
      assert.equal(env.get('PGPASSWORD'), ownPassword, `${spec.argv[0]} gets its password`);
      assert.equal(env.get('PGSSLMODE'), 'require');
      assert.equal(env.get('PGSSLROOTCERT'), '/etc/ragops/root.crt', 'certificate paths the operator set are inherited');
      assert.ok(!env.has('KUBECONFIG'));
    }
  });

  test('kubectl inherits KUBECONFIG and docker/compose DOCKER_HOST, each nothing of the other', async () => {
    process.env.PATH = `${bin.path}:${saved.PATH}`;
    try {
      const kube = await envOf(kubectlCommands.getDeployment({ namespace: 'prod' }, 'api'));
      assertNoSecrets(kube, 'kubectl');
      assert.equal(kube.get('KUBECONFIG'), '/etc/ragops/kubeconfig');
      assert.ok(!kube.has('DOCKER_HOST') && !kube.has('PGSSLROOTCERT'));

      const project = { flavor: 'v2' as const, directory: '/srv/app', files: ['/srv/app/compose.yml'], projectName: 'app' };
      for (const spec of [composeCommands.up(project, 'api'), dockerCommands.pull('api:1')]) {
        const env = await envOf(spec);
        assertNoSecrets(env, spec.purpose);
        assert.equal(env.get('DOCKER_HOST'), 'unix:///run/ragops-docker.sock');
        assert.ok(!env.has('KUBECONFIG'));
      }
    } finally {
      process.env.PATH = saved.PATH;
    }
  });

  test('childEnv: the spec\'s env wins over an inherited value; unset values are left out', () => {
    const env = childEnv({ env: { DOCKER_CONFIG: '/tmp/run', PGPASSWORD: undefined }, inheritEnv: DOCKER_INHERITED_ENV }, {
      PATH: '/bin',
      DOCKER_CONFIG: '/root/.docker',
      LC_ALL: 'C',
      SECRET: 'x',
    });
    assert.deepEqual(env, { PATH: '/bin', LC_ALL: 'C', DOCKER_CONFIG: '/tmp/run' });
  });

  test('docker login and the pull after it carry the per-run DOCKER_CONFIG', () => {
    const login = dockerCommands.login('registry.example.com', 'deployer', '/tmp/ragops-docker-abc');
    assert.equal(login.env?.DOCKER_CONFIG, '/tmp/ragops-docker-abc');
    assert.ok(!login.argv.some((arg) => arg.includes('ragops-docker')), 'the directory travels by environment');
    assert.equal(dockerCommands.pull('registry.example.com/api:1', '/tmp/ragops-docker-abc').env?.DOCKER_CONFIG, '/tmp/ragops-docker-abc');
    assert.equal(dockerCommands.pull('registry.example.com/api:1').env?.DOCKER_CONFIG, undefined);
  });
});

describe('URL redaction', () => {
  const presigned =
    'http://127.0.0.1:45123/ragops-backups/ragops/prod/20250101T000000Z-ab12/qdrant/docs_v1.snapshot' +
    '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=test-access-key%2F20250101%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=0f3c9d2b7a&X-Amz-SignedHeaders=host&x-id=GetObject';

  test('a presigned S3 URL loses its query string, keeps host and path', () => {
    const text = `Wrong input: Failed to download snapshot from ${presigned}: status - 403 Forbidden`;
    const redacted = redactUrls(text);
    assert.equal(
      redacted,
      `Wrong input: Failed to download snapshot from http://127.0.0.1:45123/ragops-backups/ragops/prod/20250101T000000Z-ab12/qdrant/docs_v1.snapshot${REDACTED_QUERY}: status - 403 Forbidden`,
    );
    assert.doesNotMatch(redacted, /X-Amz/);
    assert.equal(redactUrls(redacted), redacted, 'redacting twice changes nothing');
  });

  test('userinfo and fragments are removed', () => {
    assert.equal(redactUrls('GET https://deployer:s3cret@registry.example.com:5000/v2/ failed'), `GET https://registry.example.com:5000/v2/ failed`);
    assert.equal(redactUrls('see https://user@host.example'), 'see https://host.example');
    assert.equal(redactUrls('https://a:b@c@host.example/x#access_token=abc'), `https://host.example/x${REDACTED_QUERY}`);
  });

  test('several URLs in one text, in JSON and in parentheses', () => {
    const text = `{"error":"from ${presigned}"} and (https://api.example.com/health?token=abc123), HTTP://X.EXAMPLE/?k=v.`;
    const redacted = redactUrls(text);
    assert.ok(!redacted.includes('X-Amz') && !redacted.includes('abc123') && !redacted.includes('k=v'), redacted);
    assert.ok(redacted.includes(`docs_v1.snapshot${REDACTED_QUERY}"}`), 'the JSON quote stays');
    assert.ok(redacted.includes(`(https://api.example.com/health${REDACTED_QUERY}),`), 'closing punctuation stays');
    assert.ok(redacted.endsWith(`HTTP://X.EXAMPLE/${REDACTED_QUERY}.`));
  });

  test('text without URLs, and URLs without query or userinfo, are unchanged', () => {
    for (const text of [
      'pg_restore failed (exit code 1): relation "x" already exists',
      'Qdrant at http://127.0.0.1:6333: counting points of "docs" failed: Not Found',
      'file:///var/lib/qdrant/snapshots/x.snapshot?keep=1 and s3://bucket/key',
      '',
    ]) {
      assert.equal(redactUrls(text), text);
    }
  });
});

describe('the activity interceptor redacts every failure', () => {
  const location = 'https://s3.example.com/b/k.snapshot?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA';

  test('an ApplicationFailure keeps its type and nonRetryable; message, stack and cause are redacted', async () => {
    const env = new MockActivityEnvironment(undefined, { interceptors: [redactingActivityInterceptors] });
    const failure = await env
      .run(async () => {
        throw ApplicationFailure.create({ message: `recovering from ${location} failed`, type: 'RestoreFailed', nonRetryable: true, cause: new Error(`GET ${location}`) });
      })
      .then(() => assert.fail('the activity passed'), (error: unknown) => error);
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, 'RestoreFailed');
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, `recovering from https://s3.example.com/b/k.snapshot${REDACTED_QUERY} failed`);
    for (const text of [failure.message, failure.stack ?? '', (failure.cause as Error).message, (failure.cause as Error).stack ?? '']) {
      assert.ok(!text.includes('X-Amz'), text);
    }
  });

  test('a plain Error stays a (retryable) Error of its class; a thrown string is redacted too', () => {
    class Custom extends Error {}
    const error = redactError(new Custom(`at ${location}`)) as Error;
    assert.ok(error instanceof Custom);
    assert.ok(!error.message.includes('X-Amz') && !String(error.stack).includes('X-Amz'));
    assert.equal(redactError(`bad ${location}`), `bad https://s3.example.com/b/k.snapshot${REDACTED_QUERY}`);
  });
});

describe('docker login uses a DOCKER_CONFIG of the run', () => {
  test('login and pull share a per-run directory, removed afterwards; the worker\'s ~/.docker is never written', async (t) => {
    const docker = await runCommand({ argv: ['docker', 'version', '--format', '{{.Server.Version}}'], inheritEnv: DOCKER_INHERITED_ENV, purpose: 'docker version' }).catch(() => undefined);
    if (!docker) return t.skip('needs a Docker engine');
    const password = secret('registry');
    const authorization = `Basic ${Buffer.from(`deployer:${password}`).toString('base64')}`;
    const seen: { path: string; authorized: boolean }[] = [];
    // The smallest registry that checks Basic auth: /v2/ for the login, a 404 manifest for the pull.
    const registry = createServer((req, res) => {
      const authorized = req.headers.authorization === authorization;
      seen.push({ path: req.url ?? '', authorized });
      if (!authorized) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="ragops-test"', 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      }
      if (req.url === '/v2/') {
        res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' });
        return res.end('{}');
      }
      res.writeHead(404, { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    const server = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
    const home = await tempDir('docker-home');
    // A temp dir of this test's own: the other CI lane's deploys log in to registries too, each with a ragops-docker-* dir in the shared one.
    const tmp = await tempDir('exec-env-tmp');
    const savedHome = process.env.HOME;
    const savedTmpdir = process.env.TMPDIR;
    process.env.HOME = home.path;
    process.env.TMPDIR = tmp.path;
    process.env.EXEC_ENV_TEST_REGISTRY_PASSWORD = password;
    try {
      const env = new MockActivityEnvironment();
      const failure = await env
        .run(createComposeActivities().composePull, {
          image: `${server}/ragops/never-pushed:1`,
          registry: { server, username: 'deployer', password: { env: 'EXEC_ENV_TEST_REGISTRY_PASSWORD' } },
        })
        .then(() => assert.fail('a never-pushed image was pulled'), (error: unknown) => error);
      assert.ok(failure instanceof ApplicationFailure && failure.type === 'PullFailed', String(failure));
      assert.ok(seen.some((r) => r.path === '/v2/' && r.authorized), 'the login reached the registry with the credentials');
      assert.ok(seen.some((r) => r.path.includes('/manifests/') && r.authorized), `the pull used the login's credentials: ${JSON.stringify(seen)}`);
      assert.ok(!existsSync(join(home.path, '.docker', 'config.json')), "the worker's ~/.docker/config.json was written");
      assert.equal(tmpdir(), tmp.path);
      const left = (await readdir(tmp.path)).filter((name) => name.startsWith('ragops-docker-'));
      assert.deepEqual(left, [], 'the per-run DOCKER_CONFIG is removed');
    } finally {
      process.env.HOME = savedHome;
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
      delete process.env.EXEC_ENV_TEST_REGISTRY_PASSWORD;
      registry.close();
      await home.remove();
      await tmp.remove();
    }
  });
});
