// Compose deploys by digest (issue 9), through the activities themselves on the real engine:
// the running version is recorded as an image id (and repo digest when the image has one), a
// rollout of that pinned reference brings back exactly that image even after its tag moved,
// pulls fail at the pull step instead of deploying a stale local image, and the override file
// takes concurrent writes of one project without losing any.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { execa } from 'execa';
import { parse } from 'yaml';
import { createComposeActivities } from '../src/activities/compose/index.js';
import { classifyPullFailure, pickRepoDigest, pinnedTagFor, repositoryOf } from '../src/activities/compose/images.js';
import { overrideFileOf, updateOverride } from '../src/activities/compose/override.js';
import type { ComposeTarget } from '../src/config/stacks/deploy.js';
import { buildVariant, createComposeFixture, imageIdOf, removeImages, versionInside, type ComposeFixture } from './support/compose-fixtures.js';
import { ensureTestImages, type TestImages } from './support/docker-images.js';
import { startFakeRegistry, type FakeRegistry } from './support/fake-registry.js';
import { tempDir } from './support/ragops.js';

const activities = createComposeActivities();
const quiet = new DefaultLogger('ERROR');
/** Runs one activity as the worker would, with a fresh activity context (expected failures not logged). */
function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment(undefined, { logger: quiet }).run(fn, ...args);
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a failure');
}

describe('pure helpers', () => {
  test('repositoryOf drops tag, digest and Docker Hub defaults; keeps a registry port', () => {
    assert.equal(repositoryOf('registry.example.com:5000/team/api:v2'), 'registry.example.com:5000/team/api');
    assert.equal(repositoryOf(`team/api@sha256:${'a'.repeat(64)}`), 'team/api');
    assert.equal(repositoryOf('docker.io/library/nginx:1.27'), 'nginx');
    assert.equal(repositoryOf('localhost:5000/api'), 'localhost:5000/api');
  });

  test('pickRepoDigest prefers the reference\'s repository, else the first entry, else null', () => {
    const a = `reg.example/team/api@sha256:${'a'.repeat(64)}`;
    const b = `mirror.example/api@sha256:${'b'.repeat(64)}`;
    assert.equal(pickRepoDigest([b, a], 'reg.example/team/api:v2'), a);
    assert.equal(pickRepoDigest([b, a], `ragops-pinned/api:sha256-${'c'.repeat(64)}`), b);
    assert.equal(pickRepoDigest([], 'reg.example/team/api:v2'), null);
    assert.equal(pickRepoDigest(null, null), null);
    assert.equal(pickRepoDigest([a, b], b), b);
  });

  test('pinnedTagFor is a valid local name carrying the whole id', () => {
    const id = `sha256:${'d'.repeat(64)}`;
    assert.equal(pinnedTagFor('api', id), `ragops-pinned/api:sha256-${'d'.repeat(64)}`);
    assert.equal(pinnedTagFor('Worker__x-', id), `ragops-pinned/worker-x:sha256-${'d'.repeat(64)}`);
    assert.throws(() => pinnedTagFor('api', 'ragops-test/api:v1'));
  });

  test('classifyPullFailure: no such image and denied stay so; network, 5xx and rate limits are transient', () => {
    const cases: Array<[string, string]> = [
      ['Error response from daemon: manifest for 127.0.0.1:5000/x:v9 not found: manifest unknown: manifest unknown', 'missing'],
      ['Error response from daemon: pull access denied for x, repository does not exist or may require \'docker login\': denied: requested access to the resource is denied', 'denied'],
      ['Error response from daemon: Head "https://reg/v2/x/manifests/v1": unauthorized: authentication required', 'denied'],
      ['Error response from daemon: denied', 'denied'],
      ['Error response from daemon: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', 'transient'],
      ['Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host', 'transient'],
      ['Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating', 'transient'],
      ['Error response from daemon: received unexpected HTTP status: 503 Service Unavailable', 'transient'],
    ];
    for (const [message, kind] of cases) assert.equal(classifyPullFailure(message), kind, message);
  });
});

