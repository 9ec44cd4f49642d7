// The pure parts of point-in-time recovery: which retention expire runs with, how verify's
// summary is read for one backup, the argv and settings of the servers ragops starts, the
// inputs and stacks-file sections.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fullLabelOf, measuredRpoSeconds, protectedRetentionFull } from '../src/core/pgbackrest.js';
import { verdictFor } from '../src/activities/pgbackrest/backup.js';
import { parsePgbackrestVerify } from '../src/activities/pgbackrest/verify.js';
import { asOsUser, expireWithRetentionCommand } from '../src/activities/pgbackrest/commands.js';
import { pgCtlStartCommand, pgCtlStopCommand, serverBinDir, serverSettings } from '../src/activities/pgbackrest/serverCommands.js';
import { backupInputSchema, restoreInputSchema, verifyInputSchema } from '../src/config/inputs.js';
import { parseStacksFile } from '../src/config/load.js';
import { pitrScratchDirName, OWNED_PITR_DIR } from '../src/core/runNames.js';
import { backupClaims, leaseTargets } from '../src/core/leases.js';
import { PGBACKREST_2_45_VERIFY_CORRUPTED } from './support/pgbackrest-fixtures.js';
import { stringify } from 'yaml';

describe('expire keeps the newest full backup a drill proved good', () => {
  const fulls = ['20261206-120000F', '20261205-120000F', '20261204-120000F'];
  test('the policy alone when the good one is within it', () => {
    assert.deepEqual(protectedRetentionFull(2, fulls, new Set([fulls[1]!])), { retentionFull: 2 });
    assert.deepEqual(protectedRetentionFull(1, fulls, new Set([fulls[0]!])), { retentionFull: 1 });
  });
  test('raised to reach it when newer fulls are bad or unchecked', () => {
    assert.deepEqual(protectedRetentionFull(1, fulls, new Set([fulls[2]!])), { retentionFull: 3, protecting: fulls[2] });
  });
  test('the policy when no drill ever passed (nothing to protect)', () => {
    assert.deepEqual(protectedRetentionFull(1, fulls, new Set()), { retentionFull: 1 });
  });
  test('labels and RPO arithmetic', () => {
    assert.equal(fullLabelOf('20261206-134501F_20261206-140003I'), '20261206-134501F');
    assert.equal(measuredRpoSeconds(new Date('2026-12-06T14:00:10Z'), new Date('2026-12-06T14:00:04.400Z')), 6);
  });
});

describe('verify read for one backup', () => {
  const result = parsePgbackrestVerify(PGBACKREST_2_45_VERIFY_CORRUPTED.stdout, PGBACKREST_2_45_VERIFY_CORRUPTED.stderr);
  test('the corrupted backup, and an incr built on it, are bad and name the file', () => {
    const verdict = verdictFor(result, '20261206-140507F', []);
    assert.equal(verdict.status, 'error');
    assert.deepEqual(verdict.problems, ["invalid checksum '20261206-140507F/pg_data/base/5/2602.gz'"]);
    assert.equal(verdictFor(result, '20261206-140507F_20261206-150000I', ['20261206-140507F']).status, 'error', 'an incr is as good as its full');
  });
  test('a backup verify did not list is not taken for good', () => {
    const verdict = verdictFor(result, '20261207-000000F', []);
    assert.equal(verdict.status, 'error');
    assert.match(verdict.problems.at(-1)!, /did not list backup 20261207-000000F/);
  });
});

