// Plain-text tables and the number formats the benchmarks print.

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const seconds = (ms: number): string => (ms / 1000).toFixed(2);
export const megabytes = (bytes: number): string => (bytes / 1e6).toFixed(1);
export const megabytesPerSecond = (bytes: number, ms: number): string => (bytes / 1e6 / (ms / 1000)).toFixed(1);
export const ratio = (value: number, reference: number): string => (value / reference).toFixed(2);

/** Columns padded to their widest cell; the first `leftColumns` left-aligned (labels), the others right-aligned. */
export function formatTable(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column < leftColumns ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}
