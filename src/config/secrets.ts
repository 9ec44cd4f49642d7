import { readFile } from 'node:fs/promises';
import { describeSecretRef, type SecretRef } from './secretRef.js';

export { describeSecretRef, secretRef, type SecretRef } from './secretRef.js';

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
