import { z } from 'zod';
import { componentLabel } from '../names.js';
import { secretRef } from '../secretRef.js';

// Image references as Docker parses them: [registry[:port]/]path[:tag][@sha256:digest].
// Anything else — shell syntax, spaces, "..", "$(" — is refused before it reaches an argv.
const IMAGE_REFERENCE =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export const imageReference = z
  .string()
  .max(512)
  .regex(IMAGE_REFERENCE, 'an image reference like registry.example.com/team/api:1.4.2');

export const serviceName = componentLabel;
/** Kubernetes object names (DNS-1123 labels). */
export const kubeName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Kubernetes name: lower-case letters, digits and "-"').max(63);

/** A header name as RFC 7230 defines it: a token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value RFC 7230 allows: visible characters, spaces, tabs and obs-text; no CR, LF or other controls. */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Set by the HTTP client itself: Node's fetch silently drops or refuses them, so a check would not send what it says. */
const CLIENT_MANAGED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer']);
/** Headers that carry credentials: written in plain they would be recorded in the workflow's history. */
const CREDENTIAL_HEADER = /^(?:proxy-)?authorization$|^cookie$|token|secret|passw|api-?key/i;

/**
 * Request headers of a check: name → a plain value, or a secret reference resolved inside the
 * activity (the workflow and its history only ever see the reference; evidence records names).
 */
export const httpHeadersSchema = z
  .record(z.string(), z.union([z.string().max(8192).regex(HEADER_VALUE, 'a header value: printable characters, no line breaks or control characters'), secretRef]))
  .superRefine((headers, ctx) => {
    const seen = new Map<string, string>();
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      if (!HEADER_NAME.test(name) || name.length > 256) {
        ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is not a header name (an RFC 7230 token: letters, digits and !#$%&'*+.^_\`|~-)` });
      } else if (CLIENT_MANAGED_HEADERS.has(lower)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `${name} is set by the HTTP client and cannot be sent from a check` });
      } else if (seen.has(lower)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `${name} repeats ${seen.get(lower)} (header names ignore case)` });
      } else if (typeof value === 'string' && CREDENTIAL_HEADER.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `${name} carries a credential: give a secret reference ({ env: NAME } or { file: /path }), not the value, which would be recorded in workflow history` });
      }
      seen.set(lower, name);
    }
  });

export const httpCheckSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    expectStatus: z.number().int().min(100).max(599).default(200),
    bodyIncludes: z.string().optional(),
    headers: httpHeadersSchema.optional(),
    timeoutSeconds: z.number().positive().default(60),
    // Checks run in a streaming activity whose heartbeat timeout is 10 s (src/workflows/lib/
    // activities.ts). The wait between attempts is heartbeated on ProgressHeartbeat's 2 s timer,
    // so no interval starves that timeout, and a cancellation (delivered with a heartbeat's
    // answer, within the SDK's 8 s throttle) aborts the wait at once. The bound is about the
    // check: faster than 100 ms hammers a starting service; slower than 30 s makes the verdict
    // lag the service by that much (the default 60 s timeout would see only two attempts).
    intervalMs: z
      .number()
      .int()
      .min(100, 'at least 100 (ms) between attempts')
      .max(30_000, 'at most 30000 (ms, 30 s) between attempts; for a slow service raise timeoutSeconds instead')
      .default(1000),
  })
  .strict();
export type HttpCheck = z.infer<typeof httpCheckSchema>;

export const composePullPolicy = z.enum(['always', 'never']);
export type ComposePullPolicy = z.infer<typeof composePullPolicy>;

const composeTargetSchema = z
  .object({
    type: z.literal('compose'),
    directory: z.string().min(1),
    files: z.array(z.string().min(1)).min(1).default(['docker-compose.yml']),
    projectName: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'a compose project name'),
    /** `docker compose` (v2) or `docker-compose` (v1); detected when left out. */
    flavor: z.enum(['v1', 'v2']).optional(),
    /**
     * Before a deploy: `always` (the default, also when left out) pulls the image — a failed
     * pull fails the deploy, never falling back to a stale local copy; `never` deploys what the
     * host has (images built or loaded on it), failing when it is absent. Either way the deploy
     * goes out by digest or image id.
     */
    pull: composePullPolicy.optional(),
  })
  .strict();

