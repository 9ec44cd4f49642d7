// The count comparison and the sample-query check on their own. The sample-query check gets a
// scripted client: the Qdrant stand-in has no sparse vectors and refuses multivectors, and these
// tests are about what the check does with points that carry them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { QdrantSession } from '../src/activities/qdrant/client.js';
import { comparePoints, samplePointsFindThemselves } from '../src/activities/qdrant/points.js';
import type { QdrantArtifact } from '../src/config/manifest.js';

const artifact = (counts: Partial<QdrantArtifact>): QdrantArtifact => ({
  component: 'qdrant', name: 'docs', key: 'k', size: 1, sha256: 'a'.repeat(64), durationMs: 1, vectors: null, snapshotName: 's', pointsCount: 10, ...counts,
});

describe('comparePoints', () => {
  test('equal counts before and after: compared exactly', () => {
    const equal = artifact({ pointsCount: 10, pointsCountBefore: 10, pointsCountAfter: 10 });
    assert.equal(comparePoints(equal, 10).passed, true);
    assert.match(comparePoints(equal, 10).detail, /compared exactly/);
    assert.equal(comparePoints(equal, 11).passed, false);
  });
  test('different counts: within the range, inclusive, and says so', () => {
    const moving = artifact({ pointsCount: 10, pointsCountBefore: 10, pointsCountAfter: 25 });
    for (const points of [10, 17, 25]) assert.equal(comparePoints(moving, points).passed, true, String(points));
    for (const points of [9, 26]) assert.equal(comparePoints(moving, points).passed, false, String(points));
    assert.match(comparePoints(moving, 17).detail, /manifest says 10–25 \(compared within a range/);
    // Deletes during the snapshot: after below before.
    assert.equal(comparePoints(artifact({ pointsCountBefore: 30, pointsCountAfter: 20 }), 25).passed, true);
  });
  test('an old manifest with only pointsCount is compared exactly', () => {
    assert.equal(comparePoints(artifact({ pointsCount: 7 }), 7).figures['comparison'], 'exact');
    assert.equal(comparePoints(artifact({ pointsCount: 7 }), 8).passed, false);
  });
});

describe('samplePointsFindThemselves', () => {
  function scripted(points: Array<{ id: number; vector: unknown }>) {
    const queries: Array<string | undefined> = [];
    const client = {
      scroll: async () => ({ points, next_page_offset: null }),
      query: async (_collection: string, request: { using?: string; query: number[] }) => {
        queries.push(request.using);
        const self = points.find((point) => JSON.stringify(request.using === undefined ? point.vector : (point.vector as Record<string, unknown>)[request.using]) === JSON.stringify(request.query));
        return { points: [{ id: self?.id ?? -1, score: 1 }] };
      },
    };
    return { session: { client, fetch: async () => new Response() } as unknown as QdrantSession, queries };
  }
  const endpoint = { url: 'http://qdrant.invalid' };

  test('named dense vectors are queried using their names; sparse and multi-vectors are named as skipped', async () => {
    const { session, queries } = scripted([
      { id: 1, vector: { text: [0.1, 0.2], keywords: { indices: [1, 5], values: [0.5, 0.2] }, colbert: [[0.1, 0.2], [0.3, 0.4]] } },
      { id: 2, vector: { text: [0.3, 0.1], keywords: { indices: [2], values: [1] }, colbert: [[0.5, 0.6]] } },
    ]);
    const result = await samplePointsFindThemselves(session, endpoint, 'docs', 2);
    assert.deepEqual(queries, ['text', 'text']);
    assert.equal(result.passed, true);
    assert.equal(result.checked, 2);
    assert.match(result.detail, /^2 sample queries over 2 point\(s\) each found its point first \(vector "text"\)/);
    assert.match(result.detail, /skipped, not queried: multi-vector vector "colbert" of 2 point\(s\), sparse vector "keywords" of 2 point\(s\)$/);
  });

  test('only sparse vectors: no query run, and the detail says so instead of "found first"', async () => {
    const { session, queries } = scripted([{ id: 1, vector: { keywords: { indices: [1], values: [1] } } }]);
    const result = await samplePointsFindThemselves(session, endpoint, 'docs', 5);
    assert.deepEqual(queries, []);
    assert.equal(result.checked, 0);
    assert.doesNotMatch(result.detail, /found/);
    assert.match(result.detail, /no sample query run: no dense vector to query with; skipped, not queried: sparse vector "keywords" of 1 point\(s\)/);
  });

  test('an unnamed vector is queried without a name', async () => {
    const { session, queries } = scripted([{ id: 3, vector: [0.1, 0.9] }]);
    const result = await samplePointsFindThemselves(session, endpoint, 'docs', 5);
    assert.deepEqual(queries, [undefined]);
    assert.match(result.detail, /^1 sample query over 1 point\(s\) each found its point first \(the unnamed vector\)$/);
  });
});
