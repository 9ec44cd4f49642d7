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

export const httpCheckSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    expectStatus: z.number().int().min(100).max(599).default(200),
    bodyIncludes: z.string().optional(),
    timeoutSeconds: z.number().positive().default(60),
    intervalMs: z.number().int().min(100).default(1000),
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
  })
  .strict();

export const deployServiceSchema = z
  .object({
    /** Compose: the service name in the compose files (default: this key). */
    composeService: serviceName.optional(),
    /** Kubernetes: the Deployment and the container whose image is set. */
    deployment: kubeName.optional(),
    container: kubeName.optional(),
    blueGreen: blueGreenSchema.optional(),
    health: z.array(httpCheckSchema).default([]),
    smoke: z.array(httpCheckSchema).default([]),
    migration: z.object({ command: z.array(z.string().min(1)).min(1) }).strict().optional(),
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
