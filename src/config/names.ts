import { z } from 'zod';
import { backupIdPattern } from '../core/storeKeys.js';

// Names that come from inputs or the stacks file end up in URLs, SQL identifiers and argv
// arrays: each is held to a conservative pattern so none can carry shell or path syntax.
export const stackName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'stack names are lower-case letters, digits, "-" and "_" (max 63)');

export const componentLabel = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'labels are lower-case letters, digits, "-" and "_" (max 63)');

export const collectionName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/, 'collection names are letters, digits, "-" and "_" (max 255)');

export const databaseName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, 'database names are letters, digits, "-" and "_", not starting with a digit (max 63)');

export const roleName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, 'role names are letters, digits, "-" and "_" (max 63)');

export const hostName = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,253}$|^\/[A-Za-z0-9._/-]+$/, 'a host name, IP address or Unix socket directory');

export const backupId = z.string().regex(backupIdPattern, 'a backup id looks like 20261124T051500Z-1a2b3c4d');

export const s3BucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name');

/** A key prefix of letters, digits, ".", "_" and "-" segments, each ending in "/" (or empty). */
export const s3KeyPrefix = z
  .string()
  .regex(/^([A-Za-z0-9._-]+\/)*$/, 'a key prefix ending in "/" (or empty)')
  .default('');
