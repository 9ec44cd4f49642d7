// pgBackRest's S3 repository, as ragops renders it (path style, endpoint port, TLS verification
// off for a self-signed certificate, keys from secret references), against moto behind a
// TLS-terminating HAProxy (see test/support/pgbackrest-s3.ts for why not moto's own --ssl).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { backupCommand, checkCommand, infoCommand, stanzaCreateCommand, verifyCommand } from '../src/activities/pgbackrest/commands.js';
import { parsePgbackrestInfo } from '../src/activities/pgbackrest/info.js';
import { parsePgbackrestVerify } from '../src/activities/pgbackrest/verify.js';
import { startArchivingCluster, type ArchivingCluster } from './support/pgbackrest.js';
import { startTlsS3, type TlsS3 } from './support/pgbackrest-s3.js';

const STANZA = 'ragops-s3';
const BUCKET = 'pgbackrest-test';
// moto takes any key: a random one, since its own 'testing' is a word any argv may hold.
const S3_SECRET = `pgbr-s3-${randomBytes(12).toString('hex')}`;
const KEY_ENV = { id: `RAGOPS_TEST_PGBR_S3_ID_${randomBytes(3).toString('hex').toUpperCase()}`, secret: `RAGOPS_TEST_PGBR_S3_SECRET_${randomBytes(3).toString('hex').toUpperCase()}` };

describe('pgBackRest with an S3 repository', { timeout: 120_000 }, () => {
  let s3: TlsS3;
  let pitr: ArchivingCluster;
  before(async () => {
    s3 = await startTlsS3();
    await s3.moto.createBucket(BUCKET);
    process.env[KEY_ENV.id] = s3.moto.accessKeyId;
    process.env[KEY_ENV.secret] = S3_SECRET;
    pitr = await startArchivingCluster(STANZA, {
      repository: {
        type: 's3',
        bucket: BUCKET,
        prefix: 'stacks/prod/',
        endpoint: s3.endpoint,
        region: s3.moto.region,
        forcePathStyle: true,
        verifyTls: false,
        accessKeyId: { env: KEY_ENV.id },
        secretAccessKey: { env: KEY_ENV.secret },
      },
    });
  });
  after(async () => {
    await pitr?.stop();
    await s3?.stop();
    delete process.env[KEY_ENV.id];
    delete process.env[KEY_ENV.secret];
  });

  test('stanza-create, check (WAL pushed by the server), a full backup, info and verify', async () => {
    for (const spec of [stanzaCreateCommand(pitr.invocation), checkCommand(pitr.invocation), backupCommand(pitr.invocation, { type: 'full', startFast: true })]) {
      assert.ok(!spec.argv.some((arg) => arg.includes(S3_SECRET) || arg.includes(pitr.cipherPass.value)), spec.purpose);
      await pitr.run(spec);
    }
    const info = parsePgbackrestInfo((await pitr.run(infoCommand(pitr.invocation))).stdout, STANZA);
    assert.deepEqual(info.backups.map((backup) => backup.type), ['full']);
    assert.ok(info.archive && info.archive.maxWal >= info.backups[0]!.wal.stop, JSON.stringify(info.archive));
    const verified = await pitr.run(verifyCommand(pitr.invocation));
    assert.equal(parsePgbackrestVerify(verified.stdout, verified.stderr).status, 'ok', verified.stdout);
    const keys = await s3.moto.listKeys(BUCKET);
    assert.ok(keys.length > 0 && keys.every((key) => key.startsWith('stacks/prod/')), keys.slice(0, 5).join(', '));
    assert.ok(keys.some((key) => key.startsWith(`stacks/prod/archive/${STANZA}/`)) && keys.some((key) => key.startsWith(`stacks/prod/backup/${STANZA}/${info.backups[0]!.label}/`)));
  });
});
