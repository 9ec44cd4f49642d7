import { z } from 'zod';
import { httpHeadersSchema } from './deploy.js';
import { kubernetesShifterSchemas } from './trafficKubernetes.js';

// Traffic shifters: how a canary's share of traffic is set. One schema per type; the
// activities in src/activities/traffic/ (one file each) act on them. Each type validates its
// own fields; names that reach a proxy's command line or an admin API path are checked here,
// so nothing from the stacks file can add a command or a path segment.

/** HAProxy proxy and server names: letters, digits and -_.: (what HAProxy itself accepts). */
const haproxyName = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'an HAProxy backend or server name: letters, digits and -_.: only');

/** `tcp://host:port` (a `stats socket ipv4@host:port`) or the absolute path of a unix socket. */
const HAPROXY_SOCKET = /^(?:tcp:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}|\/[^\s\0]+)$/;

export const haproxyShifterSchema = z
  .object({
    type: z.literal('haproxy'),
    /** The runtime API: a stats socket declared with `level admin`. */
    socket: z.string().max(1024).regex(HAPROXY_SOCKET, 'tcp://host:port or the absolute path of a unix socket (HAProxy\'s `stats socket ... level admin`)'),
    backend: haproxyName,
    stableServer: haproxyName,
    canaryServer: haproxyName,
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.stableServer === s.canaryServer) ctx.addIssue({ code: 'custom', path: ['canaryServer'], message: 'the canary server must not be the stable one' });
  });
export type HaproxyShifter = z.infer<typeof haproxyShifterSchema>;

/** A Caddy upstream dial address: host:port (a name, an IPv4 address or a bracketed IPv6 one). */
const dialAddress = z
  .string()
  .max(300)
  .regex(/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/, 'an upstream address host:port, as Caddy dials it');

export const caddyShifterSchema = z
  .object({
    type: z.literal('caddy'),
    /** Caddy's admin endpoint (the `admin.listen` address), e.g. http://127.0.0.1:2019. */
    adminUrl: z.url({ protocol: /^https?$/ }),
    /** The `@id` of the route's reverse_proxy handler; its upstreams and weights are set through /id/<routeId>. */
    routeId: z
      .string()
      .max(128)
      .regex(/^[A-Za-z0-9_.:-]+$/, 'a Caddy @id: letters, digits and -_.: only'),
    stable: dialAddress,
    canary: dialAddress,
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.stable === s.canary) ctx.addIssue({ code: 'custom', path: ['canary'], message: 'the canary upstream must not be the stable one' });
  });
export type CaddyShifter = z.infer<typeof caddyShifterSchema>;

export const WEIGHT_PLACEHOLDER = '{{weight}}';

/** The body sent for `weight`: every {{weight}} replaced by the number. */
export function renderWeightBody(template: string, weight: number): string {
  return template.split(WEIGHT_PLACEHOLDER).join(String(weight));
}

/** A dotted path into a JSON answer: `canary.weight`, `routers.0.share`. */
const JSON_PATH = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

function refuseUserinfo(url: string | undefined, path: string, ctx: z.RefinementCtx): void {
  if (url === undefined) return;
  const parsed = new URL(url);
  if (parsed.username !== '' || parsed.password !== '') {
    ctx.addIssue({ code: 'custom', path: [path], message: 'credentials in the URL would be recorded in workflow history: send them in a header with a secret reference ({ env: NAME } or { file: /path })' });
  }
}

export const httpShifterSchema = z
  .object({
    type: z.literal('http'),
    method: z.enum(['PUT', 'POST', 'PATCH']).default('PUT'),
    url: z.url({ protocol: /^https?$/ }),
    /** A JSON body with {{weight}} where the canary's share (0-100) goes, e.g. {"canary_weight": {{weight}}}. */
    body: z.string().min(1).max(8192),
    /** Request headers: a plain value, or a secret reference resolved inside the activity (like health checks'). */
    headers: httpHeadersSchema.optional(),
    /** A GET answering JSON that holds the share now in force, for reading it back (none: it cannot be read). */
    readUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Where the share is in readUrl's answer; absent: the answer is the number itself. */
    readPath: z.string().max(256).regex(JSON_PATH, 'a dotted path like canary.weight').optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    refuseUserinfo(s.url, 'url', ctx);
    refuseUserinfo(s.readUrl, 'readUrl', ctx);
    if (!s.body.includes(WEIGHT_PLACEHOLDER)) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: `the body must hold ${WEIGHT_PLACEHOLDER} where the canary's share goes, e.g. {"canary_weight": ${WEIGHT_PLACEHOLDER}}` });
      return;
    }
    const other = /\{\{(?!weight\}\})[^}]*\}\}/.exec(s.body);
    if (other) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: `${other[0]} is not a placeholder here: the only one is ${WEIGHT_PLACEHOLDER}` });
      return;
    }
    try {
      JSON.parse(renderWeightBody(s.body, 50));
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: `the body is not JSON once ${WEIGHT_PLACEHOLDER} is a number (${(error as Error).message})` });
    }
    if (s.readPath !== undefined && s.readUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['readPath'], message: 'readPath needs readUrl, the GET that answers the share' });
    }
  });
export type HttpShifter = z.infer<typeof httpShifterSchema>;

export const trafficShifterSchema = z.discriminatedUnion('type', [...kubernetesShifterSchemas, haproxyShifterSchema, caddyShifterSchema, httpShifterSchema]);
export type TrafficShifter = z.infer<typeof trafficShifterSchema>;
export type TrafficShifterType = TrafficShifter['type'];
