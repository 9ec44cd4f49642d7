import { z } from 'zod';
import { componentLabel, s3BucketName } from '../names.js';
import { secretRef } from '../secretRef.js';
import { embedderName, embedderSchema } from './embedders.js';

// The stacks file's `reingest` section: where re-ingestion reads rows (a PostgreSQL query in
// keyset pages, or JSONL objects in S3), the embedders it may use, the golden queries and the
// gate that decides whether the new collection replaces the live one.
// One embedder's schema lives in ./embedders.ts; this section names them.

/** SQL column names, quoted as identifiers where they are used. */
export const columnName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a column name: letters, digits and "_", not starting with a digit (max 63)');

/** A JSONL field name (top-level key of each line). */
export const jsonFieldName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,127}$/, 'a field name: letters, digits, "_" and "-", not starting with a digit (max 128)');

/**
 * The source query, keyset-paged as `SELECT * FROM (<query>) AS source WHERE <key> > $1 ORDER BY <key> LIMIT $2`:
 * one SELECT (or WITH/VALUES/TABLE), no ";" (it is a subquery), no `$n` parameters of its own.
 */
export const sourceQuery = z
  .string()
  .min(1)
  .max(20_000)
  .refine((sql) => /^\s*(select|with|values|table)\b/i.test(sql), 'one SELECT statement (or WITH ... SELECT): it is run as a subquery')
  .refine((sql) => !sql.includes(';'), 'no ";": the query is run as a subquery of the keyset page, so it is one statement without a terminator')
  .refine((sql) => !/\$\d/.test(sql), 'no $1-style parameters: the keyset page supplies its own');

const s3LocationSchema = z
  .object({
    bucket: s3BucketName,
    /** Objects whose keys start with this are read, in key order; empty: the whole bucket. */
    prefix: z
      .string()
      .regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9._\/=-]*$/, 'a key prefix: letters, digits, ".", "_", "-", "=" and "/", not starting with "/", no ".."')
      .default(''),
    /** Connection settings; without them, the stack's S3 store's are used (when its store is S3). */
    region: z.string().min(1).optional(),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    forcePathStyle: z.boolean().optional(),
    accessKeyId: secretRef.optional(),
    secretAccessKey: secretRef.optional(),
  })
  .strict()
  .refine((s3) => !s3.accessKeyId === !s3.secretAccessKey, { message: 'accessKeyId and secretAccessKey go together', path: ['secretAccessKey'] });

/** What a source may say, both kinds at once, so that a mistake is named by its field. */
const sourceFields = z
  .object({
    /** A database label of this stack (its `postgres` list). */
    postgres: componentLabel.optional(),
    query: sourceQuery.optional(),
    s3: s3LocationSchema.optional(),
    /** The unique, ordered key: the keyset column (PostgreSQL) or JSON field (S3, default `id`). */
    key: z.string().optional(),
    /** The text that is embedded: a column, or a JSON field (S3, default `text`). */
    text: z.string().optional(),
    /** Columns or fields copied into each point's payload. */
    payload: z.array(z.string()).default([]),
    /** A timestamp column; with it, a catch-up pass re-reads rows changed during the ingestion. PostgreSQL only. */
    updatedAt: z.string().optional(),
  })
  .strict();

export interface PostgresSource {
  kind: 'postgres';
  postgres: string;
  query: string;
  key: string;
  text: string;
  payload: string[];
  updatedAt?: string;
}

export interface S3Source {
  kind: 's3';
  s3: z.infer<typeof s3LocationSchema>;
  key: string;
  text: string;
  payload: string[];
}

export type ReingestSource = PostgresSource | S3Source;

