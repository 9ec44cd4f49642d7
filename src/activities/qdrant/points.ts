import type { QdrantArtifact, VerificationCheck } from '../../config/manifest.js';
import { qdrantCall, type QdrantEndpoint, type QdrantSession } from './client.js';

export async function countPoints(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<number> {
  const { count } = await qdrantCall(`counting points of "${collection}"`, endpoint, () => session.client.count(collection, { exact: true }));
  return count;
}

/** The points a recovered snapshot must hold: exact when the counts around it were equal, else a range. */
export function expectedPoints(artifact: QdrantArtifact): { min: number; max: number; exact: boolean } {
  const min = artifact.pointsCountBefore ?? artifact.pointsCount;
  const max = artifact.pointsCountAfter ?? min;
  return { min: Math.min(min, max), max: Math.max(min, max), exact: min === max };
}

/** Whether `points` fits the manifest, and a detail that says whether it was compared exactly or within a range. */
export function comparePoints(artifact: QdrantArtifact, points: number): { passed: boolean; detail: string; figures: Record<string, unknown> } {
  const { min, max, exact } = expectedPoints(artifact);
  if (exact) {
    return { passed: points === min, detail: `${points} points restored, manifest says ${min} (compared exactly)`, figures: { points, expected: min, comparison: 'exact' } };
  }
  return {
    passed: points >= min && points <= max,
    detail: `${points} points restored, manifest says ${min}–${max} (compared within a range: points were written while the snapshot was taken)`,
    figures: { points, expectedMin: min, expectedMax: max, comparison: 'range' },
  };
}

type VectorKind = 'dense' | 'sparse' | 'multi-vector' | 'unknown';

function kindOf(vector: unknown): VectorKind {
  if (Array.isArray(vector)) {
    if (vector.every((value) => typeof value === 'number')) return 'dense';
    if (vector.every((row) => Array.isArray(row))) return 'multi-vector';
    return 'unknown';
  }
  if (vector && typeof vector === 'object' && 'indices' in vector && 'values' in vector) return 'sparse';
  return 'unknown';
}

/** A point's vectors by name; the unnamed vector of a single-vector collection has no name. */
function vectorsOf(vector: unknown): Array<[string | undefined, unknown]> {
  if (Array.isArray(vector)) return [[undefined, vector]];
  if (vector && typeof vector === 'object') return Object.entries(vector).sort(([a], [b]) => a.localeCompare(b));
  return [];
}

const label = (name: string | undefined) => (name === undefined ? 'the unnamed vector' : `vector "${name}"`);

/**
 * Each sampled point, queried with each of its dense vectors (`using` its name), must come
 * back first (or tie for first). Sparse and multi-vectors are not queried; the detail says so.
 */
export async function samplePointsFindThemselves(
  session: QdrantSession,
  endpoint: QdrantEndpoint,
  collection: string,
  samples: number,
): Promise<{ passed: boolean; detail: string; checked: number }> {
  if (samples === 0) return { passed: true, detail: 'no sample points requested', checked: 0 };
  const { points } = await qdrantCall(`reading sample points of "${collection}"`, endpoint, () =>
    session.client.scroll(collection, { limit: samples, with_vector: true, with_payload: false }),
  );
  const misses: string[] = [];
  const queried = new Set<string>();
  const skipped = new Map<string, number>();
  let checked = 0;
  for (const point of points) {
    for (const [using, vector] of vectorsOf(point.vector)) {
      const kind = kindOf(vector);
      if (kind !== 'dense') {
        const what = `${kind} ${label(using)}`;
        skipped.set(what, (skipped.get(what) ?? 0) + 1);
        continue;
      }
      const result = await qdrantCall(`querying "${collection}"${using === undefined ? '' : ` using "${using}"`}`, endpoint, () =>
        session.client.query(collection, { query: vector as number[], using, limit: 2, with_payload: false }),
      );
      checked += 1;
      queried.add(label(using));
      const [first, second] = result.points;
      const tiedWithSelf = second?.id === point.id && first?.score === second?.score;
      if (first?.id !== point.id && !tiedWithSelf) misses.push(`point ${point.id} by ${label(using)} → ${first?.id ?? 'nothing'} first`);
    }
  }
  const skippedText = [...skipped].map(([what, count]) => `${what} of ${count} point(s)`).join(', ');
  const found =
    checked === 0
      ? `no sample query run: ${points.length === 0 ? 'the collection has no points' : 'no dense vector to query with'}`
      : `${checked} sample quer${checked === 1 ? 'y' : 'ies'} over ${points.length} point(s) each found its point first (${[...queried].join(', ')})`;
  return {
    passed: misses.length === 0,
    detail: [misses.length === 0 ? found : misses.join('; '), ...(skippedText ? [`skipped, not queried: ${skippedText}`] : [])].join('; '),
    checked,
  };
}

export function qdrantCheck(artifact: QdrantArtifact, name: string, passed: boolean, detail: string, figures: Record<string, unknown>, startedAt: number): VerificationCheck {
  return { name, component: 'qdrant', artifact: artifact.name, passed, detail, figures, durationMs: Date.now() - startedAt };
}
