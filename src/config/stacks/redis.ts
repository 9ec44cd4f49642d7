import { z } from 'zod';
import { componentLabel, hostName } from '../names.js';
import { secretRef } from '../secretRef.js';
import { kubeName } from './deploy.js';

/** An absolute path to the RDB file (Redis' `dir` + `dbfilename`), on the worker's host or inside a container. */
const rdbPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/@+-]*$/, 'an absolute path (letters, digits and . _ / @ + -), e.g. /data/dump.rdb')
  .refine((path) => !path.split('/').includes('..'), 'a path without ".." segments');

/** A container name or id as Docker accepts it. */
const containerName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, 'a container name or id: letters, digits, "_", "." and "-"');

/** A Compose project or service name (Compose lower-cases projects; services keep their case). */
const composeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a Compose name: letters, digits, "_", "." and "-"');

/**
 * Where the RDB file is read after BGSAVE: a path on the worker's host; a container of a
 * Compose project (found by its labels, then `docker exec … cat`); a named container
 * (`docker exec … cat`); or a pod (`kubectl exec … -- cat`), named or the first of a deployment.
 */
const rdbSourceSchema = z.union([
  z.object({ path: rdbPath }).strict(),
  z
    .object({
      compose: z
        .object({
          /** The Compose project name (`docker compose -p`, the `com.docker.compose.project` label). */
          project: composeName,
          service: composeName,
          path: rdbPath,
        })
        .strict(),
    })
    .strict(),
  z.object({ docker: z.object({ container: containerName, path: rdbPath }).strict() }).strict(),
  z
    .object({
      kubernetes: z
        .object({
          kubeconfig: z.string().min(1).optional(),
          context: z.string().min(1).optional(),
          namespace: kubeName,
          pod: kubeName.optional(),
          deployment: kubeName.optional(),
          container: kubeName.optional(),
          path: rdbPath,
        })
        .strict()
        .refine((k) => (k.pod === undefined) !== (k.deployment === undefined), { message: 'name exactly one of pod or deployment', path: ['pod'] }),
    })
    .strict(),
], { error: 'rdb is one of { path }, { compose: { project, service, path } }, { docker: { container, path } } or { kubernetes: { namespace, pod | deployment, container?, path } }' });
export type RedisRdbSource = z.infer<typeof rdbSourceSchema>;

export const redisTargetSchema = z
  .object({
    name: componentLabel.describe('label used in manifests and artifact keys'),
    host: hostName.default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(6379),
    /** The database the stack uses (restore into a new Redis); the RDB and the drill cover every database. */
    db: z.number().int().min(0).max(65535).optional(),
    /** An ACL user (Redis 6+); without it, AUTH with the password alone (requirepass or the default user). */
    username: z.string().regex(/^[A-Za-z0-9_.@-]{1,128}$/, 'an ACL user name').optional(),
    password: secretRef.optional(),
    /** TLS with the system's CAs, or `tlsCa` (a path on the worker's host). */
    tls: z.boolean().default(false),
    tlsCa: z.string().min(1).optional(),
    rdb: rdbSourceSchema,
  })
  .strict()
  .refine((target) => target.tls || target.tlsCa === undefined, { message: 'tlsCa needs tls: true', path: ['tlsCa'] })
  .refine((target) => target.password !== undefined || target.username === undefined, { message: 'username needs a password reference', path: ['password'] });
export type RedisTarget = z.infer<typeof redisTargetSchema>;
