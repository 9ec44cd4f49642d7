// Timed runs in rounds, each printed as it ends. A round runs every method once, in the same
// order, so load that drifts on a shared machine (tests running beside the benchmark) falls
// on all methods alike instead of on whichever ran its runs last.
import { seconds } from './textTable.js';

export interface Method<T extends { ms: number }> {
  label: string;
  once(): Promise<T>;
  /** Method syntax, so a list of methods with different results type-checks as `Timed<{ ms: number }>[]`. */
  describe(result: T): string;
}

/** A method's timed runs, filled in round by round. */
export interface Timed<T extends { ms: number }> extends Method<T> {
  results: T[];
}

export const method = <T extends { ms: number }>(label: string, once: () => Promise<T>, describe: (result: T) => string): Timed<T> => ({
  label,
  once,
  describe,
  results: [],
});

/** `runs` rounds of every method in `methods`, in order; each method's results land in its `results`. */
export async function inRounds(runs: number, methods: Array<Timed<{ ms: number }>>): Promise<void> {
  for (let run = 1; run <= runs; run++) {
    for (const m of methods) {
      const result = await m.once();
      console.log(`  ${m.label.padEnd(24)} run ${run}/${runs}: ${seconds(result.ms)} s${m.describe(result)}`);
      m.results.push(result);
    }
  }
}
