import type { QdrantArtifact, VerificationCheck } from '../../config/manifest.js';
import { qdrantCall, type QdrantEndpoint, type QdrantSession } from './client.js';

export async function countPoints(session: QdrantSession, endpoint: QdrantEndpoint, collection: string): Promise<number> {
  const { count } = await qdrantCall(`counting points of "${collection}"`, endpoint, () => session.client.count(collection, { exact: true }));
  return count;
}

/** Each sampled point, queried with its own vector, must come back first (or tie for first). */
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
  for (const point of points) {
    const [using, vector] = Array.isArray(point.vector) ? [undefined, point.vector] : (Object.entries(point.vector ?? {})[0] ?? []);
    if (!Array.isArray(vector) || !vector.every((value) => typeof value === 'number')) continue;
    const result = await qdrantCall(`querying "${collection}"`, endpoint, () =>
      session.client.query(collection, { query: vector as number[], using, limit: 2, with_payload: false }),
    );
    const [first, second] = result.points;
    const tiedWithSelf = second?.id === point.id && first?.score === second?.score;
    if (first?.id !== point.id && !tiedWithSelf) misses.push(`point ${point.id} → ${first?.id ?? 'nothing'} first`);
  }
  return {
    passed: misses.length === 0,
    detail: misses.length === 0 ? `${points.length} sample point(s) each found first by their own vector` : misses.join('; '),
    checked: points.length,
  };
}

export function qdrantCheck(artifact: QdrantArtifact, name: string, passed: boolean, detail: string, figures: Record<string, unknown>, startedAt: number): VerificationCheck {
  return { name, component: 'qdrant', artifact: artifact.name, passed, detail, figures, durationMs: Date.now() - startedAt };
}
