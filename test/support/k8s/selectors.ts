// Label selectors (`app=api,tier!=db,env in (a,b),!legacy`), field selectors
// (`metadata.name=api`) and `metav1.LabelSelector` objects (matchLabels/matchExpressions).
import { badRequest } from './status.js';

type Requirement = { key: string; op: 'in' | 'notin' | 'exists' | '!exists'; values: string[] };
export type Matcher = (obj: any) => boolean;

const everything: Matcher = () => true;

/** Splits on commas that are not inside `( )`. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

function parseRequirement(term: string): Requirement {
  let m = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()).filter(Boolean) };
  m = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=()]*)$/.exec(term);
  if (m) return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
  m = /^!\s*([^\s!=()]+)$/.exec(term);
  if (m) return { key: m[1]!, op: '!exists', values: [] };
  m = /^([^\s!=()]+)$/.exec(term);
  if (m) return { key: m[1]!, op: 'exists', values: [] };
  throw badRequest(`unable to parse requirement: ${term}`);
}

function matches(labels: Record<string, string>, req: Requirement): boolean {
  const has = Object.hasOwn(labels, req.key);
  switch (req.op) {
    case 'in':
      return has && req.values.includes(labels[req.key]!);
    case 'notin':
      return !has || !req.values.includes(labels[req.key]!);
    case 'exists':
      return has;
    case '!exists':
      return !has;
  }
}

/** A `labelSelector` query value as a matcher on objects' `metadata.labels`. */
export function labelMatcher(selector: string | null | undefined): Matcher {
  if (!selector) return everything;
  const reqs = terms(selector).map(parseRequirement);
  return (obj) => reqs.every((req) => matches(obj?.metadata?.labels ?? {}, req));
}

/** A `fieldSelector` query value (`a.b=x`, `a.b==x`, `a.b!=x`, comma-separated) as a matcher. */
export function fieldMatcher(selector: string | null | undefined): Matcher {
  if (!selector) return everything;
  const checks = terms(selector).map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const path = m[1]!.split('.');
    return { path, negate: m[2] === '!=', value: m[3]! };
  });
  return (obj) =>
    checks.every(({ path, negate, value }) => {
      const actual = path.reduce<any>((node, part) => node?.[part], obj);
      return (String(actual ?? '') === value) !== negate;
    });
}

/** A `metav1.LabelSelector` in its string form (`app=api,env in (a,b)`), as kubectl prints it. */
export function selectorString(selector: any): string {
  if (!selector) return '';
  const parts = Object.entries<string>(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const expr of selector.matchExpressions ?? []) {
    const values = [...(expr.values ?? [])].sort().join(',');
    if (expr.operator === 'In') parts.push(`${expr.key} in (${values})`);
    else if (expr.operator === 'NotIn') parts.push(`${expr.key} notin (${values})`);
    else if (expr.operator === 'Exists') parts.push(expr.key);
    else if (expr.operator === 'DoesNotExist') parts.push(`!${expr.key}`);
  }
  return parts.sort().join(',');
}

/** Whether a `metav1.LabelSelector` selects these labels (an empty selector selects everything). */
export function selectorMatches(selector: any, labels: Record<string, string> | undefined): boolean {
  return labelMatcher(selectorString(selector))({ metadata: { labels: labels ?? {} } });
}
