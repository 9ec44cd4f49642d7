// The validation step's retrieval check: each golden query embedded by the run's embedder and
// searched in the new collection and in the live one, so the gate (core/reingest judgeGate)
// can score recall@k against the expected source keys and overlap@k with what users get today.
import { ApplicationFailure } from '@temporalio/activity';
import type { ReingestPlan } from '../../config/plan.js';
import { pointIdOf, type GoldenResult } from '../../core/reingest.js';
import { embedTexts } from '../embedders/index.js';
import { openQdrant } from '../qdrant/client.js';
import { searchTopK } from '../qdrant/reingest.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';

export interface GoldenEvaluation {
  results: GoldenResult[];
  /** Why the live collection gave no results to compare with (another vector size, say); absent when it did. */
  liveUnavailable?: string;
}

export function createReingestGoldenActivities() {
  return {
    async evaluateGoldenSet(input: { plan: ReingestPlan; collection: string; live: string; vectorName?: string; liveVectorName?: string }): Promise<GoldenEvaluation> {
      const { plan, collection, live } = input;
      const beat = new ProgressHeartbeat(`golden queries against ${collection}`);
      const work = async (): Promise<GoldenEvaluation> => {
        if (plan.golden.length === 0) return { results: [] };
        const embedded = await embedTexts({ embedder: plan.embedder, texts: plan.golden.map((g) => g.query), keys: plan.golden.map((_, i) => `golden[${i}]`), keyName: 'query', signal: beat.signal });
        if (!embedded.modelMatches) {
          throw ApplicationFailure.nonRetryable(`embedder "${plan.options.embedder}" answered with model "${embedded.model}", not "${embedded.configuredModel}"`, 'EmbedderModelMismatch');
        }
        const qdrant = await openQdrant(plan.qdrant);
        const k = plan.gate.k;
        let liveUnavailable: string | undefined;
        const results: GoldenResult[] = [];
        for (const [index, golden] of plan.golden.entries()) {
          const vector = embedded.vectors[index]!;
          const found = await searchTopK(qdrant, plan.qdrant, { collection, vector, ...(input.vectorName ? { vectorName: input.vectorName } : {}), limit: k });
          let liveIds: GoldenResult['live'];
          if (liveUnavailable === undefined) {
            try {
              liveIds = (await searchTopK(qdrant, plan.qdrant, { collection: live, vector, ...(input.liveVectorName ? { vectorName: input.liveVectorName } : {}), limit: k })).map((hit) => hit.id);
            } catch (error) {
              // A non-retryable answer (another vector size or model): nothing to compare with, said so.
              if (!(error instanceof ApplicationFailure) || !error.nonRetryable) throw error;
              liveUnavailable = error.message;
            }
          }
          results.push({ query: golden.query, expected: golden.expect.map(pointIdOf), results: found.map((hit) => hit.id), ...(liveIds ? { live: liveIds } : {}) });
          beat.beat({ queries: index + 1 });
        }
        return { results, ...(liveUnavailable ? { liveUnavailable } : {}) };
      };
      return beat.during(work());
    },
  };
}
