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