const kubernetesTargetSchema = z
  .object({
    type: z.literal('kubernetes'),
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    namespace: kubeName,
  })
  .strict();

export const deployTargetSchema = z.discriminatedUnion('type', [composeTargetSchema, kubernetesTargetSchema]);
export type DeployTarget = z.infer<typeof deployTargetSchema>;
export type ComposeTarget = z.infer<typeof composeTargetSchema>;
export type KubernetesTarget = z.infer<typeof kubernetesTargetSchema>;

export const blueGreenSchema = z
  .object({
    /** The Service whose selector picks the live colour. */
    service: kubeName,
    selectorLabel: z.string().regex(/^[A-Za-z0-9._/-]+$/).default('color'),
    deployments: z.object({ blue: kubeName, green: kubeName }).strict(),
    /** Per colour, health checks of the idle colour before the switch (e.g. its own Service URL). */
    health: z.object({ blue: z.array(httpCheckSchema), green: z.array(httpCheckSchema) }).partial().default({}),
    /** Per colour, smoke checks addressed to that colour, run with its health checks before the switch. */
    smoke: z.object({ blue: z.array(httpCheckSchema), green: z.array(httpCheckSchema) }).partial().default({}),
  })
  .strict();
export type BlueGreen = z.infer<typeof blueGreenSchema>;

/**
 * Blue-green on Compose: the new version starts as `<service>-canary` (see `canary` below),
 * passes these checks (addressed to its own port), then the stack's traffic shifter —
 * `canary.<service>.traffic`, the canary runbook's — moves traffic 0 → 100 %; after the window
 * the stable service rolls to the new digest, traffic goes back to it and the canary is removed.
 */
export const composeBlueGreenSchema = z
  .object({
    health: z.array(httpCheckSchema).default([]),
    smoke: z.array(httpCheckSchema).default([]),
  })
  .strict();
export type ComposeBlueGreen = z.infer<typeof composeBlueGreenSchema>;

/** Which kind of blue-green section this is: Kubernetes names a Service and two Deployments. */
export const isKubernetesBlueGreen = (bg: BlueGreen | ComposeBlueGreen): bg is BlueGreen => 'deployments' in bg;

/** Compose: published ports of `<service>-canary` (the canary, or blue-green's new version), Compose's short syntax. */
const composePort = z.string().regex(/^(?:[0-9a-fA-F.:[\]]+:)?[0-9]+(?:-[0-9]+)?(?::[0-9]+(?:-[0-9]+)?)?(?:\/(?:tcp|udp))?$/, 'a Compose port like "127.0.0.1:18081:8080"');

export const deployServiceSchema = z
  .object({
    /** Compose: the service name in the compose files (default: this key). */
    composeService: serviceName.optional(),
    /** Kubernetes: the Deployment and the container whose image is set. */
    deployment: kubeName.optional(),
    container: kubeName.optional(),
    blueGreen: z.union([blueGreenSchema, composeBlueGreenSchema]).optional(),
    /** Compose: the `<service>-canary` service ragops runs beside the stable one; its ports (none by default). */
    canary: z.object({ ports: z.array(composePort).default([]) }).strict().optional(),
    health: z.array(httpCheckSchema).default([]),
    smoke: z.array(httpCheckSchema).default([]),
    migration: z.object({ command: z.array(z.string().min(1)).min(1) }).strict().optional(),
    /**
     * Refuse to deploy without checks to verify the new version and a rollback (default: true
     * for blue-green, whose switch is only as safe as the idle colour's checks).
     */
    requireChecks: z.boolean().optional(),
    rolloutTimeoutSeconds: z.number().int().min(1).default(120),
  })
  .strict();
export type DeployService = z.infer<typeof deployServiceSchema>;

export const deploySchema = z
  .object({
    target: deployTargetSchema,
    services: z.record(serviceName, deployServiceSchema),
    /** Logged in to before pulling; the password is a secret reference. */
    registry: z.object({ server: z.string().min(1), username: z.string().min(1), password: secretRef }).strict().optional(),
  })
  .strict();
export type DeployConfig = z.infer<typeof deploySchema>;
