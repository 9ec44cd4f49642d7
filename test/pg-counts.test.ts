// Bounded row counts for point-in-time drills (src/activities/postgres/counts.ts), on the
// machine's PostgreSQL: declared tables counted exactly, a declared table that is missing named,
// and a budget that runs out — before a count, or during one blocked by a lock — leaves the rest
// named as not counted instead of running on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { countTablesWithin } from '../src/activities/postgres/counts.js';
import { postgresPhysicalSchema } from '../src/config/stacks/postgres.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';

describe('countTablesWithin (the machine’s PostgreSQL)', () => {
  let db: TestDatabase;
  let client: pg.Client;
  before(async () => {
    db = await createTestDatabase('counts');
    client = await db.client();
    await client.query(`
      CREATE TABLE a (id int); INSERT INTO a SELECT generate_series(1, 30);
      CREATE TABLE b (id int); INSERT INTO b SELECT generate_series(1, 7);
      CREATE SCHEMA audit; CREATE TABLE audit.events (id int); INSERT INTO audit.events VALUES (1), (2);
      CREATE TABLE "odd.name" (id int); INSERT INTO "odd.name" VALUES (1);`);
  });
  after(async () => db?.drop());

  test('every user table when none are declared (a quoted name with a dot too); only the declared ones, exactly, when they are', async () => {
    assert.deepEqual(await countTablesWithin(client, { budgetMs: 60_000 }), { tables: { 'audit.events': 2, 'public.a': 30, 'public.b': 7, 'public.odd.name': 1 }, missing: [], notCounted: [] });
    assert.deepEqual(await countTablesWithin(client, { tables: ['public.b', 'audit.events'], budgetMs: 60_000 }), { tables: { 'public.b': 7, 'audit.events': 2 }, missing: [], notCounted: [] });
  });

  test('a declared table the database does not have is named, the others counted', async () => {
    assert.deepEqual(await countTablesWithin(client, { tables: ['public.a', 'public.gone'], budgetMs: 60_000 }), { tables: { 'public.a': 30 }, missing: ['public.gone'], notCounted: [] });
  });

  test('a spent budget counts nothing more; a count blocked past the budget is cut off by statement_timeout and named with what follows', async () => {
    assert.deepEqual(await countTablesWithin(client, { budgetMs: 0 }), { tables: {}, missing: [], notCounted: ['audit.events', 'public.a', 'public.b', 'public.odd.name'] });
    const locker = await db.client();
    try {
      await locker.query('BEGIN; LOCK TABLE public.a IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const counts = await countTablesWithin(client, { budgetMs: 1_500 });
      assert.deepEqual(counts, { tables: { 'audit.events': 2 }, missing: [], notCounted: ['public.a', 'public.b', 'public.odd.name'] });
      assert.ok(Date.now() - started < 10_000, 'the blocked count stopped at the budget');
      assert.equal((await client.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!.statement_timeout, '0', 'the session is left as it was');
    } finally {
      await locker.query('ROLLBACK');
    }
  });

  test('the stacks file: drillTables are schema.table names; drillCountSeconds a whole number of seconds', () => {
    const base = { stanza: 'main', pgData: '/var/lib/postgresql/15/main' };
    assert.deepEqual(postgresPhysicalSchema.parse({ ...base, drillTables: ['public.documents'], drillCountSeconds: 120 }).drillTables, ['public.documents']);
    assert.throws(() => postgresPhysicalSchema.parse({ ...base, drillTables: ['documents'] }), /schema\.table/);
    assert.throws(() => postgresPhysicalSchema.parse({ ...base, drillCountSeconds: 0 }));
  });
});
