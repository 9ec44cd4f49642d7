import type { z } from 'zod';

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    return text === '' ? String(key) : `${text}.${String(key)}`;
  }, '');
}

/** "stack: ...; collections[1]: ..." — every problem, each with the field it is about. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${formatPath(issue.path) || '(input)'}: ${issue.message}`).join('; ');
}
