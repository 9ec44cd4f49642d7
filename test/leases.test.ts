import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backupClaims,
  bareUrl,
  grant,
  leaseRequestProblem,
  leaseWorkflowId,
  normalizeClaims,
  release,
  restoreClaims,
  type LeaseHolder,
  type LeaseRequest,
} from '../src/core/leases.js';

const NOW = '2026-01-01T00:00:00.000Z';
const holder = (workflowId: string, mode: LeaseHolder['mode']): LeaseHolder => ({ workflowId, runbook: 'backup', mode, since: NOW });
const request = (workflowId: string, mode: LeaseRequest['mode'], evict?: string[]): LeaseRequest => ({ workflowId, runbook: 'restore', mode, runId: 'r1', ...(evict ? { evict } : {}) });

describe('lease decisions (pure)', () => {
  test('a free lease is granted in either mode', () => {
    for (const mode of ['shared', 'exclusive'] as const) {
      const decision = grant([], request('a', mode), NOW);
      assert.equal(decision.granted, true);
      assert.deepEqual(decision.holders, [{ workflowId: 'a', runId: 'r1', runbook: 'restore', mode, since: NOW }]);
    }
  });

  test('exclusive needs no other holder; shared needs only shared holders', () => {
    assert.equal(grant([holder('b', 'shared')], request('a', 'exclusive'), NOW).granted, false);
    assert.equal(grant([holder('b', 'exclusive')], request('a', 'shared'), NOW).granted, false);
    const shared = grant([holder('b', 'shared')], request('a', 'shared'), NOW);
    assert.equal(shared.granted, true);
    assert.deepEqual(shared.holders.map((h) => h.workflowId), ['b', 'a']);
  });

  test('busy answers name the blockers and leave the holders as they were', () => {
    const holders = [holder('b', 'shared'), holder('c', 'exclusive')];
    const decision = grant(holders, request('a', 'shared'), NOW);
    assert.equal(decision.granted, false);
    assert.deepEqual(decision.blockers.map((h) => h.workflowId), ['c']);
    assert.deepEqual(decision.holders, holders);
  });

  test('re-entrant: a workflow that holds it is granted again, keeping the stronger mode and its start', () => {
    const held = { ...holder('a', 'exclusive'), since: '2025-12-31T00:00:00.000Z' };
    const decision = grant([held], request('a', 'shared'), NOW);
    assert.equal(decision.granted, true);
    assert.equal(decision.holders.length, 1);
    assert.equal(decision.holders[0]?.mode, 'exclusive');
    assert.equal(decision.holders[0]?.since, held.since);
  });

  test('evicted holders are dropped, granted or not; a request never evicts itself', () => {
    const decision = grant([holder('dead', 'exclusive'), holder('alive', 'exclusive')], request('a', 'exclusive', ['dead', 'a']), NOW);
    assert.equal(decision.granted, false);
    assert.deepEqual(decision.holders.map((h) => h.workflowId), ['alive']);
    const granted = grant([holder('dead', 'exclusive')], request('a', 'exclusive', ['dead']), NOW);
    assert.equal(granted.granted, true);
    assert.deepEqual(granted.holders.map((h) => h.workflowId), ['a']);
  });

  test('release is idempotent', () => {
    const holders = [holder('a', 'shared'), holder('b', 'shared')];
    assert.deepEqual(release(holders, 'a').map((h) => h.workflowId), ['b']);
    assert.deepEqual(release(release(holders, 'a'), 'a').map((h) => h.workflowId), ['b']);
    assert.deepEqual(release([], 'a'), []);
  });

  test('the validator rejects malformed requests', () => {
    assert.equal(leaseRequestProblem(request('a', 'shared')), undefined);
    assert.match(leaseRequestProblem(null) ?? '', /object/);
    assert.match(leaseRequestProblem({ ...request('a', 'shared'), mode: 'both' }) ?? '', /mode/);
    assert.match(leaseRequestProblem({ ...request('', 'shared') }) ?? '', /workflowId/);
    assert.match(leaseRequestProblem({ workflowId: 'a', mode: 'shared' }) ?? '', /runbook/);
    assert.match(leaseRequestProblem({ ...request('a', 'shared'), evict: [1] }) ?? '', /evict/);
  });
});