describe('Compose deploys by digest (real engine)', () => {
  let images: TestImages;
  let fixture: ComposeFixture;
  let target: ComposeTarget;
  let registry: FakeRegistry;
  const repository = `ragops-test/digests-${randomBytes(4).toString('hex')}`;
  const v1 = `${repository}:v1`;
  const v2 = `${repository}:v2`;
  const cleanup: string[] = [];

  before(async () => {
    images = await ensureTestImages();
    // Own names, own ids: FROM the shared test images plus a unique label.
    await buildVariant(images.tags.v1, v1);
    await buildVariant(images.tags.v2, v2);
    cleanup.push(v1, v2);
    fixture = await createComposeFixture({ api: { image: v1 }, worker: { image: v1 } });
    target = { ...fixture.target, pull: 'never' };
    registry = await startFakeRegistry();
  });
  after(async () => {
    await fixture?.down();
    await registry?.stop();
    await removeImages(...cleanup);
  });

  test('record, roll out the pinned v2, retag :v2 to other content: rolling out the recorded pin brings back its image id, not the retagged one', async () => {
    const v1Id = await imageIdOf(v1);
    const v2Id = await imageIdOf(v2);
    cleanup.push(pinnedTagFor('api', v1Id), pinnedTagFor('api', v2Id));

    // Nothing runs yet: no version, nothing pinned.
    assert.deepEqual(await run(activities.composeCurrentVersion, { target, service: 'api' }), { image: null, imageId: null, repoDigest: null });

    // First deploy of v1 (pull: never → the local image, pinned by id).
    const pulledV1 = await run(activities.composePull, { image: v1, policy: 'never' });
    assert.deepEqual({ ...pulledV1, note: undefined }, { image: v1, imageId: v1Id, repoDigest: null, pinned: v1Id, note: undefined });
    assert.match(pulledV1.note, /not pulled \(pull: never\)/);
    await run(activities.composeRollout, { target, service: 'api', image: pulledV1.pinned, reference: v1 });
    const healthV1 = await run(activities.composeServiceHealth, { target, service: 'api', image: pulledV1.pinned, timeoutSeconds: 30 });
    assert.equal(healthV1.healthy, true, JSON.stringify(healthV1));
    const recordedV1 = await run(activities.composeCurrentVersion, { target, service: 'api' });
    assert.equal(recordedV1.imageId, v1Id);
    assert.equal(recordedV1.image, v1, 'reported by the reference it was deployed as, not the pinned name');
    assert.equal(recordedV1.repoDigest, null, 'a locally built image has no repo digest');

    // Deploy v2 by its pin; the record of what runs now is v2's id.
    const pulledV2 = await run(activities.composePull, { image: v2, policy: 'never' });
    assert.equal(pulledV2.pinned, v2Id);
    await run(activities.composeRollout, { target, service: 'api', image: pulledV2.pinned, reference: v2 });
    assert.equal((await run(activities.composeServiceHealth, { target, service: 'api', image: pulledV2.pinned, timeoutSeconds: 30 })).healthy, true);
    const recordedV2 = await run(activities.composeCurrentVersion, { target, service: 'api' });
    assert.equal(recordedV2.imageId, v2Id);
    assert.equal(await versionInside(fixture, 'api'), 'v2');

    // Someone moves :v2 to other content (here: v1's, under a new id).
    const retaggedId = await buildVariant(images.tags.v1, v2);
    assert.notEqual(retaggedId, v2Id);
    assert.equal(await imageIdOf(v2), retaggedId);

    // A later deploy (v1 again), then the rollback to the recorded pin of v2.
    await run(activities.composeRollout, { target, service: 'api', image: recordedV1.imageId!, reference: recordedV1.image });
    assert.equal((await run(activities.composeCurrentVersion, { target, service: 'api' })).imageId, v1Id);
    await run(activities.composeRollout, { target, service: 'api', image: recordedV2.repoDigest ?? recordedV2.imageId!, reference: recordedV2.image });
    const health = await run(activities.composeServiceHealth, { target, service: 'api', image: recordedV2.imageId!, timeoutSeconds: 30 });
    assert.equal(health.healthy, true, JSON.stringify(health));
    assert.equal(health.expectedImageId, v2Id);
    const after = await run(activities.composeCurrentVersion, { target, service: 'api' });
    assert.equal(after.imageId, v2Id, 'the recorded image id runs again');
    assert.equal(after.image, v2);
    assert.notEqual(after.imageId, retaggedId, 'not what the tag points at now');
    assert.equal(await versionInside(fixture, 'api'), 'v2');

    // The health check compares ids: the moved tag does not pass for what runs.
    const byMovedTag = await run(activities.composeServiceHealth, { target, service: 'api', image: v2, timeoutSeconds: 2 });
    assert.equal(byMovedTag.healthy, false);
    assert.equal(byMovedTag.expectedImageId, retaggedId);
    assert.match(byMovedTag.reason ?? '', /run another image/);
  });

  test('pull always from a registry: the pin is the repo digest; deploying it runs that image', async () => {
    const remote = `${registry.host}/team/digests-${randomBytes(3).toString('hex')}`;
    const digest = await registry.publish(remote.slice(registry.host.length + 1), 'v2', v2);
    cleanup.push(`${remote}:v2`);
    const pulled = await run(activities.composePull, { image: `${remote}:v2` });
    assert.equal(pulled.repoDigest, `${remote}@${digest}`);
    assert.equal(pulled.pinned, pulled.repoDigest);
    assert.equal(pulled.imageId, await imageIdOf(v2));
    assert.match(pulled.note, /^pulled /);

    await run(activities.composeRollout, { target, service: 'api', image: pulled.pinned });
    assert.equal((await run(activities.composeServiceHealth, { target, service: 'api', image: pulled.pinned, timeoutSeconds: 30 })).healthy, true);
    const current = await run(activities.composeCurrentVersion, { target, service: 'api' });
    assert.deepEqual(current, { image: pulled.pinned, imageId: pulled.imageId, repoDigest: pulled.pinned });
  });

  test('pull: never with an image the host does not have fails PullFailed, non-retryable, saying so', async () => {
    const failure = await failureOf(run(activities.composePull, { image: `${repository}:absent`, policy: 'never' }));
    assert.equal(failure.type, 'PullFailed');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /not on this host and was not pulled \(pull: never\)/);
  });

  test('pull always of a tag the registry does not have (or denies) fails PullFailed non-retryable at once, without falling back to the local image', async () => {
    // The host has an image under that very name: a pull failure must not deploy it.
    const stale = `${registry.host}/team/absent:v9`;
    await execa('docker', ['tag', v1, stale]);
    cleanup.push(stale);
    const started = Date.now();
    const missing = await failureOf(run(activities.composePull, { image: stale, policy: 'always' }));
    assert.equal(missing.type, 'PullFailed');
    assert.equal(missing.nonRetryable, true, missing.message);
    assert.match(missing.message, /no such image or tag/);
    assert.ok(registry.manifestRequests.includes('team/absent:v9'), `the registry was asked: ${registry.manifestRequests.join(', ')}`);

    registry.deny('team/private');
    const denied = await failureOf(run(activities.composePull, { image: `${registry.host}/team/private:v1` }));
    assert.equal(denied.type, 'PullFailed');
    assert.equal(denied.nonRetryable, true, denied.message);
    assert.match(denied.message, /access denied/);
    assert.ok(Date.now() - started < 15_000, 'both failed at once');
  });

  test('pull always when the registry cannot be reached fails PullFailed, retryable, and does not use the local image of that name', async () => {
    const unreachable = `127.0.0.1:1/${repository}:v1`;
    await execa('docker', ['tag', v1, unreachable]);
    cleanup.push(unreachable);
    const failure = await failureOf(run(activities.composePull, { image: unreachable }));
    assert.equal(failure.type, 'PullFailed');
    assert.equal(failure.nonRetryable, false, failure.message);
    assert.match(failure.message, /connection refused/);
  });

  test('two concurrent rollouts of two services of one project: both land in the override file and both run their image', async () => {
    // This test's own images (:v2 is the retagged one by now): pinned tags no other test uses.
    const v1Id = await imageIdOf(v1);
    const v2Id = await imageIdOf(v2);
    cleanup.push(pinnedTagFor('worker', v1Id), pinnedTagFor('api', v2Id));
    await Promise.all([
      run(activities.composeRollout, { target, service: 'api', image: v2Id }),
      run(activities.composeRollout, { target, service: 'worker', image: v1Id }),
    ]);
    const file = parse(await readFile(overrideFileOf(target), 'utf8')) as { services: Record<string, { image: string }> };
    assert.deepEqual(file.services, { api: { image: pinnedTagFor('api', v2Id) }, worker: { image: pinnedTagFor('worker', v1Id) } });
    assert.equal((await run(activities.composeCurrentVersion, { target, service: 'api' })).imageId, v2Id);
    assert.equal((await run(activities.composeCurrentVersion, { target, service: 'worker' })).imageId, v1Id);
  });

  test('many concurrent override writes of one project all land, and leave no temp files', async () => {
    const dir = await tempDir('override');
    try {
      const path = overrideFileOf({ directory: dir.path, projectName: 'p' });
      await Promise.all(Array.from({ length: 40 }, (_, i) => updateOverride(path, (services) => ({ ...services, [`s${i}`]: { image: `img:${i}` } }))));
      const file = parse(await readFile(path, 'utf8')) as { services: Record<string, { image: string }> };
      assert.equal(Object.keys(file.services).length, 40);
      assert.equal(file.services.s17?.image, 'img:17');
      assert.deepEqual(await readdir(`${dir.path}/.ragops`), ['p.images.yml']);
    } finally {
      await dir.remove();
    }
  });
});
