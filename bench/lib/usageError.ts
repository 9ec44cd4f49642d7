/** A bad command line: bench/run.ts prints the usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
