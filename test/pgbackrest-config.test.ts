import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { ConfigError, parseStacksFile } from '../src/config/load.js';
import type { PostgresTarget } from '../src/config/stacks/index.js';
import { hasPhysical, renderPgbackrestConfig, repositoryOf, type PhysicalPostgresTarget } from '../src/activities/pgbackrest/config.js';
import { withPgbackrestConfig, writePgbackrestConfig } from '../src/activities/pgbackrest/configFile.js';
import { tempDir } from './support/ragops.js';

function targetOf(physical: unknown, extra: Record<string, unknown> = {}): PostgresTarget {
  const stacks = parseStacksFile(
    JSON.stringify({ stacks: { s: { store: { type: 'fs', path: '/srv/backups' }, postgres: [{ name: 'app', database: 'app', physical, ...extra }] } } }),
    'ragops.json',
  );
  return stacks.stacks.s!.postgres[0]!;
}

function issuesOf(physical: unknown): Array<{ path: string; message: string }> {
  try {
    targetOf(physical);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.issues;
  }
  assert.fail('expected the physical section to be rejected');
}

function physicalTarget(physical: unknown, extra: Record<string, unknown> = {}): PhysicalPostgresTarget {
  const target = targetOf(physical, extra);
  assert.ok(hasPhysical(target));
  return target;
}

const s3Repository = {
  type: 's3',
  bucket: 'rag-wal',
  prefix: 'pgbackrest/prod/',
  endpoint: 'https://127.0.0.1:9443',
  region: 'eu-west-1',
  forcePathStyle: true,
  accessKeyId: { env: 'PGBR_KEY' },
  secretAccessKey: { file: '/run/secrets/pgbr' },
  verifyTls: false,
};

describe('postgres.physical in the stacks file', () => {
  test('a posix repository, with defaults filled in', () => {
    const target = targetOf({ stanza: 'app', pgData: '/var/lib/postgresql/15/main', repository: { type: 'posix', path: '/srv/pgbackrest' } });
    assert.deepEqual(target.physical, {
      stanza: 'app',
      pgData: '/var/lib/postgresql/15/main',
      repository: { type: 'posix', path: '/srv/pgbackrest' },
      retentionFull: 2,
    });
  });

  test('an s3 repository with secret references and a cipher pass', () => {
    const target = targetOf({ stanza: 'prod.app-1', pgData: '/pg', repository: s3Repository, cipherPass: { env: 'PGBR_CIPHER' }, retentionFull: 4, retentionDiff: 6 });
    assert.deepEqual(target.physical?.repository, s3Repository);
    assert.deepEqual(target.physical?.cipherPass, { env: 'PGBR_CIPHER' });
    assert.equal(target.physical?.retentionDiff, 6);
  });

  test('an s3 repository gets AWS defaults', () => {
    const { endpoint: _endpoint, prefix: _prefix, region: _region, forcePathStyle: _style, verifyTls: _tls, ...bare } = s3Repository;
    const repository = targetOf({ stanza: 'app', pgData: '/pg', repository: bare }).physical?.repository;
    assert.ok(repository?.type === 's3');
    assert.equal(repository.prefix, '');
    assert.equal(repository.region, 'us-east-1');
    assert.equal(repository.forcePathStyle, false);
    assert.equal(repository.verifyTls, true);
  });

  test('names and paths that could carry shell or config syntax are refused, each with its path', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ stanza: 'app; rm -rf /', pgData: '/pg' }, 'physical.stanza', /stanza names are letters/],
      [{ stanza: '-app', pgData: '/pg' }, 'physical.stanza', /starting with a letter or digit/],
      [{ stanza: 'app', pgData: 'relative/dir' }, 'physical.pgData', /an absolute path/],
      [{ stanza: 'app', pgData: '/pg/../etc' }, 'physical.pgData', /without "\.\." segments/],
      [{ stanza: 'app', pgData: '/pg data' }, 'physical.pgData', /an absolute path/],
      [{ stanza: 'app', pgData: '/pg\nrepo1-path=/x' }, 'physical.pgData', /an absolute path/],
      [{ stanza: 'app', pgData: '/pg', repository: { type: 'posix', path: '/r$(id)' } }, 'physical.repository.path', /an absolute path/],
      [{ stanza: 'app', pgData: '/pg', repository: { ...s3Repository, endpoint: 'http://127.0.0.1:9000' } }, 'physical.repository.endpoint', /over TLS only/],
      [{ stanza: 'app', pgData: '/pg', repository: { ...s3Repository, endpoint: 'https://s3.example.com/bucket' } }, 'physical.repository.endpoint', /without a path/],
      [{ stanza: 'app', pgData: '/pg', repository: { ...s3Repository, endpoint: 'not a url' } }, 'physical.repository.endpoint', /an https:\/\/ URL/],
      [{ stanza: 'app', pgData: '/pg', repository: { ...s3Repository, bucket: 'Bad_Bucket' } }, 'physical.repository.bucket', /an S3 bucket name/],
      [{ stanza: 'app', pgData: '/pg', repository: { ...s3Repository, prefix: '/abs' } }, 'physical.repository.prefix', /a key prefix/],
      [{ stanza: 'app', pgData: '/pg', repository: { ...s3Repository, accessKeyId: 'AKIA123' } }, 'physical.repository.accessKeyId', /./],
      [{ stanza: 'app', pgData: '/pg', retentionFull: 0 }, 'physical.retentionFull', /./],
      [{ stanza: 'app', pgData: '/pg', cipherPass: 'plain-text' }, 'physical.cipherPass', /./],
    ];
    for (const [physical, path, message] of cases) {
      const issues = issuesOf(physical);
      const issue = issues.find((candidate) => candidate.path === `stacks.s.postgres[0].${path}`);
      assert.ok(issue, `${JSON.stringify(physical)}: no issue at ${path} in ${JSON.stringify(issues)}`);
      assert.match(issue.message, message);
    }
  });

  test('unknown keys are refused (strict)', () => {
    const issues = issuesOf({ stanza: 'app', pgData: '/pg', repo1Path: '/x' });
    assert.ok(issues.some((issue) => issue.path === 'stacks.s.postgres[0].physical' && /repo1Path/.test(issue.message)), JSON.stringify(issues));
    const s3 = issuesOf({ stanza: 'app', pgData: '/pg', repository: { ...s3Repository, sessionToken: { env: 'T' } } });
    assert.ok(s3.some((issue) => issue.path === 'stacks.s.postgres[0].physical.repository' && /sessionToken/.test(issue.message)), JSON.stringify(s3));
  });
});

