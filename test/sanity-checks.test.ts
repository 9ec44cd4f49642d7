// Sanity SQL runs one statement at a time, read-only, with a timeout: it cannot change the
// restored database, and a slow query fails its check instead of hanging the drill.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { sanityCheckSchema } from '../src/config/stacks/postgres.js';
import { runSanityChecks } from '../src/activities/postgres/restore.js';
import { createTestDatabase, exactCounts, seedRagDatabase, type TestDatabase } from './support/postgres.js';

const check = (fields: Record<string, unknown>) => sanityCheckSchema.parse({ name: 'check', expect: 1, ...fields });

describe('sanity checks', () => {
  let db: TestDatabase;
  let client: pg.Client;

  before(async () => {
    db = await createTestDatabase('sanity');
    await seedRagDatabase(db.name, { documents: 20 });
    client = await db.client();
  });
  after(async () => {
    await db?.drop();
  });

  test('the timeout defaults to 60 s', () => {
    assert.equal(check({ sql: 'SELECT 1' }).timeoutSeconds, 60);
  });

  test('several statements are rejected and change nothing', async () => {
    const [result] = await runSanityChecks(client, 'app', [check({ sql: 'SELECT 1; DROP TABLE documents' })]);
    assert.equal(result?.passed, false);
    assert.match(result!.detail, /multiple commands/);
    assert.equal((await exactCounts(db.name))['public.documents'], 20, 'documents is gone or changed');
  });

  test('no statement escapes the read-only transaction', async () => {
    const results = await runSanityChecks(client, 'app', [
      check({ name: 'commit first', sql: 'COMMIT' }),
      check({ name: 'write', sql: 'DELETE FROM documents' }),
      check({ name: 'read-write', sql: "SELECT set_config('transaction_read_only', 'off', true)" }),
      check({ name: 'write after', sql: 'WITH gone AS (DELETE FROM documents RETURNING 1) SELECT count(*) FROM gone', expect: 0 }),
    ]);
    for (const result of results.slice(1)) assert.equal(result.passed, false, `${result.name}: ${result.detail}`);
    assert.match(results[1]!.detail, /read-only transaction/);
    assert.equal((await exactCounts(db.name))['public.documents'], 20, 'documents changed');
  });

  test('a query past its timeout fails its check, and the next check still runs', async () => {
    const started = Date.now();
    const [slow, next] = await runSanityChecks(client, 'app', [
      check({ name: 'slow', sql: 'SELECT count(*) FROM pg_sleep(30)', timeoutSeconds: 1 }),
      check({ name: 'documents', sql: 'SELECT count(*) FROM documents', expect: 20 }),
    ]);
    assert.ok(Date.now() - started < 10_000, 'the slow query was not cut off');
    assert.equal(slow?.passed, false);
    assert.match(slow!.detail, /past its 1 s timeout/);
    assert.equal(next?.passed, true, next?.detail);
  });
});
