import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { formatPath } from './issues.js';
import { stacksFileSchema, type StackConfig, type StacksFile } from './stacks/index.js';

export const DEFAULT_CONFIG_PATH = './ragops.yaml';

export function configPathFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.RAGOPS_CONFIG ?? DEFAULT_CONFIG_PATH);
}

export interface ConfigIssue {
  path: string;
  line?: number;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`${file}: ${issues.length} problem(s)\n${issues.map((issue) => `  ${formatIssue(issue)}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.path : `${issue.path} (line ${issue.line})`;
  return `${where || '(top level)'}: ${issue.message}`;
}

/** Parses and validates stacks-file text (YAML, of which JSON is a subset). */
export function parseStacksFile(text: string, file: string): StacksFile {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => ({
        path: '',
        line: error.linePos?.[0]?.line,
        message: error.message.split('\n')[0] ?? error.message,
      })),
    );
  }
  const parsed = stacksFileSchema.safeParse(document.toJS());
  if (!parsed.success) {
    throw new ConfigError(file, toConfigIssues(parsed.error, document, lineCounter));
  }
  return parsed.data;
}

function toConfigIssues(error: z.ZodError, document: Document, lineCounter: LineCounter): ConfigIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath(issue.path),
    line: lineOf(document, lineCounter, issue.path),
    message: issue.message,
  }));
}

function lineOf(document: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  // The deepest node that exists: a missing key is reported at its parent's line.
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = document.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

export async function loadStacksFile(path: string = configPathFromEnv()): Promise<StacksFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(path, [{ path: '', message: `cannot read the stacks file (${code}); set RAGOPS_CONFIG or create ${DEFAULT_CONFIG_PATH}` }]);
  }
  return parseStacksFile(text, path);
}

export function stackOrThrow(file: StacksFile, name: string): StackConfig {
  const stack = file.stacks[name];
  if (!stack) {
    const known = Object.keys(file.stacks).join(', ');
    throw new Error(`unknown stack "${name}"; the stacks file defines: ${known}`);
  }
  return stack;
}

export function stacksFileJsonSchema(): unknown {
  return z.toJSONSchema(stacksFileSchema, { io: 'input', unrepresentable: 'any' });
}
