#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's own test runner (tsx for TypeScript).
// Node 20's --test does not glob .ts files, so the list is built here.
//
// The files run in two lanes at once, each one file at a time: `data` (PostgreSQL drills,
// backups, the janitor — tests that count or sweep the shared server's scratch databases and
// must not see another lane's) and `apps` (deploys, canaries, proxies, metrics, Kubernetes,
// embedders: containers and loopback servers of their own). Each line of output is prefixed
// with its lane; the totals of both are printed at the end. RAGOPS_TEST_LANES=1 runs one lane.
// Each lane picks the ports of the servers its tests start from a range of its own.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

function findTests(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'support' ? [] : findTests(path);
    return entry.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * Files that touch nothing of the shared PostgreSQL's scratch databases (prune-scale: a stack
 * without databases, so its janitor sweeps nothing; metrics-exporter and dev back up, and drill
 * at checksum depth only). The point-in-time files run their own clusters; they share this lane
 * because only stacks with physical targets sweep the temp dir's ragops-pitr-* drills, and
 * those are all here (dr-pitr too), one file at a time. The rest is placed to balance the
 * lanes' times (deploy-workflow, http-checks and web-ui, which touch no database, run in data).
 */
const APPS = /^test\/(canary|deploy(?!-workflow)|traffic|metrics|k8s|compose|embedders|docker-support|redaction|config|architecture|commands|reingest-core|reingest-qdrant|reingest-workflow|reingest-timeskip|reingest-crash|qdrant-standin|qdrant-points|search-attributes|harness|prune-scale|pitr|pgbackrest|janitor-pitr|dr-pitr|dr-timeskip|dr-core|dr-stack-support|worker-image|kustomize|pg-binaries|web-ui-details|dev\.|progress-core)/;

const filters = process.argv.slice(2);
const files = findTests('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const oneLane = process.env.RAGOPS_TEST_LANES === '1';
const lanes = oneLane
  ? [{ name: 'all', files }]
  : [
      { name: 'data', files: files.filter((file) => !APPS.test(file)), ports: '20000-24999' },
      { name: 'apps', files: files.filter((file) => APPS.test(file)), ports: '25000-29999' },
    ].filter((lane) => lane.files.length > 0);

const SUMMARY = /^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)/;
// The spec reporter ends with "✖ failing tests:", then per failure "test at <file:line:col>",
// "✖ <name> (<duration>)" and the error. CI keeps only the output's tail, so the runner repeats
// each failure's place, name and first error line as the very last lines.
const FAILING_SECTION = /^✖ failing tests:/;
const FAILING_AT = /^test at (\S+)/;
const FAILING_NAME = /^✖ (.*?)(?: \([\d.]+m?s\))?$/;

function runLane({ name, files: laneFiles, ports }) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...laneFiles], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Servers a lane's tests start take ports from its own range (findFreePort), never the other lane's.
      env: ports ? { ...process.env, RAGOPS_PORT_RANGE: ports } : process.env,
    });
    const totals = {};
    const failures = [];
    let inFailingSection = false;
    const prefix = lanes.length > 1 ? `[${name}] ` : '';
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        const summary = SUMMARY.exec(line);
        if (summary) totals[summary[1]] = Number(summary[2]);
        if (FAILING_SECTION.test(line)) inFailingSection = true;
        else if (inFailingSection) noteFailure(failures, line);
        (stream === child.stdout ? process.stdout : process.stderr).write(`${prefix}${line}\n`);
      });
    }
    child.on('close', (code, signal) => resolve({ name, code: code ?? (signal ? 1 : 0), totals, failures }));
  });
}

function noteFailure(failures, line) {
  const at = FAILING_AT.exec(line);
  if (at) return failures.push({ at: at[1], name: '', error: '' });
  const last = failures.at(-1);
  if (!last) return;
  const name = FAILING_NAME.exec(line);
  if (!last.name && name) last.name = name[1];
  else if (last.name && !last.error && line.trim()) last.error = line.trim().slice(0, 300);
}

const results = await Promise.all(lanes.map(runLane));
if (lanes.length > 1) {
  const sum = (key) => results.reduce((total, result) => total + (result.totals[key] ?? 0), 0);
  console.log('');
  for (const result of results) console.log(`lane ${result.name}: ${result.totals.tests ?? 0} tests, ${result.totals.pass ?? 0} pass, ${result.totals.fail ?? 0} fail, ${((result.totals.duration_ms ?? 0) / 1000).toFixed(0)} s, exit ${result.code}`);
  console.log(`all lanes: tests ${sum('tests')}, pass ${sum('pass')}, fail ${sum('fail')}, cancelled ${sum('cancelled')}, skipped ${sum('skipped')}`);
}
for (const result of results) {
  for (const failure of result.failures) console.log(`failed [${result.name}] ${failure.at} › ${failure.name} — ${failure.error}`);
}
const failed = results.some((result) => result.code !== 0);
// A run that executed no test is a failure, whatever the runner's exit code says.
const executed = results.reduce((total, result) => total + (result.totals.tests ?? 0), 0);
if (executed === 0) console.error('no test was executed');
process.exit(failed || executed === 0 ? 1 : 0);
