// `a | b` without a shell: the first command's stdout is the second's stdin (the pipe's file
// descriptor itself, no copying through this process), timed from the first spawn to the
// last exit, each exit status checked (what `set -o pipefail` would give a shell).
import { spawn, type ChildProcess } from 'node:child_process';

export interface PipedCommand {
  argv: string[];
  /** The whole environment of the command; the benchmark's own when absent. */
  env?: NodeJS.ProcessEnv;
}

/** Runs `first | second` to completion and returns its wall time; fails with both stderrs on a non-zero exit or any stderr output. */
export async function timePipeline(first: PipedCommand, second: PipedCommand): Promise<number> {
  const started = performance.now();
  const producer = spawn(first.argv[0]!, first.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: first.env });
  const consumer = spawn(second.argv[0]!, second.argv.slice(1), { stdio: [producer.stdout!, 'ignore', 'pipe'], env: second.env });
  // The consumer has its own copy of the pipe's read end: this process lets go of its one, so
  // a consumer that dies makes the producer fail on a broken pipe instead of blocking.
  producer.stdout!.destroy();
  consumer.on('error', () => producer.kill());
  const results = await Promise.all([finished(producer, first.argv), finished(consumer, second.argv)]);
  const ms = performance.now() - started;
  const failures = results.filter((result) => result.code !== 0 || result.stderr !== '');
  if (failures.length > 0) {
    throw new Error(
      `${first.argv.join(' ')} | ${second.argv.join(' ')} failed: ` +
        failures.map((f) => `${f.argv[0]} exit ${f.code}${f.stderr ? `: ${f.stderr}` : ''}`).join('; '),
    );
  }
  return ms;
}

function finished(child: ChildProcess, argv: string[]): Promise<{ argv: string[]; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ argv, code: -1, stderr: error.message }));
    child.on('close', (code) => resolve({ argv, code, stderr: stderr.trim() }));
  });
}