describe('the default repository', () => {
  test('is a directory in the stack\'s fs store, resolved against the working directory when relative', () => {
    const physical = physicalTarget({ stanza: 'app', pgData: '/pg' }).physical;
    assert.deepEqual(repositoryOf(physical, { type: 'fs', path: '/srv/backups' }, '/ignored'), { type: 'posix', path: '/srv/backups/_pgbackrest' });
    assert.deepEqual(repositoryOf(physical, { type: 'fs', path: './backups' }, '/opt/ragops'), { type: 'posix', path: '/opt/ragops/backups/_pgbackrest' });
  });

  test('an s3 store needs the repository spelled out; an unsafe store path is refused', () => {
    const physical = physicalTarget({ stanza: 'app', pgData: '/pg' }).physical;
    const s3Store = { type: 's3' as const, bucket: 'b-1', prefix: '', region: 'us-east-1', forcePathStyle: false, partSizeMiB: 8, uploadConcurrency: 2 };
    assert.throws(() => repositoryOf(physical, s3Store, '/'), /store is S3, so physical.repository must say where/);
    assert.throws(() => repositoryOf(physical, { type: 'fs', path: '/srv/my backups' }, '/'), /is not a plain absolute path; set physical.repository/);
  });

  test('an explicit repository wins', () => {
    const physical = physicalTarget({ stanza: 'app', pgData: '/pg', repository: { type: 'posix', path: '/r' } }).physical;
    assert.deepEqual(repositoryOf(physical, { type: 'fs', path: '/srv/backups' }, '/'), { type: 'posix', path: '/r' });
  });
});

