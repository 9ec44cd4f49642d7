// Timed runs in a row, each printed as it ends.
import { seconds } from './textTable.js';

/** Runs `once` `runs` times in a row, printing each run's figures. */
export async function repeat<T extends { ms: number }>(runs: number, label: string, once: () => Promise<T>, describe: (result: T) => string): Promise<T[]> {
  const results: T[] = [];
  for (let run = 1; run <= runs; run++) {
    const result = await once();
    console.log(`  ${label.padEnd(24)} run ${run}/${runs}: ${seconds(result.ms)} s${describe(result)}`);
    results.push(result);
  }
  return results;
}