export const reingestSourceSchema = sourceFields
  .superRefine((source, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if ((source.postgres === undefined) === (source.s3 === undefined)) {
      issue(source.postgres === undefined ? 'postgres' : 's3', 'a source reads either `postgres: <database label>` with a `query`, or `s3: { bucket, prefix }` (JSONL objects) — exactly one of them');
      return;
    }
    const name = source.postgres === undefined ? jsonFieldName : columnName;
    const check = (path: string, value: string | undefined) => {
      if (value === undefined) return;
      const parsed = name.safeParse(value);
      if (!parsed.success) issue(path, `"${value}" is not ${parsed.error.issues[0]?.message ?? 'a valid name'}`);
    };
    check('key', source.key);
    check('text', source.text);
    check('updatedAt', source.updatedAt);
    source.payload.forEach((field, index) => {
      const parsed = name.safeParse(field);
      if (!parsed.success) ctx.addIssue({ code: 'custom', path: ['payload', index], message: `"${field}" is not ${parsed.error.issues[0]?.message ?? 'a valid name'}` });
    });
    if (new Set(source.payload).size !== source.payload.length) issue('payload', 'a field is listed twice');
    if (source.postgres !== undefined) {
      if (source.query === undefined) issue('query', 'a PostgreSQL source needs the `query` whose rows are re-ingested');
      if (source.key === undefined) issue('key', 'a PostgreSQL source needs its `key` column: unique and ordered, the keyset pages follow it');
      if (source.text === undefined) issue('text', 'a PostgreSQL source needs its `text` column, the text that is embedded');
    } else {
      if (source.query !== undefined) issue('query', 'an S3 source has no query: its objects are JSONL, one row per line');
      if (source.updatedAt !== undefined) issue('updatedAt', 'the catch-up pass by `updatedAt` is for PostgreSQL sources only');
    }
  })
  .transform((source): ReingestSource => {
    if (source.postgres !== undefined) {
      return {
        kind: 'postgres',
        postgres: source.postgres,
        query: source.query!,
        key: source.key!,
        text: source.text!,
        payload: source.payload,
        ...(source.updatedAt === undefined ? {} : { updatedAt: source.updatedAt }),
      };
    }
    return { kind: 's3', s3: source.s3!, key: source.key ?? 'id', text: source.text ?? 'text', payload: source.payload };
  });

/** A golden query and the source keys that must come back in its top k. */
export const goldenQuerySchema = z
  .object({
    query: z.string().min(1).max(8192),
    expect: z
      .array(z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().min(1).max(1024)]))
      .min(1, 'list the source keys (ids) this query must find'),
  })
  .strict();
export type GoldenQuery = z.infer<typeof goldenQuerySchema>;

const share = z.number().min(0).max(1);

export const reingestGateSchema = z
  .object({
    /** Results compared per query. */
    k: z.number().int().min(1).max(100).default(10),
    /** Mean recall@k over the golden set that the new collection must reach. */
    minRecall: share.default(0.9),
    /** Mean share of the live collection's top k the new one must also return; unset: not checked. */
    minOverlapWithLive: share.optional(),
  })
  .strict();
export type ReingestGate = z.infer<typeof reingestGateSchema>;

export const reingestSchema = z
  .object({
    sources: z.record(componentLabel, reingestSourceSchema).default({}),
    embedders: z.record(embedderName, embedderSchema).default({}),
    golden: z.array(goldenQuerySchema).default([]),
    gate: reingestGateSchema.default({ k: 10, minRecall: 0.9 }),
  })
  .strict()
  .superRefine((section, ctx) => {
    section.golden.forEach((golden, index) => {
      if (golden.expect.length > section.gate.k) {
        ctx.addIssue({ code: 'custom', path: ['golden', index, 'expect'], message: `${golden.expect.length} expected keys cannot all be in the top ${section.gate.k} (gate.k)` });
      }
    });
  });
export type ReingestConfig = z.infer<typeof reingestSchema>;

/**
 * What the stack-level schema must check across sections (call it from the stack's superRefine,
 * with path prefix ['reingest']): each PostgreSQL source names one of the stack's databases, and
 * an S3 source without its own endpoint and keys needs the stack's store to be S3.
 */
export function reingestReferenceIssues(
  section: ReingestConfig,
  stack: { postgresLabels: readonly string[]; storeType: string },
): Array<{ path: Array<string | number>; message: string }> {
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  for (const [name, source] of Object.entries(section.sources)) {
    if (source.kind === 'postgres' && !stack.postgresLabels.includes(source.postgres)) {
      issues.push({ path: ['sources', name, 'postgres'], message: `"${source.postgres}" is not a database label of this stack (${stack.postgresLabels.join(', ') || 'none defined'})` });
    }
    if (source.kind === 's3' && source.s3.endpoint === undefined && source.s3.accessKeyId === undefined && stack.storeType !== 's3') {
      issues.push({ path: ['sources', name, 's3'], message: "give the S3 source's endpoint (and keys, or the default AWS chain is used): the stack's store is not S3, so there are no settings to borrow" });
    }
  }
  return issues;
}
