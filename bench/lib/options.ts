// The command-line options every size-based benchmark takes: `[--runs N] [--quick] [--fresh]`.
import { parseArgs } from 'node:util';
import { UsageError } from './usageError.js';

export interface BenchOptions {
  /** Timed runs of each method; the table shows their median. */
  runs: number;
  /** The small databases, for a fast end-to-end check of the benchmark itself. */
  quick: boolean;
  /** Re-seed the databases even when they are already big enough. */
  fresh: boolean;
}

export const benchOptionsUsage = '[--runs N] [--quick] [--fresh]';

export function parseBenchOptions(args: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { runs: { type: 'string', default: '1' }, quick: { type: 'boolean', default: false }, fresh: { type: 'boolean', default: false } },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs takes a positive integer, not "${values.runs}"`);
  return { runs, quick: values.quick, fresh: values.fresh };
}
