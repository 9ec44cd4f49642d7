// A real Prometheus (Debian's /usr/bin/prometheus) for the metrics tests: started on a free
// loopback port with a generated configuration that scrapes the given targets every second,
// its storage in a temporary directory, stopped (and the directory removed) by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort } from '../../src/client/dev/devserver.js';

export const PROMETHEUS_BIN = process.env.RAGOPS_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface ScrapeTarget {
  /** host:port serving /metrics. */
  address: string;
  /** Labels Prometheus adds to every series of the target (e.g. { service: 'api' }). */
  labels?: Record<string, string>;
}

export interface TestPrometheus {
  url: string;
  /** One instant query's value: the first series' number, or null for no series. */
  queryValue(query: string): Promise<number | null>;
  /** Polls `query` until `accept` holds for its value; throws with the last value after `timeoutMs`. */
  waitFor(query: string, accept: (value: number | null) => boolean, timeoutMs?: number): Promise<number | null>;
  stop(): Promise<void>;
}


export function prometheusConfig(targets: ScrapeTarget[], scrapeIntervalSeconds = 1, ruleFiles: string[] = []): string {
  // YAML is a superset of JSON: the configuration is written as JSON.
  return JSON.stringify({
    global: { scrape_interval: `${scrapeIntervalSeconds}s`, scrape_timeout: `${scrapeIntervalSeconds}s`, evaluation_interval: `${scrapeIntervalSeconds}s` },
    ...(ruleFiles.length > 0 ? { rule_files: ruleFiles } : {}),
    scrape_configs: targets.map((target, index) => ({
      job_name: `target-${index}`,
      static_configs: [{ targets: [target.address], labels: target.labels ?? {} }],
    })),
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!killed) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** `ruleFiles`: alerting and recording rule files (absolute paths) it evaluates every scrape interval. */
export async function startPrometheus(targets: ScrapeTarget[], options: { scrapeIntervalSeconds?: number; ruleFiles?: string[] } = {}): Promise<TestPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) throw new Error(`${PROMETHEUS_BIN} is missing: run scripts/setup.sh (Debian's prometheus package)`);
  const dir = await mkdtemp(join(tmpdir(), 'ragops-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(targets, options.scrapeIntervalSeconds, options.ruleFiles));
  let lastError = '';
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const port = await findFreePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      PROMETHEUS_BIN,
      [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=1h'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      await sleep(200);
    }
    if (!ready) {
      lastError = `prometheus did not become ready on ${url} (exit ${child.exitCode}): ${stderr.trim()}`;
      await stopProcess(child);
      continue;
    }
    const queryValue = async (query: string): Promise<number | null> => {
      const response = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query }) });
      const answer = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: any } };
      if (answer.status !== 'success') throw new Error(`query ${query} failed: ${answer.error}`);
      if (answer.data.resultType === 'scalar') return Number(answer.data.result[1]);
      return answer.data.result.length === 0 ? null : Number(answer.data.result[0].value[1]);
    };
    return {
      url,
      queryValue,
      async waitFor(query, accept, timeoutMs = 20_000) {
        const until = Date.now() + timeoutMs;
        let value: number | null = null;
        while (Date.now() < until) {
          value = await queryValue(query);
          if (accept(value)) return value;
          await sleep(250);
        }
        throw new Error(`after ${timeoutMs} ms, ${query} is still ${value}`);
      },
      async stop() {
        await stopProcess(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(lastError);
}
