import { z } from 'zod';
import { componentLabel, databaseName, hostName, roleName, s3BucketName, s3KeyPrefix } from '../names.js';
import { secretRef } from '../secretRef.js';

export const sanityCheckSchema = z
  .object({
    name: z.string().min(1),
    /** One statement, run read-only in the restored scratch database; the first column of the first row is compared. */
    sql: z.string().min(1),
    expect: z.union([z.string(), z.number(), z.boolean()]),
    /** The statement's `statement_timeout`: past it the check fails (the drill goes on). */
    timeoutSeconds: z.number().int().min(1).max(3600).default(60),
  })
  .strict();
export type SanityCheck = z.infer<typeof sanityCheckSchema>;

// pgBackRest names and paths end up in argv, in the rendered pgbackrest.conf and in the
// archive_command the server runs through a shell: no spaces, quotes or shell syntax.
export const pgbackrestStanzaName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'stanza names are letters, digits, ".", "-" and "_", starting with a letter or digit (max 63)');

export const safeAbsolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of letters, digits, ".", "-", "_" and "/"')
  .refine((path) => !path.split('/').includes('..'), 'a path without ".." segments');

function hasNoPathOrQuery(url: string): boolean {
  try {
    const parsed = new URL(url);
    return ['', '/'].includes(parsed.pathname) && !parsed.search;
  } catch {
    return true; // zod runs this check on a value the URL check refused, and that one already says why
  }
}

const pgbackrestPosixRepositorySchema = z.object({ type: z.literal('posix'), path: safeAbsolutePath }).strict();

const pgbackrestS3RepositorySchema = z
  .object({
    type: z.literal('s3'),
    bucket: s3BucketName,
    /** Rendered as pgBackRest's repo1-path: "/" + the prefix without its trailing "/". */
    prefix: s3KeyPrefix,
    /** Default: AWS's s3.<region>.amazonaws.com. */
    endpoint: z
      .url({ protocol: /^https$/, hostname: /^[A-Za-z0-9.-]+$/, error: 'an https:// URL (pgBackRest talks to S3 over TLS only)' })
      .refine(hasNoPathOrQuery, 'an endpoint URL without a path or query')
      .optional(),
    region: z.string().regex(/^[a-z0-9-]{1,64}$/, 'a region name such as us-east-1').default('us-east-1'),
    /** Path-style URLs (bucket in the path), as MinIO and moto want. */
    forcePathStyle: z.boolean().default(false),
    accessKeyId: secretRef,
    secretAccessKey: secretRef,
    /** false only for a test endpoint with a self-signed certificate. */
    verifyTls: z.boolean().default(true),
  })
  .strict();

export const pgbackrestRepositorySchema = z.discriminatedUnion('type', [pgbackrestPosixRepositorySchema, pgbackrestS3RepositorySchema]);
export type PgbackrestRepository = z.infer<typeof pgbackrestRepositorySchema>;

/** Physical backups and point-in-time recovery of the target's cluster, driven through pgBackRest. */
export const postgresPhysicalSchema = z
  .object({
    stanza: pgbackrestStanzaName,
    /** Default: a posix repository in the stack's fs store (an s3 store needs it spelled out). */
    repository: pgbackrestRepositorySchema.optional(),
    /** Encrypts the repository (aes-256-cbc); fixed at stanza-create, so it must never change afterwards. */
    cipherPass: secretRef.optional(),
    /** The cluster's data directory on the worker's host, as the server reports it in `SHOW data_directory`. */
    pgData: safeAbsolutePath,
    /** The server's Unix socket directory; default: the target's host when that is a socket directory, else pgBackRest's own default. */
    socketPath: safeAbsolutePath.optional(),
    /**
     * The OS user that owns pgData, as whom pgBackRest runs (it reads the data directory, and
     * the server's archive-push writes the same repository); unset: the worker's own user.
     * The worker switches with `runuser` when it runs as root, else `sudo -n`.
     */
    osUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'an OS user name').optional(),
    /** The PostgreSQL server binaries (pg_ctl) for scratch and restored servers; default /usr/lib/postgresql/<major>/bin. */
    binDir: safeAbsolutePath.optional(),
    retentionFull: z.number().int().min(1).max(9_999_999).default(2),
    /** Unset: differential backups live as long as the full backup they depend on. */
    retentionDiff: z.number().int().min(1).max(9_999_999).optional(),
    /** The tables a point-in-time drill counts exactly (`schema.table`); unset: every user table, within `drillCountSeconds`. */
    drillTables: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/, 'schema.table')).min(1).optional(),
    /** How long a drill may spend counting rows (default 600); past it the count is inconclusive, naming what was left. */
    drillCountSeconds: z.number().int().min(1).max(24 * 3600).optional(),
  })
  .strict();
export type PostgresPhysical = z.infer<typeof postgresPhysicalSchema>;

export const postgresTargetSchema = z
  .object({
    name: componentLabel.describe('label used in manifests and artifact keys'),
    host: hostName.default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    database: databaseName,
    user: roleName.default('postgres'),
    password: secretRef.optional(),
    /** As libpq's: `require` encrypts without checking the certificate (unless `sslrootcert` is set, then as `verify-ca`). */
    sslmode: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
    /** Paths on the worker's host: the CA that signs the server's certificate, and a client certificate and its key. */
    sslrootcert: z.string().min(1).optional(),
    sslcert: z.string().min(1).optional(),
    sslkey: z.string().min(1).optional(),
    sanityChecks: z.array(sanityCheckSchema).default([]),
    physical: postgresPhysicalSchema.optional(),
    /**
     * The column whose newest value says how recent the data is (e.g. public.documents.updated_at):
     * a point-in-time drill reports it as the recovered point, and RPO is measured against it.
     */
    freshness: z
      .object({
        table: z.string().regex(/^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/, 'a table name, optionally schema-qualified'),
        column: z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, 'a column name'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((target) => !target.sslcert === !target.sslkey, { message: 'sslcert and sslkey go together', path: ['sslkey'] });
export type PostgresTarget = z.infer<typeof postgresTargetSchema>;

/** A target whose cluster pgBackRest backs up. */
export type PhysicalPostgresTarget = PostgresTarget & { physical: PostgresPhysical };
export const hasPhysical = (target: PostgresTarget): target is PhysicalPostgresTarget => target.physical !== undefined;