describe('lease targets', () => {
  test('names, lease workflow ids, URLs without credentials', () => {
    assert.equal(leaseWorkflowId('backup:prod'), 'ragops-lease-backup:prod');
    assert.equal(bareUrl('https://user:pw@qdrant.example:6333/?api-key=x#f'), 'https://qdrant.example:6333');
  });

  test('claims are one per target, sorted, exclusive winning over shared', () => {
    assert.deepEqual(
      normalizeClaims([
        { target: 'b', mode: 'shared' },
        { target: 'a', mode: 'shared' },
        { target: 'b', mode: 'exclusive' },
        { target: 'a', mode: 'shared' },
      ]),
      [
        { target: 'a', mode: 'shared' },
        { target: 'b', mode: 'exclusive' },
      ],
    );
  });

  test('backup holds its stack exclusively and what it reads shared; restore holds what it writes exclusively', () => {
    const target = { name: 'app', host: 'db', port: 5432, database: 'app', user: 'postgres' } as never;
    assert.deepEqual(backupClaims({ stack: 'prod', postgres: [target], qdrant: { url: 'http://q:6333/', collections: ['docs'] } }), [
      { target: 'backup:prod', mode: 'exclusive' },
      { target: 'postgres:db:5432/app', mode: 'shared' },
      { target: 'qdrant:http://q:6333/docs', mode: 'shared' },
    ]);
    assert.deepEqual(
      restoreClaims({
        targetStack: 'prod',
        postgres: [{ label: 'app', target, database: 'app_copy', replace: false }],
        qdrant: { endpoint: { url: 'http://q:6333' }, collections: [{ source: 'docs', collection: 'docs2', replace: false }], aliases: [] },
      }),
      [
        { target: 'postgres:db:5432/app_copy', mode: 'exclusive' },
        { target: 'qdrant:http://q:6333/docs2', mode: 'exclusive' },
      ],
    );
    // Plans have a lease each; Redis servers are held shared by a backup, exclusively by a restore over or into them.
    const cache = { name: 'cache', host: 'redis', port: 6379, tls: false, rdb: { path: '/data/dump.rdb' } } as never;
    assert.deepEqual(backupClaims({ stack: 'prod', planName: 'redis-hourly', postgres: [], redis: [cache] }), [
      { target: 'backup:prod:redis-hourly', mode: 'exclusive' },
      { target: 'redis:redis:6379', mode: 'shared' },
    ]);
    assert.deepEqual(
      restoreClaims({ targetStack: 'prod', postgres: [], redis: [{ label: 'cache', over: cache }, { label: 'old', into: { port: 7000, dir: '/srv/r', bind: '127.0.0.1' } }] }),
      [
        { target: 'redis:redis:6379', mode: 'exclusive' },
        { target: 'redis:127.0.0.1:7000', mode: 'exclusive' },
      ],
    );
    // A mirror's prefix and an exec dump's restore are written by one restore at a time.
    const docs = { name: 'docs', bucket: 'rag-docs', prefix: 'docs/', endpoint: 'http://minio:9000/' } as never;
    const appdb = { name: 'appdb', restore: { argv: ['sqlite3', '/srv/app.db'] } } as never;
    assert.deepEqual(
      restoreClaims({ targetStack: 'prod', postgres: [], mirrors: [{ label: 'docs', component: docs, over: true }], exec: [{ label: 'appdb', component: appdb }] }),
      [
        { target: 'objects:http://minio:9000/rag-docs/docs/', mode: 'exclusive' },
        { target: 'exec:prod/appdb', mode: 'exclusive' },
      ],
    );
  });
});

describe('workflow ids per runbook and target', () => {
  test('one id per target: a second run of the same target collides, other targets do not', async () => {
    const { runbookWorkflowIds } = await import('../src/client/api/runbooks.js');
    assert.equal(runbookWorkflowIds.backup({ stack: 'prod' }), 'backup-prod');
    assert.equal(runbookWorkflowIds.backup({ stack: 'prod', plan: 'redis-hourly' }), 'backup-prod-redis-hourly');
    assert.equal(runbookWorkflowIds.pruneBackups({ stack: 'prod', plan: 'redis-hourly' }), 'prune-prod-redis-hourly');
    assert.equal(runbookWorkflowIds.verifyBackup({ stack: 'prod' }), 'verify-prod');
    assert.equal(runbookWorkflowIds.pruneBackups({ stack: 'prod' }), 'prune-prod');
    assert.equal(runbookWorkflowIds.restore({ stack: 'prod' }), 'restore-prod');
    assert.equal(runbookWorkflowIds.restore({ stack: 'prod', targetStack: 'drill' }), 'restore-drill');
    assert.equal(runbookWorkflowIds.deploy({ stack: 'prod', service: 'api' }), 'deploy-prod-api');
    assert.notEqual(runbookWorkflowIds.deploy({ stack: 'prod', service: 'api' }), runbookWorkflowIds.deploy({ stack: 'prod', service: 'web' }));
  });
});
