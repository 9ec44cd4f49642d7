// The canary's decisions as pure functions: what a round of measurements means, and which
// setWeight requests the update's validator refuses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyCounters, judgeRound, setWeightRefusal, type MeasurementLike } from '../src/core/canary.js';
import { canaryDetailsMarkdown, describeCanaryStep } from '../src/core/canaryDetails.js';
import { durationMs } from '../src/core/duration.js';

const at = '2026-12-06T00:00:00Z';
const measured = (metric: string, outcome: MeasurementLike['outcome'], value: number | null = 0.1): MeasurementLike => ({ metric, value, outcome, detail: `${metric} ${outcome}`, at });

test('a failure past its limit rolls back; within the limit it is counted', () => {
  const limits = [{ name: 'errors', failureLimit: 1 }];
  const first = judgeRound([measured('errors', 'failed')], emptyCounters(), limits);
  assert.deepEqual(first.verdict, { action: 'continue' });
  assert.equal(first.counters.failures.errors, 1);
  const second = judgeRound([measured('errors', 'failed', 0.2)], first.counters, limits);
  assert.equal(second.verdict.action, 'rollback');
  assert.match(second.verdict.action === 'rollback' ? second.verdict.reason : '', /errors = 0\.2: errors failed \(2 failure\(s\), limit 1\)/);
});

test('inconclusive in a row pauses, never promotes; a conclusive measurement resets the run of them', () => {
  const limits = [{ name: 'errors', inconclusiveLimit: 2 }];
  let state = judgeRound([measured('errors', 'inconclusive', null)], emptyCounters(), limits);
  assert.deepEqual(state.verdict, { action: 'continue' });
  state = judgeRound([measured('errors', 'passed')], state.counters, limits);
  assert.equal(state.counters.inconclusiveInARow.errors, 0);
  state = judgeRound([measured('errors', 'inconclusive', null)], state.counters, limits);
  state = judgeRound([measured('errors', 'inconclusive', null)], state.counters, limits);
  assert.equal(state.verdict.action, 'pause');
  assert.match(state.verdict.action === 'pause' ? state.verdict.reason : '', /inconclusive, not enough data/);
});

test('a rollback outranks a pause in the same round', () => {
  const verdict = judgeRound([measured('latency', 'inconclusive', null), measured('errors', 'failed')], emptyCounters(), [{ name: 'latency', inconclusiveLimit: 1 }, { name: 'errors' }]).verdict;
  assert.equal(verdict.action, 'rollback');
});

test('setWeight: outside 0–100, above maxWeight, aborted, finished, or raised after a failed analysis without force is refused, saying why', () => {
  const running = { finished: false, aborted: false, lastAnalysisFailed: false, weight: 10 };
  assert.match(setWeightRefusal(running, { weight: 150 }, 50) ?? '', /150 is not a whole number from 0 to 100/);
  assert.match(setWeightRefusal(running, { weight: 80 }, 50) ?? '', /80 is above this canary's maxWeight 50/);
  assert.match(setWeightRefusal({ ...running, aborted: true }, { weight: 20 }, 50) ?? '', /aborted/);
  assert.match(setWeightRefusal({ ...running, finished: true }, { weight: 20 }, 50) ?? '', /finished/);
  assert.match(setWeightRefusal({ ...running, lastAnalysisFailed: true }, { weight: 20 }, 50) ?? '', /needs force: true/);
  assert.equal(setWeightRefusal({ ...running, lastAnalysisFailed: true }, { weight: 20, force: true }, 50), undefined);
  assert.equal(setWeightRefusal({ ...running, lastAnalysisFailed: true }, { weight: 5 }, 50), undefined, 'lowering is always allowed');
});

test('durations as operators write them', () => {
  assert.equal(durationMs('90s'), 90_000);
  assert.equal(durationMs('30m'), 1_800_000);
  assert.equal(durationMs('2h'), 7_200_000);
  assert.throws(() => durationMs('30 minutes'), /not a duration like 90s/);
});

test('the details an operator reads: steps with the active one and its round, weight, pause reason, newest measurements first, pipes escaped', () => {
  const steps = [{ setWeight: 10 }, { analysis: { metrics: ['errors'], interval: '1m', count: 5 } }, { pause: { timeout: '2h' } }, { pause: { duration: '30m' } }];
  assert.deepEqual(steps.map(describeCanaryStep), ['set weight 10 %', 'analysis errors every 1m × 5', 'pause until resume (timeout 2h)', 'pause 30m']);
  const measurements = [measured('errors', 'passed', 0.01), { ...measured('errors', 'inconclusive', null), detail: 'no series | empty' }];
  const view = { steps, stepIndex: 1, roundInStep: 2, weight: 10, paused: { reason: 'inconclusive, not enough data', since: at }, measurements, measurementCount: 7, outcome: 'running' };
  const text = canaryDetailsMarkdown(view);
  assert.match(text, /^\*\*weight 10 %\*\* · ⏸ paused since 2026-12-06T00:00:00Z: inconclusive, not enough data$/m);
  assert.match(text, /^\| ✅ done \| 1 \| set weight 10 % \|$/m);
  assert.match(text, /^\| ▶ active \| 2 \| analysis errors every 1m × 5 \(round 3\/5\) \|$/m);
  assert.match(text, /^\|  \| 3 \| pause until resume \(timeout 2h\) \|$/m);
  assert.match(text, /newest first, 2 of 7/);
  const rows = text.split('\n').filter((line) => line.startsWith(`| ${at}`));
  assert.deepEqual(rows, [`| ${at} | errors | n/a | inconclusive | no series \\| empty |`, `| ${at} | errors | 0.01 | passed | errors passed |`]);
  const done = canaryDetailsMarkdown({ ...view, paused: null, stepIndex: 4, outcome: 'rolled back', reason: 'analysis failed: errors = 0.2', measurements: [] });
  assert.match(done, /^\*\*weight 10 %\*\* · rolled back: analysis failed: errors = 0\.2$/m);
  assert.ok(!done.includes('▶'), 'no active step once finished');
  assert.match(done, /_no measurements yet_/);
});
