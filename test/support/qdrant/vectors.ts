import type { Schemas } from '@qdrant/js-client-rest';

export type Distance = Schemas['Distance'];
export const DISTANCES: readonly Distance[] = ['Cosine', 'Euclid', 'Dot', 'Manhattan'];

// Qdrant stores and scores in f32; rounding here keeps returned vectors and scores f32-exact.
const f32 = Math.fround;

/** The form Qdrant stores: f32 values, and unit length for Cosine (zero vectors stay as they are). */
export function toStoredVector(distance: Distance, vector: readonly number[]): number[] {
  if (distance !== 'Cosine') return vector.map(f32);
  const length = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  if (length < 1.1920929e-7) return vector.map(f32);
  return vector.map((x) => f32(x / length));
}

/** Score of a stored vector against a query vector that went through toStoredVector. */
export function score(distance: Distance, stored: readonly number[], query: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < stored.length; i++) {
    const a = stored[i] ?? 0;
    const b = query[i] ?? 0;
    if (distance === 'Euclid') total += (a - b) * (a - b);
    else if (distance === 'Manhattan') total += Math.abs(a - b);
    else total += a * b;
  }
  return f32(distance === 'Euclid' ? Math.sqrt(total) : total);
}

/** Cosine and Dot are similarities (higher first); Euclid and Manhattan are distances (lower first). */
export function higherIsBetter(distance: Distance): boolean {
  return distance === 'Cosine' || distance === 'Dot';
}

export function compareScores(distance: Distance): (a: number, b: number) => number {
  return higherIsBetter(distance) ? (a, b) => b - a : (a, b) => a - b;
}

/** `score_threshold` keeps scores at least as good as the threshold. */
export function meetsThreshold(distance: Distance, value: number, threshold: number | undefined): boolean {
  if (threshold === undefined) return true;
  return higherIsBetter(distance) ? value >= threshold : value <= threshold;
}
