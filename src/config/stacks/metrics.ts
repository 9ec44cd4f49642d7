import { z } from 'zod';
import { secretRef } from '../secretRef.js';
import { httpHeadersSchema } from './deploy.js';

// Canary analysis metrics: a provider (prometheus, http-json, probe) and the range a good
// value lies in. One measurement is judged passed, failed (outside the range) or
// inconclusive (no value, NaN, too few samples); the canary loop counts failures and
// inconclusive results against the limits below. Secrets are references, resolved inside
// the measuring activity only.

/** The placeholders a Prometheus query may hold; their values are checked before substitution. */
export const QUERY_PLACEHOLDERS = ['service', 'canary', 'stable', 'interval'] as const;
export type QueryPlaceholder = (typeof QUERY_PLACEHOLDERS)[number];
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** A PromQL template: `{{service}}`, `{{canary}}`, `{{stable}}`, `{{interval}}` and nothing else between braces. */
const queryTemplate = z
  .string()
  .min(1)
  .max(8192)
  .superRefine((query, ctx) => {
    for (const match of query.matchAll(PLACEHOLDER)) {
      if (!(QUERY_PLACEHOLDERS as readonly string[]).includes(match[1]!)) {
        ctx.addIssue({ code: 'custom', message: `unknown placeholder ${match[0]}: a query may use ${QUERY_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}` });
      }
    }
  });

/**
 * A JSONPath-like path into a JSON answer: `a.b[0].c`, optionally starting with `$` / `$.`;
 * names are letters, digits, `_` and `-`, or quoted in brackets (`a["x.y"]`).
 */
export const JSON_PATH = /^(?:\$\.?)?(?:[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\["[^"\\]+"\])(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\["[^"\\]+"\])*$/;
const jsonPath = z.string().max(512).regex(JSON_PATH, 'a path like a.b[0].c (names, [index], ["quoted name"])');

const httpUrl = z.url({ protocol: /^https?$/ });
/** Request headers as health checks take them: name → a plain value or a secret reference. */
const headersSchema = httpHeadersSchema.optional();

const prometheusAuthSchema = z.union([
  z.object({ bearer: secretRef }).strict(),
  z.object({ username: z.string().min(1).max(256).regex(/^[^:\r\n]+$/, 'a user name without ":" or line breaks'), password: secretRef }).strict(),
]);
export type PrometheusAuth = z.infer<typeof prometheusAuthSchema>;

const prometheusProviderSchema = z
  .object({
    type: z.literal('prometheus'),
    /** The server's base URL (the API is at `<url>/api/v1/query`). */
    url: httpUrl,
    /** An instant query giving one number (a scalar, or a vector of exactly one series). */
    query: queryTemplate,
    /** An instant query counting the requests the value is based on; below `minRequests` the result is inconclusive. */
    minRequestsQuery: queryTemplate.optional(),
    minRequests: z.number().nonnegative().optional(),
    auth: prometheusAuthSchema.optional(),
    timeoutSeconds: z.number().positive().max(300).default(30),
  })
  .strict()
  .superRefine((provider, ctx) => {
    if ((provider.minRequestsQuery === undefined) !== (provider.minRequests === undefined)) {
      ctx.addIssue({ code: 'custom', path: [provider.minRequests === undefined ? 'minRequests' : 'minRequestsQuery'], message: 'minRequestsQuery and minRequests go together: the query counts requests, minRequests is the least count to judge on' });
    }
  });

const httpJsonProviderSchema = z
  .object({
    type: z.literal('http-json'),
    url: httpUrl,
    /** Where the number is in the JSON answer, e.g. `stats.errorRate` or `data.result[0].value`. */
    path: jsonPath,
    /** Where the count of samples behind the value is, for `minSamples`. */
    samplesPath: jsonPath.optional(),
    headers: headersSchema,
    timeoutSeconds: z.number().positive().max(300).default(30),
  })
  .strict();

const probeProviderSchema = z
  .object({
    type: z.literal('probe'),
    /** The canary's URL, probed by ragops itself. */
    url: httpUrl,
    /** The stable version's URL, probed the same way for comparison (reported in the detail). */
    stableUrl: httpUrl.optional(),
    /** Requests per measurement (and per URL). */
    requests: z.number().int().min(1).max(10_000).default(20),
    /** Requests in flight at once, per URL. */
    concurrency: z.number().int().min(1).max(100).default(5),
    expectStatus: z.number().int().min(100).max(599).default(200),
    bodyIncludes: z.string().min(1).optional(),
    /** A request slower than this counts as an error. */
    latencyBudgetMs: z.number().int().positive().optional(),
    /** One request's bound; a request that runs out of it is an error. */
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
    headers: headersSchema,
    /** What the measurement's value is: the share of errors (0–1) or a latency percentile in ms. */
    measure: z.enum(['errorRate', 'p50', 'p95']),
  })
  .strict();

export const metricProviderSchema = z.discriminatedUnion('type', [prometheusProviderSchema, httpJsonProviderSchema, probeProviderSchema]);
export type MetricProvider = z.infer<typeof metricProviderSchema>;
export type PrometheusProvider = z.infer<typeof prometheusProviderSchema>;
export type HttpJsonProvider = z.infer<typeof httpJsonProviderSchema>;
export type ProbeProvider = z.infer<typeof probeProviderSchema>;

export const thresholdRangeSchema = z
  .object({ min: z.number().optional(), max: z.number().optional() })
  .strict()
  .refine((range) => range.min !== undefined || range.max !== undefined, 'give min, max or both')
  .refine((range) => range.min === undefined || range.max === undefined || range.min <= range.max, 'min is above max');
export type ThresholdRange = z.infer<typeof thresholdRangeSchema>;

export const metricSchema = z
  .object({
    name: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9 _.:-]*$/, 'a metric name: letters, digits, spaces and _.:-'),
    provider: metricProviderSchema,
    /** Good values lie in [min, max]; a value outside is a failed measurement. */
    thresholdRange: thresholdRangeSchema,
    /** Failed measurements tolerated; one more rolls the canary back. */
    failureLimit: z.number().int().min(0).default(0),
    /** Inconclusive measurements in a row that pause the canary with the reason (never promote on missing data). */
    inconclusiveLimit: z.number().int().min(1).default(1),
    /** The fewest samples (probe requests, series or requests counted) a value may rest on. */
    minSamples: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((metric, ctx) => {
    if (metric.minSamples !== undefined && metric.provider.type === 'http-json' && metric.provider.samplesPath === undefined) {
      ctx.addIssue({ code: 'custom', path: ['minSamples'], message: 'an http-json metric needs provider.samplesPath to count its samples' });
    }
  });
export type MetricConfig = z.infer<typeof metricSchema>;
/** A metric as written in the stacks file, before defaults. */
export type MetricConfigInput = z.input<typeof metricSchema>;
