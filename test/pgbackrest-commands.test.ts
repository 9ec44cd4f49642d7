import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  archivePushCommandText,
  backupCommand,
  checkCommand,
  expireCommand,
  infoCommand,
  recoveryTargetTime,
  restoreCommand,
  stanzaCreateCommand,
  verifyCommand,
} from '../src/activities/pgbackrest/commands.js';

const invocation = { configFile: '/tmp/ragops-pgbackrest-x1/pgbackrest.conf', stanza: 'app' };
const head = ['pgbackrest', '--config=/tmp/ragops-pgbackrest-x1/pgbackrest.conf', '--stanza=app'];

describe('pgbackrest argv builders', () => {
  test('each command names the config file and the stanza, and nothing secret', () => {
    assert.deepEqual(stanzaCreateCommand(invocation).argv, [...head, 'stanza-create']);
    assert.deepEqual(checkCommand(invocation).argv, [...head, 'check']);
    assert.deepEqual(infoCommand(invocation).argv, [...head, '--output=json', 'info']);
    assert.deepEqual(verifyCommand(invocation).argv, [...head, '--output=text', '--verbose', '--log-level-console=off', '--log-level-stderr=info', 'verify']);
    assert.deepEqual(expireCommand(invocation).argv, [...head, 'expire']);
    for (const spec of [stanzaCreateCommand(invocation), checkCommand(invocation), infoCommand(invocation)]) {
      assert.equal(spec.env, undefined);
      assert.equal(spec.inheritEnv, undefined);
      assert.match(spec.purpose, /^pgbackrest [a-z-]+ of stanza app$/);
    }
  });

  test('backup: the type, a fast start when asked, and no automatic expiry', () => {
    assert.deepEqual(backupCommand(invocation, { type: 'full', startFast: true }).argv, [...head, '--type=full', '--start-fast', '--no-expire-auto', 'backup']);
    assert.deepEqual(backupCommand(invocation, { type: 'diff', startFast: false }).argv, [...head, '--type=diff', '--no-expire-auto', 'backup']);
    const incr = backupCommand(invocation, { type: 'incr', startFast: true });
    assert.equal(incr.argv[3], '--type=incr');
    assert.equal(incr.purpose, 'pgbackrest backup of stanza app (incr backup)');
  });

  test('restore to a time or to the end of the backup, into a given directory, promoted', () => {
    const at = new Date('2026-12-06T13:45:01.123Z');
    assert.deepEqual(restoreCommand(invocation, { pgData: '/tmp/ragops-drill-ab12cd34/data', target: { type: 'time', at }, archiving: 'off' }).argv, [
      ...head,
      '--type=time',
      '--target=2026-12-06 13:45:01.123+00',
      '--target-action=promote',
      '--pg1-path=/tmp/ragops-drill-ab12cd34/data',
      '--archive-mode=off',
      'restore',
    ]);
    assert.deepEqual(
      restoreCommand(invocation, { pgData: '/srv/pg-restored', target: { type: 'immediate' }, archiving: 'preserve', set: '20261206-134501F_20261206-140003I' }).argv,
      [...head, '--type=immediate', '--target-action=promote', '--pg1-path=/srv/pg-restored', '--archive-mode=preserve', '--set=20261206-134501F_20261206-140003I', 'restore'],
    );
    assert.match(restoreCommand(invocation, { pgData: '/d', target: { type: 'time', at }, archiving: 'off' }).purpose, /into \/d, to 2026-12-06T13:45:01\.123Z/);
    // To the end of the archive: pgBackRest's `default` type, which takes no target action.
    assert.deepEqual(restoreCommand(invocation, { pgData: '/srv/pg', target: { type: 'archive-end' }, archiving: 'preserve' }).argv, [...head, '--type=default', '--pg1-path=/srv/pg', '--archive-mode=preserve', 'restore']);
  });

  test('the recovery target is UTC to the millisecond, as recovery_target_time reads it', () => {
    assert.equal(recoveryTargetTime(new Date('2026-01-02T03:04:05Z')), '2026-01-02 03:04:05.000+00');
    assert.throws(() => recoveryTargetTime(new Date('nonsense')), /not a valid date/);
  });

  test('the archive_command text for postgresql.conf', () => {
    assert.equal(archivePushCommandText(invocation), 'pgbackrest --config=/tmp/ragops-pgbackrest-x1/pgbackrest.conf --stanza=app archive-push %p');
    assert.equal(
      archivePushCommandText({ ...invocation, binary: '/usr/bin/pgbackrest' }),
      '/usr/bin/pgbackrest --config=/tmp/ragops-pgbackrest-x1/pgbackrest.conf --stanza=app archive-push %p',
    );
  });

  test('names and paths with shell or option syntax are refused before anything runs', () => {
    assert.throws(() => checkCommand({ ...invocation, stanza: 'app --repo1-path=/x' }), /not a stanza name/);
    assert.throws(() => checkCommand({ ...invocation, configFile: 'relative.conf' }), /not a plain absolute config file path/);
    assert.throws(() => archivePushCommandText({ ...invocation, configFile: '/tmp/a;touch /tmp/pwned' }), /not a plain absolute config file path/);
    assert.throws(() => archivePushCommandText({ ...invocation, binary: 'pgbackrest && id' }), /not a plain binary path/);
    assert.throws(() => restoreCommand(invocation, { pgData: '/d/../etc', target: { type: 'immediate' }, archiving: 'off' }), /not a plain absolute data directory/);
    assert.throws(() => restoreCommand(invocation, { pgData: '/d', target: { type: 'immediate' }, archiving: 'off', set: 'latest; id' }), /not a pgBackRest backup label/);
  });
});
