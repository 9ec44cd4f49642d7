// Restoring mirrors and exec dumps with the restore runbook and disasterRecovery, against moto
// (the mirrored bucket), a host SQLite database (the exec dump, with a restore section), the
// dev server and a real worker: damage, refusal without confirm (nothing touched), restore
// with confirm (identical objects, the SQLite content back), into a new prefix, and a DR run
// that restores them and says so in its report.
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { readEntryList } from '../src/activities/mirror/entries.js';
import { withStore } from '../src/activities/store/open.js';
import { startBackup, startDisasterRecovery, startRestore } from '../src/client/api/runbooks.js';
import type { RestoreInput } from '../src/config/inputs.js';
import { restoreInputSchema } from '../src/config/inputs.js';
import { drSchema } from '../src/config/stacks/dr.js';
import { execDumpSchema } from '../src/config/stacks/execdump.js';
import type { BackupReport } from '../src/workflows/backup.js';
import type { DrReport } from '../src/workflows/dr/report.js';
import type { RestoreReport } from '../src/workflows/restore.js';
import { startCheckServer, type CheckServer } from './support/check-server.js';
import { startMoto, type TestMoto } from './support/moto.js';
import { startWorker, tempDir, uniqueName, type RunningWorker } from './support/ragops.js';
import { exportHistoryJson, startTestTemporal, type TestTemporal } from './support/temporal.js';

const SOURCE = 'ragops-rc-source';
const OTHER = 'ragops-rc-other';

describe('schemas (nothing runs)', () => {
  test('an exec dump restore section: argv with env by reference; {scratch} is the drill\'s, refused here', () => {
    const parsed = execDumpSchema.parse({ name: 'db', run: { host: { argv: ['cat', '/x'] } }, restore: { argv: ['sh', '-c', 'cat > /x'], env: { TOKEN: { env: 'T' } } } });
    assert.deepEqual(parsed.restore, { argv: ['sh', '-c', 'cat > /x'], env: { TOKEN: { env: 'T' } }, timeoutMinutes: 360 });
    assert.equal(execDumpSchema.safeParse({ name: 'db', run: { host: { argv: ['cat', '/x'] } }, restore: { argv: ['cp', '/dev/stdin', '{scratch}/x'] } }).success, false);
  });

  test('restore input: mirror (confirm, or into a bucket and prefix) and exec (confirm); DR may order mirror and exec', () => {
    const input = restoreInputSchema.parse({ stack: 'prod', components: ['mirror', 'exec'], mirror: { docs: { into: { bucket: 'restored', prefix: 'x/' } } }, exec: { db: { confirm: 'db' } } });
    assert.deepEqual(input.mirror, { docs: { into: { bucket: 'restored', prefix: 'x/' } } });
    assert.equal(restoreInputSchema.safeParse({ stack: 'prod', mirror: { docs: { into: { bucket: 'restored', prefix: 'no-slash' } } } }).success, false);
    const dr = drSchema.parse({ targets: { rtoMinutes: 1, rpoMinutes: 1 }, validation: { checks: [{ url: 'http://127.0.0.1:1/' }] }, restoreOrder: [['postgres'], ['mirror', 'exec']] });
    assert.deepEqual(dr.restoreOrder, [['postgres'], ['mirror', 'exec']]);
  });
});

