/** Durations as operators write them in the stacks file and in signals: "90s", "30m", "2h", "1d". */
export const DURATION = /^(\d+)(ms|s|m|h|d)$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new Error(`"${text}" is not a duration like 90s, 30m, 2h or 1d`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}