describe('renderPgbackrestConfig', () => {
  test('posix: the repository and retention in [global], the cluster in the stanza section', () => {
    const target = physicalTarget({ stanza: 'app', pgData: '/var/lib/postgresql/15/main', retentionFull: 3, retentionDiff: 5 }, { port: 5433, user: 'backup' });
    const text = renderPgbackrestConfig(target, { type: 'posix', path: '/srv/backups/_pgbackrest' }, {});
    assert.equal(
      text,
      [
        '# Rendered by ragops for one run. It holds repository secrets: mode 0600, removed after use.',
        '[global]',
        'repo1-type=posix',
        'repo1-path=/srv/backups/_pgbackrest',
        'repo1-retention-full=3',
        'repo1-retention-diff=5',
        'log-level-file=off',
        '',
        '[app]',
        'pg1-path=/var/lib/postgresql/15/main',
        'pg1-port=5433',
        'pg1-user=backup',
        '',
      ].join('\n'),
    );
  });

  test('the socket directory: physical.socketPath, else the target\'s host when it is one', () => {
    const viaHost = physicalTarget({ stanza: 'app', pgData: '/pg' }, { host: '/var/run/postgresql' });
    assert.match(renderPgbackrestConfig(viaHost, { type: 'posix', path: '/r' }, {}), /^pg1-socket-path=\/var\/run\/postgresql$/m);
    const explicit = physicalTarget({ stanza: 'app', pgData: '/pg', socketPath: '/tmp/pg' }, { host: '/var/run/postgresql' });
    assert.match(renderPgbackrestConfig(explicit, { type: 'posix', path: '/r' }, {}), /^pg1-socket-path=\/tmp\/pg$/m);
    const tcp = physicalTarget({ stanza: 'app', pgData: '/pg' }, { host: 'db.internal' });
    assert.doesNotMatch(renderPgbackrestConfig(tcp, { type: 'posix', path: '/r' }, {}), /socket/);
  });

  test('s3 with encryption: endpoint host and port, path style, TLS verification off, the secrets', () => {
    const target = physicalTarget({ stanza: 'app', pgData: '/pg', repository: s3Repository, cipherPass: { env: 'C' } });
    assert.ok(target.physical.repository);
    const text = renderPgbackrestConfig(target, target.physical.repository, { cipherPass: 'c1pher pass', s3AccessKeyId: 'AKIAEXAMPLE', s3SecretAccessKey: 's3cr3t/key+' });
    const global = text.slice(text.indexOf('[global]'), text.indexOf('[app]'));
    assert.deepEqual(global.trim().split('\n'), [
      '[global]',
      'repo1-type=s3',
      'repo1-path=/pgbackrest/prod',
      'repo1-s3-bucket=rag-wal',
      'repo1-s3-endpoint=127.0.0.1',
      'repo1-storage-port=9443',
      'repo1-s3-region=eu-west-1',
      'repo1-s3-uri-style=path',
      'repo1-storage-verify-tls=n',
      'repo1-s3-key=AKIAEXAMPLE',
      'repo1-s3-key-secret=s3cr3t/key+',
      'repo1-cipher-type=aes-256-cbc',
      'repo1-cipher-pass=c1pher pass',
      'repo1-retention-full=2',
      'log-level-file=off',
    ]);
  });

  test('s3 on AWS: the regional endpoint, the bucket root, TLS verified', () => {
    const { endpoint: _endpoint, prefix: _prefix, forcePathStyle: _style, verifyTls: _tls, ...aws } = s3Repository;
    const target = physicalTarget({ stanza: 'app', pgData: '/pg', repository: aws });
    const text = renderPgbackrestConfig(target, target.physical.repository!, { s3AccessKeyId: 'k', s3SecretAccessKey: 's' });
    assert.match(text, /^repo1-path=\/$/m);
    assert.match(text, /^repo1-s3-endpoint=s3\.eu-west-1\.amazonaws\.com$/m);
    assert.doesNotMatch(text, /uri-style|verify-tls|storage-port/);
  });

  test('a secret that is missing, or that would break out of its line, is refused without showing it', () => {
    const target = physicalTarget({ stanza: 'app', pgData: '/pg', cipherPass: { env: 'C' } });
    assert.throws(() => renderPgbackrestConfig(target, { type: 'posix', path: '/r' }, {}), /the repository cipher pass is missing/);
    for (const bad of ['pass\nrepo1-path=/elsewhere', ' padded', 'tab\there']) {
      assert.throws(
        () => renderPgbackrestConfig(target, { type: 'posix', path: '/r' }, { cipherPass: bad }),
        (error: Error) => /repository cipher pass holds a line break, a control character or leading\/trailing spaces/.test(error.message) && !error.message.includes(bad),
      );
    }
    const s3 = physicalTarget({ stanza: 'app', pgData: '/pg', repository: s3Repository });
    assert.throws(() => renderPgbackrestConfig(s3, s3.physical.repository!, { s3AccessKeyId: 'k' }), /the S3 secret access key is missing/);
  });
});

describe('the config file', () => {
  test('is written with mode 0600 in a directory of its own (0700), and removed after use', async () => {
    const parent = await tempDir('pgbackrest-config');
    try {
      const written = await writePgbackrestConfig('[global]\nrepo1-path=/r\n', { parentDir: parent.path });
      assert.equal((await stat(written.file)).mode & 0o777, 0o600);
      assert.equal((await stat(written.dir)).mode & 0o777, 0o700);
      assert.match(written.dir, /\/ragops-pgbackrest-[^/]+$/);
      await written.remove();
      await assert.rejects(stat(written.dir), { code: 'ENOENT' });

      let seen = '';
      await assert.rejects(
        withPgbackrestConfig('x=1\n', async (file) => {
          seen = file;
          assert.equal((await stat(file)).mode & 0o777, 0o600);
          throw new Error('the command failed');
        }, { parentDir: parent.path }),
        /the command failed/,
      );
      await assert.rejects(stat(seen), { code: 'ENOENT' });
    } finally {
      await parent.remove();
    }
  });

  test('the mode holds whatever the umask', async () => {
    const parent = await tempDir('pgbackrest-umask');
    const previous = process.umask(0o000);
    try {
      const written = await writePgbackrestConfig('x=1\n', { parentDir: parent.path });
      assert.equal((await stat(written.file)).mode & 0o777, 0o600);
      await written.remove();
    } finally {
      process.umask(previous);
      await parent.remove();
    }
  });
});
