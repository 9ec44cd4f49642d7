// A small application on loopback standing in for one version of a service under a canary:
// every path but /metrics, /stats and /admin/* answers "ok <version>" — or 500 for a
// configurable share of requests, spread evenly (a 20 % rate fails exactly every fifth) — and
// /metrics exports http_requests_total{version,code} in Prometheus' text format for a real
// Prometheus to scrape. /stats gives the same figures as nested JSON (behind a token header
// when one is set); /admin/error-rate and /admin/latency change the behaviour while it runs.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface MetricsAppOptions {
  /** The `version` label of everything it exports (e.g. `stable`, `canary`). */
  version: string;
  /** The share of requests answered 500, 0–1. */
  errorRate?: number;
  /** Added before each answer, in ms. */
  latencyMs?: number;
  /** When set, /stats wants it in the X-Stats-Token header (401 without it). */
  statsToken?: string;
}

export interface MetricsApp {
  readonly version: string;
  /** `http://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  /** `127.0.0.1:<port>`, a Prometheus scrape target. */
  readonly address: string;
  setErrorRate(rate: number): void;
  setLatency(ms: number): void;
  /** Requests answered so far (the served paths only), by status code. */
  counts(): Record<string, number>;
  stop(): Promise<void>;
}

export async function startMetricsApp(options: MetricsAppOptions): Promise<MetricsApp> {
  let errorRate = options.errorRate ?? 0;
  let latencyMs = options.latencyMs ?? 0;
  let served = 0;
  const byCode = new Map<string, number>();

  const metricsText = () => {
    const lines = ['# HELP http_requests_total Requests answered, by version and status code.', '# TYPE http_requests_total counter'];
    for (const [code, count] of [...byCode].sort()) lines.push(`http_requests_total{version="${options.version}",code="${code}"} ${count}`);
    return `${lines.join('\n')}\n`;
  };
  const stats = () => {
    const total = [...byCode.values()].reduce((a, b) => a + b, 0);
    const errors = [...byCode].filter(([code]) => code.startsWith('5')).reduce((a, [, n]) => a + n, 0);
    return {
      version: options.version,
      requests: { total, errors, byCode: [...byCode].sort().map(([code, count]) => ({ code: Number(code), count })) },
      windows: [{ name: 'all', errorRate: total === 0 ? null : errors / total, requests: total }],
    };
  };

  const answer = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const send = (status: number, body: string, type = 'text/plain') => response.writeHead(status, { 'content-type': type }).end(body);
    if (url.pathname === '/metrics') return send(200, metricsText(), 'text/plain; version=0.0.4');
    if (url.pathname === '/stats') {
      if (options.statsToken !== undefined && request.headers['x-stats-token'] !== options.statsToken) return send(401, 'a valid X-Stats-Token is wanted');
      return send(200, JSON.stringify(stats()), 'application/json');
    }
    if (url.pathname === '/admin/error-rate') {
      errorRate = Number(url.searchParams.get('value'));
      return send(200, `error rate ${errorRate}`);
    }
    if (url.pathname === '/admin/latency') {
      latencyMs = Number(url.searchParams.get('value'));
      return send(200, `latency ${latencyMs} ms`);
    }
    served += 1;
    // Evenly spread: request n fails when it takes floor(n × rate) past the previous one's.
    const failing = Math.floor(served * errorRate) > Math.floor((served - 1) * errorRate);
    const status = failing ? 500 : 200;
    byCode.set(String(status), (byCode.get(String(status)) ?? 0) + 1);
    if (latencyMs > 0) await sleep(latencyMs);
    return send(status, failing ? `error ${options.version}` : `ok ${options.version}`);
  };

  const server = createServer((request, response) => void answer(request, response).catch(() => response.destroy()));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    version: options.version,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    address: `127.0.0.1:${port}`,
    setErrorRate: (rate) => void (errorRate = rate),
    setLatency: (ms) => void (latencyMs = ms),
    counts: () => Object.fromEntries(byCode),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Traffic {
  /** Requests sent so far. */
  readonly sent: number;
  stop(): Promise<void>;
}

/** Steady traffic to `url`: about `perSecond` requests a second, one at a time per tick, until stopped. */
export function startTraffic(url: string, perSecond: number): Traffic {
  const controller = new AbortController();
  let sent = 0;
  const loop = (async () => {
    const gap = 1000 / perSecond;
    while (!controller.signal.aborted) {
      const started = Date.now();
      try {
        await (await fetch(url, { signal: controller.signal })).text();
      } catch {
        // A refused or aborted request is still traffic sent; the loop goes on until stopped.
      }
      sent += 1;
      const wait = gap - (Date.now() - started);
      if (wait > 0) await sleep(wait, undefined, { signal: controller.signal }).catch(() => {});
    }
  })();
  return {
    get sent() {
      return sent;
    },
    async stop() {
      controller.abort();
      await loop;
    },
  };
}
