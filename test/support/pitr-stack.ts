// A stack whose PostgreSQL is a cluster of the test's own that archives its WAL with
// pgBackRest (startArchivingCluster), with the `physical` section ragops drives: the stanza
// created, a database with an `events` table whose created_at is the freshness column.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PgbackrestRepository } from '../../src/config/stacks/index.js';
import { stanzaCreateCommand, checkCommand } from '../../src/activities/pgbackrest/commands.js';
import { startArchivingCluster, type ArchivingCluster } from './pgbackrest.js';

export interface PitrStack {
  pitr: ArchivingCluster;
  database: string;
  /** The env var holding the superuser's password, and its value. */
  password: { env: string; value: string };
  /** The stacks file's stack, with `store` as given. */
  stack(store: unknown, extra?: Record<string, unknown>): Record<string, unknown>;
  /** The environment a worker process needs to resolve the stack's secrets. */
  secretEnv(): Record<string, string>;
  connect(): Promise<pg.Client>;
  /** Inserts one event now, switches the WAL and waits until the segment is archived; returns its created_at. */
  insertEvent(client: pg.Client, body: string): Promise<Date>;
  stop(): Promise<void>;
}

export async function startPitrStack(stanza: string, options: { repository?: PgbackrestRepository; retentionFull?: number } = {}): Promise<PitrStack> {
  const pitr = await startArchivingCluster(stanza, options);
  const password = { env: `RAGOPS_TEST_PITR_PW_${randomBytes(4).toString('hex').toUpperCase()}`, value: pitr.cluster.superuser.password };
  process.env[password.env] = password.value;
  const database = 'shop';
  try {
    await pitr.run(stanzaCreateCommand(pitr.invocation));
    await pitr.run(checkCommand(pitr.invocation));
    const admin = await pitr.cluster.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const db = await pitr.cluster.connect(database);
    await db.query('CREATE TABLE events (id serial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp())');
    await db.end();
  } catch (error) {
    await pitr.stop();
    throw error;
  }
  const { target } = pitr;
  return {
    pitr,
    database,
    password,
    stack: (store, extra = {}) => ({
      postgres: [
        {
          name: 'app',
          host: '127.0.0.1',
          port: target.port,
          database,
          user: 'postgres',
          password: { env: password.env },
          freshness: { table: 'public.events', column: 'created_at' },
          physical: { ...target.physical, osUser: 'postgres', retentionFull: options.retentionFull ?? 1 },
        },
      ],
      store,
      ...extra,
    }),
    secretEnv: () => {
      const env: Record<string, string> = { [password.env]: password.value, [pitr.cipherPass.env]: pitr.cipherPass.value };
      const repository = target.physical.repository;
      if (repository?.type === 's3') {
        for (const ref of [repository.accessKeyId, repository.secretAccessKey]) if ('env' in ref) env[ref.env] = process.env[ref.env]!;
      }
      return env;
    },
    connect: () => pitr.cluster.connect(database),
    async insertEvent(client, body) {
      const { rows } = await client.query<{ created_at: Date }>('INSERT INTO events (body) VALUES ($1) RETURNING created_at', [body]);
      const { rows: switched } = await client.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment');
      const segment = switched[0]!.segment;
      for (let i = 0; i < 200; i++) {
        const { rows: archived } = await client.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
        if (archived[0]?.last && archived[0].last >= segment) return rows[0]!.created_at;
        await sleep(100);
      }
      throw new Error(`WAL segment ${segment} was not archived within 20 s`);
    },
    async stop() {
      await pitr.stop();
      delete process.env[password.env];
    },
  };
}

/** Processes whose argv mentions `fragment` (e.g. a scratch data directory): none may outlive a drill. */
export async function processesMentioning(fragment: string): Promise<string[]> {
  const { stdout } = await execa('ps', ['-eo', 'pid,args', '--no-headers']);
  return stdout.split('\n').filter((line) => line.includes(fragment) && !line.includes('ps -eo'));
}
