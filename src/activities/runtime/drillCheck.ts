/** One check of a component's drill, as the verification evidence records it. */
export interface DrillCheck<C extends string> {
  name: string;
  component: C;
  artifact: string;
  passed: boolean;
  outcome: 'passed' | 'failed' | 'inconclusive';
  detail: string;
  figures: Record<string, unknown>;
  durationMs: number;
}

/** A builder of one artifact's drill checks: `check(name, outcome, detail, figures, startedAt)`. */
export function drillChecksOf<C extends string>(component: C, artifact: string) {
  return (name: string, outcome: DrillCheck<C>['outcome'], detail: string, figures: Record<string, unknown>, startedAt: number): DrillCheck<C> => ({
    name,
    component,
    artifact,
    passed: outcome === 'passed',
    outcome,
    detail,
    figures,
    durationMs: Date.now() - startedAt,
  });
}
