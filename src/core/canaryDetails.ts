// What an operator reads about a running canary — in the Web UI's current details and in
// `ragops canary status`: the step list with the active one, the weight, why it is paused,
// and the last measurements as a table. Pure, so the workflow and the CLI print the same.
import type { CanaryStep } from '../config/stacks/canary.js';
import type { MeasurementLike } from './canary.js';
import { CANARY_STEP_CELL } from './webUi.js';

export interface CanaryView {
  steps: CanaryStep[];
  stepIndex: number;
  roundInStep: number;
  weight: number;
  paused: { reason: string; since: string } | null;
  measurements: MeasurementLike[];
  measurementCount: number;
  outcome: string;
  reason?: string;
}

/** "set weight 25 %", "pause 30m", "pause until resume (timeout 2h)", "analysis error-rate every 1m × 5". */
export function describeCanaryStep(step: CanaryStep): string {
  if ('setWeight' in step) return `set weight ${step.setWeight} %`;
  if ('pause' in step) {
    const { duration, timeout } = step.pause;
    return duration ? `pause ${duration}` : `pause until resume${timeout ? ` (timeout ${timeout})` : ''}`;
  }
  const { metrics, interval, count } = step.analysis;
  return `analysis ${metrics.join(', ')} every ${interval} × ${count}`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');

/** The Markdown block: state line, steps (`▶ active` the active one), and the newest measurements first. */
export function canaryDetailsMarkdown(view: CanaryView, measurementsShown = 8): string {
  const state = view.paused
    ? `⏸ paused since ${view.paused.since}: ${view.paused.reason}`
    : view.outcome === 'running'
      ? 'running'
      : `${view.outcome}${view.reason ? `: ${view.reason}` : ''}`;
  const stepRows = view.steps.map((step, index) => {
    const mark = index < view.stepIndex ? CANARY_STEP_CELL.done : index === view.stepIndex && view.outcome === 'running' ? CANARY_STEP_CELL.active : CANARY_STEP_CELL.pending;
    const rounds = index === view.stepIndex && 'analysis' in step ? ` (round ${view.roundInStep + 1}/${step.analysis.count})` : '';
    return `| ${mark} | ${index + 1} | ${cell(describeCanaryStep(step))}${rounds} |`;
  });
  const recent = view.measurements.slice(-measurementsShown).reverse();
  const measurementRows = recent.map((m) => `| ${m.at} | ${cell(m.metric)} | ${m.value ?? 'n/a'} | ${m.outcome} | ${cell(m.detail)} |`);
  return [
    `**weight ${view.weight} %** · ${cell(state)}`,
    '',
    '| | # | canary step |',
    '|---|---|---|',
    ...stepRows,
    '',
    recent.length === 0
      ? '_no measurements yet_'
      : [`**measurements** (newest first, ${recent.length} of ${view.measurementCount})`, '', '| at | metric | value | outcome | detail |', '|---|---|---|---|---|', ...measurementRows].join('\n'),
  ].join('\n');
}
