// Resident memory of one process, read from /proc/<pid>/status (VmRSS) every 100 ms.
import { readFileSync } from 'node:fs';

export interface RssFigures {
  beforeBytes: number;
  peakBytes: number;
  growthBytes: number;
  samples: number;
}

export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status (has the process exited?)`);
  return Number(kib) * 1024;
}

/** Samples `pid` while `during` runs: RSS just before it starts, the peak while it runs. */
export async function sampleRssDuring<T>(pid: number, during: () => Promise<T>, intervalMs = 100): Promise<{ result: T; rss: RssFigures }> {
  const beforeBytes = readRssBytes(pid);
  let peakBytes = beforeBytes;
  let samples = 1;
  const sample = () => {
    try {
      peakBytes = Math.max(peakBytes, readRssBytes(pid));
      samples += 1;
    } catch {
      // The process ended; `during` will report why.
    }
  };
  const timer = setInterval(sample, intervalMs);
  try {
    const result = await during();
    sample();
    return { result, rss: { beforeBytes, peakBytes, growthBytes: peakBytes - beforeBytes, samples } };
  } finally {
    clearInterval(timer);
  }
}
