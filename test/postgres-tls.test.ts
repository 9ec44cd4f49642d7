import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startPgCluster, type PgCluster } from './support/pgcluster.js';

describe('Postgres with scram-sha-256 over TLS, on a cluster of the test', () => {
  let cluster: PgCluster;

  before(async () => {
    cluster = await startPgCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('the cluster takes only TLS with a password, and its certificate verifies against the CA', async () => {
    const client = await cluster.connect();
    const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(rows[0]?.ssl, true);
    await client.end();
    const plain = new pg.Client({ host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.superuser.password, database: 'postgres' });
    plain.on('error', () => undefined);
    await assert.rejects(plain.connect(), /no pg_hba.conf entry.*no encryption/);
  });
});
