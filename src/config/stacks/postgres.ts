import { z } from 'zod';
import { componentLabel, databaseName, hostName, roleName } from '../names.js';
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
  })
  .strict()
  .refine((target) => !target.sslcert === !target.sslkey, { message: 'sslcert and sslkey go together', path: ['sslkey'] });
export type PostgresTarget = z.infer<typeof postgresTargetSchema>;
