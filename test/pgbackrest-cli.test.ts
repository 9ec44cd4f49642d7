import { execa } from 'execa';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './support/ragops.js';

const RAGOPS = fileURLToPath(new URL('../bin/ragops.mjs', import.meta.url));

function ragops(args: string[], cwd: string) {
  // No TEMPORAL_* and an unreachable address: setup only prints, it contacts nothing.
  return execa(process.execPath, [RAGOPS, ...args], { cwd, env: { TEMPORAL_ADDRESS: '127.0.0.1:1', PGBR_KEY: 'AKIA-NEVER-PRINTED', PGBR_CIPHER: 'cipher-never-printed' }, reject: false, all: true });
}

const stacksFile = `
stacks:
  prod:
    store: { type: fs, path: ./backups }
    postgres:
      - name: app
        database: app
        host: /var/run/postgresql
        physical: { stanza: prod-app, pgData: /var/lib/postgresql/15/main, cipherPass: { env: PGBR_CIPHER } }
      - name: logical-only
        database: other
  cloud:
    store: { type: fs, path: /srv/backups }
    postgres:
      - name: app
        database: app
        physical:
          stanza: cloud-app
          pgData: /pg
          repository: { type: s3, bucket: rag-wal, prefix: wal/, accessKeyId: { env: PGBR_KEY }, secretAccessKey: { file: /run/secrets/pgbr } }
      - name: on-s3-store
        database: x
        physical: { stanza: x, pgData: /pg }
  s3store:
    store: { type: s3, bucket: rag-backups }
    postgres:
      - name: app
        database: app
        physical: { stanza: s3-app, pgData: /pg }
`;

describe('ragops pitr setup', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await tempDir('pitr-cli');
    await writeFile(join(dir.path, 'ragops.yaml'), stacksFile);
  });
  after(async () => dir?.remove());

  test('prints the config to install, stanza-create, the archive_command and check, in order', async () => {
    const result = await ragops(['pitr', 'setup', '--stack', 'prod', '--database', 'app'], dir.path);
    assert.equal(result.exitCode, 0, result.all);
    const out = result.stdout as string;
    const config = '/etc/pgbackrest/ragops-prod-app.conf';
    assert.match(out, /^Point-in-time recovery of prod\/app \(database app, stanza prod-app\): run once$/m);
    assert.match(out, new RegExp(`^1\\. .*write ${config}, owned by the OS user that owns /var/lib/postgresql/15/main, mode 0600:$`, 'm'));
    assert.match(out, new RegExp(`^   repo1-path=${dir.path}/backups/_pgbackrest$`, 'm'));
    assert.match(out, /^   repo1-cipher-pass=<the value of environment variable PGBR_CIPHER>$/m);
    assert.match(out, /^   \[prod-app\]\n   pg1-path=\/var\/lib\/postgresql\/15\/main\n   pg1-port=5432\n   pg1-user=postgres\n   pg1-socket-path=\/var\/run\/postgresql$/m);
    assert.match(out, new RegExp(`^2\\. Create the stanza prod-app, as that OS user:\\n   pgbackrest --config=${config} --stanza=prod-app stanza-create$`, 'm'));
    assert.match(out, new RegExp(`^   ALTER SYSTEM SET archive_command = 'pgbackrest --config=${config} --stanza=prod-app archive-push %p';$`, 'm'));
    assert.match(out, new RegExp(`^4\\. Check .*:\\n   pgbackrest --config=${config} --stanza=prod-app check$`, 'm'));
    assert.doesNotMatch(out, /never-printed/);
  });

  test('an s3 repository: the secrets as where they come from, another config path when asked', async () => {
    const result = await ragops(['pitr', 'setup', '--stack', 'cloud', '--database', 'app', '--pgbackrest-config', '/etc/pgbackrest/cloud.conf'], dir.path);
    assert.equal(result.exitCode, 0, result.all);
    const out = result.stdout as string;
    assert.match(out, /\(S3 repository s3:\/\/rag-wal\/wal\/; fill in the secrets where shown\)/);
    assert.match(out, /^   repo1-s3-key=<the value of environment variable PGBR_KEY>$/m);
    assert.match(out, /^   repo1-s3-key-secret=<the value of secret file \/run\/secrets\/pgbr>$/m);
    assert.match(out, /--config=\/etc\/pgbackrest\/cloud\.conf --stanza=cloud-app archive-push %p/);
    assert.doesNotMatch(out, /never-printed/);
  });

  test('bad input exits 2 and says what is wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--stack', 'nope', '--database', 'app'], /unknown stack "nope"; the stacks file defines: prod, cloud, s3store/],
      [['--stack', 'prod', '--database', 'missing'], /stack prod has no postgres target "missing"; it has: app, logical-only/],
      [['--stack', 'prod', '--database', 'logical-only'], /postgres target "logical-only" of stack prod has no physical section/],
      [['--stack', 's3store', '--database', 'app'], /the stack's store is S3, so physical.repository must say where/],
      [['--stack', 'prod', '--database', 'app', '--pgbackrest-config', '/etc/pg backrest.conf'], /--pgbackrest-config "\/etc\/pg backrest.conf": an absolute path/],
    ];
    for (const [args, message] of cases) {
      const result = await ragops(['pitr', 'setup', ...args], dir.path);
      assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.all}`);
      assert.match(result.all ?? '', message);
    }
    await writeFile(join(dir.path, 'bad.yaml'), 'stacks:\n  p:\n    store: { type: fs, path: /b }\n    postgres: [{ name: a, database: a, physical: { stanza: "a b", pgData: /pg } }]\n');
    const bad = await ragops(['pitr', 'setup', '--stack', 'p', '--database', 'a', '--config', 'bad.yaml'], dir.path);
    assert.equal(bad.exitCode, 2, bad.all);
    assert.match(bad.all ?? '', /stacks\.p\.postgres\[0\]\.physical\.stanza.*stanza names are/);
  });

  test('--apply with bad input exits 2 before it writes or runs anything', async () => {
    const result = await ragops(['pitr', 'setup', '--stack', 'prod', '--database', 'logical-only', '--apply', '--pgbackrest-config', join(dir.path, 'never.conf')], dir.path);
    assert.equal(result.exitCode, 2, result.all);
    assert.doesNotMatch(result.stdout as string, /Setting up/);
    await assert.rejects(readFile(join(dir.path, 'never.conf')), { code: 'ENOENT' });
  });
});

describe('ragops pitr status', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await tempDir('pitr-status-cli');
    await writeFile(join(dir.path, 'ragops.yaml'), `${stacksFile}  logical:\n    store: { type: fs, path: ./b }\n    postgres: [{ name: app, database: app }]\n`);
  });
  after(async () => dir?.remove());

  test('bad input exits 2 and says what is wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--stack', 'nope'], /unknown stack "nope"/],
      [['--stack', 'prod', '--database', 'logical-only'], /postgres target "logical-only" of stack prod has no physical section/],
      [['--stack', 'logical'], /stack logical has no postgres target with a physical section/],
    ];
    for (const [args, message] of cases) {
      const result = await ragops(['pitr', 'status', ...args], dir.path);
      assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.all}`);
      assert.match(result.all ?? '', message);
    }
  });
});
