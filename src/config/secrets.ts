import { readFile } from 'node:fs/promises';
import { z } from 'zod';

// A secret is never written in the stacks file, only a reference to where it lives. The
// reference is safe to record in workflow history; the value is read inside activities.
export const secretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(),
  z.object({ file: z.string().min(1, 'a file path') }).strict(),
]);
export type SecretRef = z.infer<typeof secretRef>;

export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `secret file ${ref.file}`;
}

/** Reads a secret's value; errors name where it was looked for, never a value. */
export async function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') {
      throw new Error(`${describeSecretRef(ref)} is not set; export it in the worker's environment`);
    }
    return value;
  }
  try {
    return (await readFile(ref.file, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new Error(`${describeSecretRef(ref)} cannot be read (${code}); mount it on the worker`);
  }
}

export async function resolveOptionalSecret(ref: SecretRef | undefined): Promise<string | undefined> {
  return ref === undefined ? undefined : resolveSecret(ref);
}
