import { z } from 'zod';
import { componentLabel } from '../names.js';
import { secretRef } from '../secretRef.js';

// An exec dump: a command whose stdout is the artifact, run on the worker's host, in a running
// container (`docker exec`), in a throwaway container over a volume (`docker run --rm -v
// <volume>:/source:ro <image> tar c -C /source .`), or in a pod (`kubectl exec`). The commands
// are argv arrays, never a shell line; secrets reach them by environment, never by argv.

/** A command as an argv array; the program first. */
const argv = z
  .array(z.string())
  .min(1, 'an argv array: the program, then its arguments')
  .refine((args) => args[0]!.length > 0 && !args[0]!.startsWith('-'), 'the first argv element is the program');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/** Docker container and volume names (as the engine accepts them). */
const dockerObjectName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, 'a Docker container or volume name');
/** An image reference: [registry/]repository[:tag][@digest]. */
const imageRef = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/, 'an image reference such as busybox:1.36 or registry.example.com/tools/tar@sha256:…');
/** Kubernetes object names (RFC 1123 subdomain). */
const kubeName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes name (lower-case letters, digits, "-" and ".")');

const hostRun = z.object({ host: z.object({ argv }).strict() }).strict();
const dockerRun = z
  .object({
    docker: z
      .object({
        container: dockerObjectName,
        argv,
        /** `docker exec --user`, e.g. "postgres" or "1000:1000". */
        user: z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, 'a user or uid[:gid]').optional(),
      })
      .strict(),
  })
  .strict();
const volumeRun = z
  .object({
    volume: z
      .object({
        name: dockerObjectName,
        /** Any local image with `tar` (busybox, alpine, debian), or the one `argv` needs. */
        image: imageRef,
        /** Where the volume is mounted, read-only. */
        mountPath: z.string().regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path').default('/source'),
        /** false only for a tool that must lock the files it reads (neo4j-admin takes its store lock). */
        readOnly: z.boolean().default(true),
        /** Instead of `tar c -C <mountPath> .`, e.g. `neo4j-admin database dump neo4j --to-stdout` over a stopped Neo4j's /data. */
        argv: argv.optional(),
      })
      .strict(),
  })
  .strict();
const kubernetesRun = z
  .object({
    kubernetes: z
      .object({
        pod: kubeName.optional(),
        /** kubectl picks one of its pods. */
        deployment: kubeName.optional(),
        container: kubeName.optional(),
        namespace: kubeName.default('default'),
        context: z.string().min(1).optional(),
        kubeconfig: z.string().min(1).optional(),
        argv,
      })
      .strict()
      .refine((target) => (target.pod === undefined) !== (target.deployment === undefined), { message: 'name exactly one of pod and deployment' }),
  })
  .strict();

export const execRunSchema = z.union([hostRun, dockerRun, volumeRun, kubernetesRun]);
export type ExecRun = z.infer<typeof execRunSchema>;
export type ExecRunKind = 'host' | 'docker' | 'volume' | 'kubernetes';
export const execRunKind = (run: ExecRun): ExecRunKind => ('host' in run ? 'host' : 'docker' in run ? 'docker' : 'volume' in run ? 'volume' : 'kubernetes');

/** Where the drill's commands name their scratch directory (made and removed by ragops). */
export const SCRATCH_PLACEHOLDER = '{scratch}';

export const execDrillCheckSchema = z
  .object({
    name: componentLabel,
    /** Run on the worker's host after the restore; its trimmed stdout is the figure. May use {scratch}. */
    argv,
    /**
     * Run at backup time where the dump runs (the same host, container, volume or pod), right
     * before the dump; its trimmed stdout is recorded in the manifest as the figure to expect.
     */
    figure: argv.optional(),
    /** A fixed figure to expect, e.g. "ok" for `PRAGMA integrity_check`. */
    expect: z.string().optional(),
  })
  .strict()
  .refine((check) => !(check.figure && check.expect !== undefined), { message: 'give figure or expect, not both', path: ['expect'] });
export type ExecDrillCheck = z.infer<typeof execDrillCheckSchema>;

export const execDrillSchema = z
  .object({
    /** Run on the worker's host with the artifact on stdin; restores into {scratch}. */
    restore: argv,
    checks: z.array(execDrillCheckSchema).default([]),
    timeoutMinutes: z.number().int().min(1).max(24 * 60).default(60),
  })
  .strict()
  .superRefine((drill, ctx) => {
    const seen = new Set<string>();
    drill.checks.forEach((check, index) => {
      if (seen.has(check.name)) ctx.addIssue({ code: 'custom', path: ['checks', index, 'name'], message: `duplicate check "${check.name}"` });
      seen.add(check.name);
    });
  });
export type ExecDrill = z.infer<typeof execDrillSchema>;

/**
 * How `ragops restore` puts an exec dump back (only with an explicit confirm): a command on the
 * worker's host that reads the artifact on stdin, e.g. `sqlite3 /srv/app.db .restore /dev/stdin`
 * or `docker exec -i app-db psql -U app`. Secrets by reference, as the dump's `env`.
 */
export const execRestoreSchema = z
  .object({
    argv: argv.refine((args) => !args.some((arg) => arg.includes(SCRATCH_PLACEHOLDER)), `${SCRATCH_PLACEHOLDER} is the drill's scratch directory; a restore writes where the component lives`),
    env: z.record(envName, secretRef).default({}),
    /** Under the activity's 12 h bound, so the command's own timeout is the one that ends it. */
    timeoutMinutes: z.number().int().min(1).max(11 * 60).default(360),
  })
  .strict();
export type ExecRestore = z.infer<typeof execRestoreSchema>;

export const execDumpSchema = z
  .object({
    name: componentLabel.describe('label used in manifests and artifact keys'),
    run: execRunSchema,
    /** Environment of the dump (and figure) commands, by secret reference; never on argv. */
    env: z.record(envName, secretRef).default({}),
    /** File name suffix of the artifact in the store, e.g. ".sql", ".tar", ".dump". */
    extension: z.string().regex(/^(\.[A-Za-z0-9]{1,16}){1,3}$/, 'a suffix such as .sql or .tar').default('.bin'),
    timeoutMinutes: z.number().int().min(1).max(24 * 60).default(360),
    drill: execDrillSchema.optional(),
    /** Absent: `restore` refuses to restore this dump (its drill still proves it restorable). */
    restore: execRestoreSchema.optional(),
  })
  .strict();
export type ExecDumpComponent = z.infer<typeof execDumpSchema>;
export type ExecDumpComponentInput = z.input<typeof execDumpSchema>;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * What a manifest records of an exec dump (for src/config/manifest.ts's artifact union): the
 * command without secrets (they are never on argv), the figures its drill checks expect, and
 * the client-side encryption scheme and key id when the artifact is encrypted.
 */
export const execDumpArtifactSchema = z.object({
  component: z.literal('exec'),
  name: componentLabel,
  key: z.string(),
  /** Of the plaintext, also when the stored object is encrypted. */
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  durationMs: z.number().nonnegative(),
  kind: z.enum(['host', 'docker', 'volume', 'kubernetes']),
  command: z.array(z.string()),
  /** Drill check name → the figure its `figure` command printed at backup time. */
  figures: z.record(z.string(), z.string()).default({}),
});
export type ExecDumpArtifact = z.infer<typeof execDumpArtifactSchema>;
