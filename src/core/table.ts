// Plain-text tables and a readable rendering of any runbook report, for the CLI's summaries.
import { formatBytes } from './format.js';
import { formatElapsed } from './progress.js';

export interface Column {
  header: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

/** Columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function renderTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        return column.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join('\n');
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isScalar = (value: unknown) => value === null || ['string', 'number', 'boolean'].includes(typeof value);

/** A value as a cell: sizes as sizes, durations as durations, nested things as a count. */
export function formatValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (/bytes$|^size$/i.test(key)) return formatBytes(value);
    if (/Ms$/.test(key)) return value < 60_000 ? `${(value / 1000).toFixed(1)}s` : formatElapsed(value);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value.replace(/\s+/g, ' ').trim();
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.every(isScalar) ? value.join(', ') : `${value.length} item(s)`;
  if (isRecord(value)) {
    const entries = Object.entries(value);
    return entries.every(([, v]) => isScalar(v)) && entries.length <= 4
      ? entries.map(([k, v]) => `${k} ${formatValue(k, v)}`).join(', ')
      : `${entries.length} field(s)`;
  }
  return String(value);
}

/** Keys that are long identifiers nobody reads in a summary (the JSON has them). */
const HIDDEN = new Set(['sha256', 'key', 'evidenceKey', 'manifestKey', 'runTag']);

/**
 * Any report, readable: its scalar fields as `name: value` lines, then each list of objects as
 * a table (one column per scalar field), then each object as its own indented block.
 */
export function summarizeReport(report: unknown, indent = ''): string {
  if (!isRecord(report)) return `${indent}${formatValue('', report)}`;
  const lines: string[] = [];
  const blocks: string[] = [];
  const labelWidth = Math.max(0, ...Object.entries(report).filter(([, v]) => !isRecord(v) && !isListOfRecords(v)).map(([k]) => k.length));
  for (const [key, value] of Object.entries(report)) {
    if (value === undefined || HIDDEN.has(key)) continue;
    if (isListOfRecords(value)) {
      blocks.push(`${indent}${key}:`, indentLines(recordsTable(value), `${indent}  `));
    } else if (isRecord(value) && !Object.values(value).every(isScalar)) {
      blocks.push(`${indent}${key}:`, summarizeReport(value, `${indent}  `));
    } else {
      lines.push(`${indent}${`${key}:`.padEnd(labelWidth + 1)}  ${formatValue(key, value)}`);
    }
  }
  return [...lines, ...blocks].join('\n');
}

function isListOfRecords(value: unknown): value is Array<Record<string, unknown>> {
  return Array.isArray(value) && value.length > 0 ? value.every(isRecord) : false;
}

function recordsTable(records: Array<Record<string, unknown>>): string {
  const keys = [...new Set(records.flatMap((record) => Object.keys(record)))].filter((key) => !HIDDEN.has(key));
  const numeric = (key: string) => records.every((record) => record[key] === undefined || typeof record[key] === 'number');
  return renderTable(
    keys.map((key) => ({ header: key, align: numeric(key) ? 'right' : 'left' })),
    records.map((record) => keys.map((key) => formatValue(key, record[key]))),
  );
}

function indentLines(text: string, indent: string): string {
  return text
    .split('\n')
    .map((line) => `${indent}${line}`)
    .join('\n');
}
