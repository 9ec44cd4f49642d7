#!/usr/bin/env node
// The worker image's HEALTHCHECK: GET /healthz on RAGOPS_HEALTH_ADDRESS (host:port), exit 0 on a
// 200. A wildcard listen address (0.0.0.0, ::, empty host) is asked on loopback. Plain Node,
// no tsx: it runs every 30 s and must not cost a TypeScript compile.
const address = process.env.RAGOPS_HEALTH_ADDRESS ?? '';
if (!address) {
  console.log('RAGOPS_HEALTH_ADDRESS is empty: the worker serves no health endpoint to check');
  process.exit(0);
}
const colon = address.lastIndexOf(':');
const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
const port = address.slice(colon + 1);
const target = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
const url = `http://${target.includes(':') ? `[${target}]` : target}:${port}/healthz`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  console.log(`${url}: ${response.status} ${(await response.text()).trim()}`);
  process.exit(response.status === 200 ? 0 : 1);
} catch (error) {
  console.log(`${url}: ${error.cause?.code ?? error.cause?.errors?.[0]?.code ?? error.message}`);
  process.exit(1);
}