describe('commands and settings of the servers ragops starts', () => {
  const invocation = { configFile: '/tmp/ragops-pgbackrest-x/pgbackrest.conf', stanza: 'app' };
  test('as the cluster\'s OS user, runuser as root and sudo -n otherwise', () => {
    const expire = expireWithRetentionCommand(invocation, 3);
    assert.deepEqual(expire.argv, ['pgbackrest', `--config=${invocation.configFile}`, '--stanza=app', '--repo1-retention-full=3', 'expire']);
    assert.deepEqual(asOsUser(expire, 'postgres', 'runuser').argv.slice(0, 4), ['runuser', '-u', 'postgres', '--']);
    assert.deepEqual(asOsUser(expire, 'postgres', 'sudo').argv.slice(0, 5), ['sudo', '-n', '-u', 'postgres', '--']);
    assert.throws(() => asOsUser(expire, 'post gres', 'sudo'), /not an OS user name/);
    assert.throws(() => expireWithRetentionCommand(invocation, 0), /not a retention count/);
  });
  test('pg_ctl argv, the binaries of the backup\'s major version', () => {
    assert.equal(serverBinDir('15'), '/usr/lib/postgresql/15/bin');
    assert.equal(serverBinDir('16.4', '/opt/pg/bin'), '/opt/pg/bin');
    assert.deepEqual(pgCtlStartCommand('/usr/lib/postgresql/15/bin', '/tmp/d/data', '/tmp/d/run/server.log').argv, ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', '/tmp/d/data', '-l', '/tmp/d/run/server.log', '-W', 'start']);
    assert.deepEqual(pgCtlStopCommand('/usr/lib/postgresql/15/bin', '/tmp/d/data', 'immediate').argv.slice(3, 5), ['-m', 'immediate']);
    assert.throws(() => pgCtlStartCommand('/bin', '/tmp/d; rm -rf /', '/tmp/l'), /not a plain absolute/);
  });
  test('a drill\'s server listens on its socket only, without TLS; a restored cluster where its config says', () => {
    const drill = serverSettings({ port: 5432, listenAddresses: '', socketDir: '/tmp/d/run', hbaFile: '/tmp/d/run/ragops_hba.conf' });
    assert.match(drill, /^listen_addresses = ''$/m);
    assert.match(drill, /^ssl = off$/m);
    assert.match(drill, /^hba_file = '\/tmp\/d\/run\/ragops_hba.conf'$/m);
    const restored = serverSettings({ port: 5433, socketDir: '/srv/pg' });
    assert.doesNotMatch(restored, /listen_addresses|ssl|hba_file/);
    assert.match(restored, /^port = 5433$/m);
  });
  test('scratch directory names carry the run tag the janitor sweeps by', () => {
    assert.match(pitrScratchDirName('abcd1234', 'app'), OWNED_PITR_DIR);
    assert.throws(() => pitrScratchDirName('nope', 'app'));
  });
});

describe('inputs and the stacks file', () => {
  test('at is a time with its zone; into is a plain absolute directory and a port', () => {
    assert.equal(verifyInputSchema.safeParse({ stack: 'prod', at: '2026-12-06T14:05:00Z' }).success, true);
    assert.equal(verifyInputSchema.safeParse({ stack: 'prod', at: '2026-12-06 14:05' }).success, false);
    assert.equal(restoreInputSchema.safeParse({ stack: 'prod', postgres: { app: { into: { dataDirectory: '/srv/pg', port: 5433 } } } }).success, true);
    assert.equal(restoreInputSchema.safeParse({ stack: 'prod', postgres: { app: { into: { dataDirectory: '/srv/../etc', port: 5433 } } } }).success, false);
    assert.equal(backupInputSchema.safeParse({ stack: 'prod', physicalType: 'weekly' }).success, false);
  });
  test('plans pick pgbackrest only on stacks with a physical section, with a type', () => {
    const stack = (physical: boolean) => ({
      postgres: [{ name: 'app', database: 'app', ...(physical ? { physical: { stanza: 'app', pgData: '/var/lib/postgresql/15/main' } } : {}) }],
      store: { type: 'fs', path: '/tmp/store' },
      plans: { 'weekly-full': { components: ['pgbackrest'], physical: 'full' } },
    });
    assert.equal(parseStacksFile(stringify({ stacks: { prod: stack(true) } }), 't').stacks.prod!.plans!['weekly-full']!.physical, 'full');
    assert.throws(() => parseStacksFile(stringify({ stacks: { prod: stack(false) } }), 't'), /configures no pgbackrest/);
  });
  test('one physical backup per stanza at a time', () => {
    const target = { name: 'app', host: '127.0.0.1', port: 5432, database: 'app', user: 'postgres', sanityChecks: [], physical: { stanza: 'app', pgData: '/d', retentionFull: 2 } };
    const claims = backupClaims({ stack: 'prod', postgres: [], physical: [{ target, type: 'incr' }] });
    assert.ok(claims.some((claim) => claim.target === leaseTargets.stanza(target, 'app') && claim.mode === 'exclusive'));
  });
});
