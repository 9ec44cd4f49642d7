import { createReingestGoldenActivities } from './golden.js';
import { createReingestIngestActivities } from './ingest.js';

export { type IngestPagesInput, type IngestPagesResult, type IngestProgress } from './ingest.js';
export type { GoldenEvaluation } from './golden.js';

/** The steps of a re-ingestion that span the source, the embedder and Qdrant. */
export function createReingestActivities() {
  return { ...createReingestIngestActivities(), ...createReingestGoldenActivities() };
}