describe('restore of mirrors and exec dumps, then disasterRecovery', { timeout: 300_000 }, () => {
  let moto: TestMoto;
  let temporal: TestTemporal;
  let worker: RunningWorker;
  let checks: CheckServer;
  let dir: { path: string; remove(): Promise<void> };
  let db: string;
  let backup: BackupReport;
  const taskQueue = uniqueName('restore-components');

  const docKey = (i: number) => `docs/d${i % 5}/file-${String(i).padStart(3, '0')}.txt`;
  const docBody = (i: number) => `document ${i} `.repeat(1 + (i % 9));
  const sqlite = async (...args: string[]) => (await execa('sqlite3', [db, ...args])).stdout;
  const contentOf = () => sqlite('SELECT id, title FROM items ORDER BY id');

  /** Every object under `prefix` of `bucket`: key (relative to prefix) → SHA-256 of its bytes. */
  async function objectsOf(bucket: string, prefix: string): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    for (const key of await moto.listKeys(bucket, prefix)) {
      const got = await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      found[key.slice(prefix.length)] = createHash('sha256').update(Buffer.from(await got.Body!.transformToByteArray())).digest('hex');
    }
    return found;
  }
  const put = (key: string, body: string) => moto.s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: key, Body: body }));
  const restore = async (input: Omit<RestoreInput, 'stack'>) => (await startRestore(temporal.client, { stack: 'prod', ...input }, { taskQueue, workflowId: uniqueName('restore') })).result() as Promise<RestoreReport>;
  const failureOf = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => assert.fail('the run did not fail'), (caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    return error.cause as Error & { type?: string };
  };

  before(async () => {
    [moto, temporal, checks, dir] = await Promise.all([startMoto(), startTestTemporal(), startCheckServer(), tempDir('restore-components')]);
    await moto.createBucket(SOURCE);
    await moto.createBucket(OTHER);
    process.env.TEST_RC_KEY = moto.accessKeyId;
    process.env.TEST_RC_SECRET = moto.secretAccessKey;
    process.env.TEST_RC_NOTE = 'restored-by-ragops';
    await Promise.all(Array.from({ length: 50 }, (_, i) => put(docKey(i), docBody(i))));
    await put('elsewhere/outside.txt', 'not mirrored');
    db = join(dir.path, 'app.db');
    await sqlite('CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL)', ...Array.from({ length: 20 }, (_, i) => `INSERT INTO items VALUES (${i + 1}, 'item ${i + 1}')`));
    const mirror = {
      name: 'docs',
      bucket: SOURCE,
      prefix: 'docs/',
      endpoint: moto.endpoint,
      region: moto.region,
      forcePathStyle: true,
      accessKeyId: { env: 'TEST_RC_KEY' },
      secretAccessKey: { env: 'TEST_RC_SECRET' },
    };
    const stacks = {
      stacks: {
        prod: {
          store: { type: 'fs', path: join(dir.path, 'store') },
          mirrors: [mirror],
          execDumps: [
            {
              name: 'appdb',
              run: { host: { argv: ['sqlite3', db, '.dump'] } },
              extension: '.sql',
              // The SQL dump into a fresh file, then the note (a secret by reference) recorded where the test can see it.
              restore: { argv: ['sh', '-c', 'rm -f "$1" && sqlite3 "$1" && printf %s "$NOTE" > "$1.note"', 'restore', db], env: { NOTE: { env: 'TEST_RC_NOTE' } } },
            },
            // Backed up, never restorable by ragops: no restore section.
            { name: 'logs', run: { host: { argv: ['echo', 'log lines'] } } },
          ],
          dr: {
            targets: { rtoMinutes: 30, rpoMinutes: 60 },
            validation: { checks: [{ url: checks.url('/health'), timeoutSeconds: 5, intervalMs: 200 }] },
            drillStack: 'rehearsal',
          },
        },
        // A drill stack with a mirror of the same name elsewhere: a DR drill still leaves mirrors and exec dumps alone.
        rehearsal: { store: { type: 'fs', path: join(dir.path, 'rehearsal-store') }, mirrors: [{ ...mirror, bucket: OTHER, prefix: 'rehearsal/' }] },
      },
    };
    worker = await startWorker({ address: temporal.address, taskQueue, stacksText: stringify(stacks) });
    backup = await (await startBackup(temporal.client, { stack: 'prod' }, { taskQueue, workflowId: uniqueName('backup') })).result();
  });
  after(async () => {
    await worker?.stop();
    await temporal?.stop();
    await moto?.stop();
    await checks?.stop();
    await dir?.remove();
  });

  test('the backup holds the mirror (50 objects) and both exec dumps', () => {
    const kinds = backup.artifacts.map((a) => `${a.component} ${a.name}`).sort();
    assert.deepEqual(kinds, ['exec appdb', 'exec logs', 'mirror docs']);
  });

  test('without confirm, refused before anything is touched; an exec dump without a restore section is bad input', async () => {
    const expected = await objectsOf(SOURCE, 'docs/');
    await moto.s3.send(new DeleteObjectCommand({ Bucket: SOURCE, Key: docKey(3) }));
    await sqlite("UPDATE items SET title = 'damaged' WHERE id <= 5");
    const damaged = { objects: await objectsOf(SOURCE, 'docs/'), content: await contentOf() };

    const refused = await failureOf(restore({ components: ['mirror', 'exec'], mirror: { docs: {} }, exec: { appdb: {} } }));
    assert.match(refused.message, /restore refused, nothing was touched/);
    assert.match(refused.message, /mirror\.docs\.confirm: restoring over s3:\/\/ragops-rc-source\/docs\//);
    assert.match(refused.message, /exec\.appdb\.confirm/);
    assert.doesNotMatch(refused.message, /exec\.logs/, 'only the exec dumps named are restored');
    const unnamed = await failureOf(restore({ components: ['exec'] }));
    assert.match(unnamed.message, /components: exec: name the exec dumps to restore/);
    const noRestore = await failureOf(restore({ exec: { logs: { confirm: 'logs' } } }));
    assert.match(noRestore.message, /exec\.logs: .*has no restore section/);
    const occupied = await failureOf(restore({ mirror: { docs: { into: { bucket: SOURCE, prefix: 'elsewhere/' } } } }));
    assert.match(occupied.message, /mirror\.docs\.into: s3:\/\/ragops-rc-source\/elsewhere\/ is not empty/);
    const inside = await failureOf(restore({ mirror: { docs: { into: { bucket: SOURCE, prefix: 'docs/restored/' } } } }));
    assert.match(inside.message, /mirror\.docs\.into: s3:\/\/ragops-rc-source\/docs\/restored\/ overlaps the mirror "docs" \(s3:\/\/ragops-rc-source\/docs\/\)/);
    assert.deepEqual({ objects: await objectsOf(SOURCE, 'docs/'), content: await contentOf() }, damaged, 'nothing touched');
    assert.notDeepEqual(damaged.objects, expected);
  });

  test('with confirm: identical objects and checksums back, an extra object left and counted; the SQLite content back, its env by reference', async () => {
    // More damage: one object altered, one added (not in the backup).
    await put(docKey(7), 'altered');
    await put('docs/added-after.txt', 'not in the backup');
    const workflowId = uniqueName('restore');
    const report = await (await startRestore(temporal.client, { stack: 'prod', components: ['mirror', 'exec'], mirror: { docs: { confirm: 'docs' } }, exec: { appdb: { confirm: 'appdb' } } }, { taskQueue, workflowId })).result();
    const history = await exportHistoryJson(temporal.client, workflowId);
    assert.ok(history.includes('TEST_RC_NOTE') && !history.includes('restored-by-ragops'), 'the restore command\'s secret is a reference in history, never its value');
    assert.equal(report.mirrors?.length, 1);
    assert.deepEqual({ objects: report.mirrors![0]!.objects, notInBackup: report.mirrors![0]!.notInBackup }, { objects: 50, notInBackup: 1 });
    assert.match(report.mirrors![0]!.detail, /1 object the backup does not hold left in place, not deleted/);
    const now = await objectsOf(SOURCE, 'docs/');
    const wanted = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [docKey(i).slice('docs/'.length), createHash('sha256').update(docBody(i)).digest('hex')]));
    assert.deepEqual(now, { ...wanted, 'added-after.txt': createHash('sha256').update('not in the backup').digest('hex') });
    assert.deepEqual(report.exec?.map((e) => e.label), ['appdb']);
    assert.equal(await contentOf(), Array.from({ length: 20 }, (_, i) => `${i + 1}|item ${i + 1}`).join('\n'));
    assert.equal((await execa('cat', [`${db}.note`])).stdout, 'restored-by-ragops');
  });

  test('into a new prefix of another bucket: the backup\'s keys and bytes there, the source untouched', async () => {
    const report = await restore({ mirror: { docs: { into: { bucket: OTHER, prefix: 'copy/' } } } });
    assert.deepEqual(report.postgres, []);
    assert.equal(report.mirrors![0]!.notInBackup, 0);
    const copied = await objectsOf(OTHER, 'copy/');
    assert.equal(Object.keys(copied).length, 50);
    assert.equal(copied['d0/file-000.txt'], createHash('sha256').update(docBody(0)).digest('hex'));
  });

  test('disasterRecovery (recover, approve auto) restores the mirror and the exec dump; the report lists them, and the dump without restore as not restored', async () => {
    await moto.s3.send(new DeleteObjectCommand({ Bucket: SOURCE, Key: docKey(11) }));
    await put(docKey(12), 'altered again');
    await sqlite('DELETE FROM items WHERE id > 10');
    const handle = await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'recover', approve: 'auto', allowUnverified: true }, { taskQueue, workflowId: uniqueName('dr') });
    const report = (await handle.result()) as DrReport;
    assert.equal(report.outcome, 'recovered');
    assert.deepEqual(report.plan?.restoreGroups, [['mirror', 'exec']]);
    assert.deepEqual(report.restores.map((r) => r.kind), ['mirror', 'exec']);
    assert.equal(report.components['mirror docs'], 'restored (1 object(s) the backup does not hold left in place)');
    assert.equal(report.components['exec appdb'], 'restored');
    assert.match(report.components['exec logs']!, /^untouched, not restored: the exec dump "logs" has no restore section/);
    assert.match(report.phasePlan!.find((p) => p.phase === 'restore data')!.what, /mirror docs .*exec dump appdb.*not restored: exec dump logs/);
    const now = await objectsOf(SOURCE, 'docs/');
    assert.equal(now[docKey(11).slice(5)], createHash('sha256').update(docBody(11)).digest('hex'));
    assert.equal(now[docKey(12).slice(5)], createHash('sha256').update(docBody(12)).digest('hex'));
    assert.equal(await sqlite('SELECT count(*) FROM items'), '20');
  });

  test('a DR drill lists the mirror and the exec dumps as not restored (a drill does not restore them yet) and touches neither', async () => {
    const before = { objects: await objectsOf(SOURCE, 'docs/'), rehearsal: await objectsOf(OTHER, 'rehearsal/'), content: await contentOf() };
    const report = (await (await startDisasterRecovery(temporal.client, { stack: 'prod', mode: 'drill', approve: 'auto', allowUnverified: true }, { taskQueue, workflowId: uniqueName('drill') })).result()) as DrReport;
    assert.equal(report.outcome, 'drilled');
    assert.deepEqual(report.plan?.restoreGroups, []);
    assert.match(report.components['mirror docs']!, /^untouched, not restored: a DR drill does not restore mirrors yet/);
    assert.match(report.components['exec appdb']!, /^untouched, not restored: a DR drill does not restore exec dumps yet/);
    assert.deepEqual({ objects: await objectsOf(SOURCE, 'docs/'), rehearsal: await objectsOf(OTHER, 'rehearsal/'), content: await contentOf() }, before);
  });

  test('stored bytes that differ from the backup\'s SHA-256 are never written: the restore fails naming the object, the rest are put back', async () => {
    const artifact = backup.artifacts.find((a) => a.component === 'mirror')!;
    const { entries } = await withStore({ type: 'fs', path: join(dir.path, 'store') }, (store) => readEntryList(store, artifact.key));
    const victim = entries.find((entry) => entry.key === 'd4/file-004.txt')!;
    await writeFile(join(dir.path, 'store', victim.storedAt), 'tampered with');
    const failed = await failureOf(restore({ mirror: { docs: { into: { bucket: OTHER, prefix: 'tampered/' } } } }));
    assert.match(failed.message, /1 object whose stored bytes differ from the backup's SHA-256, not written \(d4\/file-004\.txt\)/);
    assert.match(failed.message, /mirror docs → s3:\/\/ragops-rc-other\/tampered\/: failed/);
    const written = await moto.listKeys(OTHER, 'tampered/');
    assert.equal(written.length, 49);
    assert.ok(!written.includes('tampered/d4/file-004.txt'));
  });
});
