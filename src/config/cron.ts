// Validates the five-field cron expressions Temporal Schedules accept, so a typo is caught
// before anything is created. Temporal also takes @every/@daily forms; those pass as-is.
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
] as const;

const MACROS = /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/;
const EVERY = /^@every\s+(\d+(ns|us|µs|ms|s|m|h))+$/;

function parseValue(text: string, field: (typeof FIELDS)[number]): number {
  const names: readonly string[] = 'names' in field ? field.names : [];
  const named = names.indexOf(text.toLowerCase());
  if (named >= 0) return named + (field.name === 'month' ? 1 : 0);
  if (!/^\d+$/.test(text)) throw new Error(`"${text}" is not a number`);
  const value = Number(text);
  if (value < field.min || value > field.max) throw new Error(`${value} is outside ${field.min}-${field.max}`);
  return value;
}

function checkField(text: string, field: (typeof FIELDS)[number]): void {
  for (const part of text.split(',')) {
    const [range, step, ...extra] = part.split('/');
    if (extra.length > 0 || range === undefined || range === '') throw new Error(`"${part}" is not a valid item`);
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) throw new Error(`step "${step}" must be a positive number`);
    if (range === '*' || range === '?') continue;
    const [from, to, ...more] = range.split('-');
    if (more.length > 0 || from === undefined) throw new Error(`"${range}" is not a valid range`);
    const low = parseValue(from, field);
    if (to !== undefined && parseValue(to, field) < low) throw new Error(`range "${range}" goes backwards`);
  }
}

/** Returns null when valid, or a message that names the bad field. */
export function cronProblem(expression: string): string | null {
  const trimmed = expression.trim();
  if (MACROS.test(trimmed) || EVERY.test(trimmed)) return null;
  const parts = trimmed.split(/\s+/);
  if (parts.length !== 5) {
    return `cron "${expression}" has ${parts.length} field(s); expected 5 (minute hour day-of-month month day-of-week)`;
  }
  for (const [index, field] of FIELDS.entries()) {
    try {
      checkField(parts[index]!, field);
    } catch (error) {
      return `cron "${expression}": ${field.name} field: ${(error as Error).message}`;
    }
  }
  return null;
}
