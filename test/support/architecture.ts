// Reads the import graph of src/ and lists the imports that break DESIGN.md's layering.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface ImportEdge {
  from: string;
  /** Repo-relative path of the imported file, or the package / node: specifier. */
  to: string;
  typeOnly: boolean;
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every import and re-export of one file's text; `file` is repo-relative. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const target = (spec: string) => (spec.startsWith('.') ? join(dirname(file), spec).replace(/\.js$/, '.ts') : spec);
  for (const match of text.matchAll(IMPORT)) edges.push({ from: file, to: target(match[3]!), typeOnly: Boolean(match[2]) });
  for (const match of text.matchAll(DYNAMIC)) edges.push({ from: file, to: target(match[1]!), typeOnly: false });
  return edges;
}

export function sourceFiles(root: string, dir = 'src'): string[] {
  return readdirSync(join(root, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(root, path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const under = (path: string, folder: string) => path.startsWith(`src/${folder}/`);

/** The imports DESIGN.md §4 forbids, each with the rule it breaks. */
export function layeringViolations(edges: ImportEdge[]): string[] {
  const problems: string[] = [];
  for (const { from, to, typeOnly } of edges) {
    const say = (rule: string) => problems.push(`${from} imports ${to}: ${rule}`);
    if (under(from, 'activities') && (under(to, 'workflows') || under(to, 'client'))) say('activities never import workflows or the client');
    if (under(from, 'workflows') && under(to, 'activities') && !typeOnly) say('workflows import activities as types only');
    if (under(from, 'workflows') && to.startsWith('node:')) say('workflows are deterministic: no Node APIs');
    const configType = typeOnly && under(to, 'config');
    if (under(from, 'core') && (to.startsWith('node:') || (to.startsWith('src/') && !under(to, 'core') && !configType))) say('core is pure: no Node APIs, nothing outside core but config types');
    if (under(from, 'config') && ['activities', 'workflows', 'client'].some((layer) => under(to, layer))) say('config depends on nothing but core');
  }
  return problems;
}

/** Files the workflow bundle pulls in (value imports from workflows/index.ts) that use Node APIs. */
export function nodeApisInWorkflowBundle(edges: ImportEdge[], entry = 'src/workflows/index.ts'): string[] {
  const byFile = new Map<string, ImportEdge[]>();
  for (const edge of edges) byFile.set(edge.from, [...(byFile.get(edge.from) ?? []), edge]);
  const seen = new Set<string>();
  const problems: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const edge of byFile.get(file) ?? []) {
      if (edge.typeOnly) continue;
      if (edge.to.startsWith('node:')) problems.push(`${[...path, file].join(' → ')} imports ${edge.to}`);
      else if (edge.to.startsWith('src/')) visit(edge.to, [...path, file]);
    }
  };
  visit(entry, []);
  return problems;
}

export function importGraph(root: string): ImportEdge[] {
  return sourceFiles(root).flatMap((file) => importsOf(file, readFileSync(resolve(root, file), 'utf8'))).map((edge) => ({
    ...edge,
    to: edge.to.startsWith('src/') || edge.to.startsWith('.') ? relative(root, resolve(root, edge.to)) : edge.to,
  }));
}
