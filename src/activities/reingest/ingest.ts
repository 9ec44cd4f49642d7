// The ingest step of a re-ingestion: source pages → embeddings → points in the run's new
// collection. Each page is read, embedded in batches (at most `concurrency` requests in
// flight) and upserted with wait=true before its checkpoint is heartbeated, so a retried or
// resumed attempt starts after the last page that is really in Qdrant, and point ids derived
// from the source keys make a page written twice land on the same points.
import { ApplicationFailure } from '@temporalio/activity';
import type { ReingestPlan } from '../../config/plan.js';
import { formatEta, pointIdOf, progressOf } from '../../core/reingest.js';
import { embedTexts, type EmbedTextsResult } from '../embedders/index.js';
import { openQdrant } from '../qdrant/client.js';
import { upsertBatch, type ReingestPoint } from '../qdrant/reingest.js';
import { connectionFor, openSession } from '../postgres/session.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { runPagePipeline, Slots } from './pagePipeline.js';
import { openReingestSource, prefetchedPages, type SourceCheckpoint, type SourcePageResult, type SourceRow } from '../sources/index.js';
import { openPostgresSource } from '../sources/postgres.js';

/** Where an ingestion stands; carried by the workflow from call to call (and across continue-as-new). */
export interface IngestProgress {
  /** After the last page that is in Qdrant; undefined before the first. */
  checkpoint: SourceCheckpoint | undefined;
  rows: number;
  pages: number;
  embedRequests: number;
  embedRetries: number;
  /** Embedding time summed over batches, ms: with `rows`, the embedder's own rate. */
  embedMs: number;
}

export interface IngestPagesInput {
  plan: ReingestPlan;
  collection: string;
  vectorName?: string;
  from: IngestProgress;
  /** Pages read by this call at most; the workflow records the checkpoint between calls. */
  maxPages: number;
  /** For rate and ETA in the heartbeats: when the ingestion began (ms) and the source's rows. */
  startedAtMs: number;
  totalRows?: number;
  /**
   * The catch-up pass: only rows whose `updatedAt` is after this time (the source database's
   * clock), keyset-paged from the checkpoint like the main pass. PostgreSQL sources only.
   */
  catchUpSince?: string;
}

export interface IngestPagesResult extends IngestProgress {
  done: boolean;
}

const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** The point of a row: its id from the key; its payload the declared fields, the key and the text. */
export function pointOf(row: SourceRow, vector: number[], plan: Pick<ReingestPlan, 'source'>): ReingestPoint {
  return { id: pointIdOf(row.key), vector, payload: { ...row.payload, [plan.source.key]: row.key, [plan.source.text]: row.text } };
}

interface PageReader {
  page(from: SourceCheckpoint | undefined, limit: number): Promise<SourcePageResult>;
  close(): Promise<void>;
}

/** The rows changed since `since`, as pages with the same checkpoints as the main pass. */
async function openCatchUp(plan: ReingestPlan, since: string): Promise<PageReader> {
  const { source } = plan;
  if (source.kind !== 'postgres' || !source.updatedAt || !plan.connections.postgres) {
    throw ApplicationFailure.nonRetryable(`source "${plan.options.source}" has no updatedAt column in PostgreSQL: no catch-up pass`, 'InvalidInput');
  }
  const reader = await openPostgresSource(plan.connections.postgres, source, plan.options.source);
  return {
    async page(from, limit) {
      const page = await reader.catchUpPage(since, from?.kind === 'postgres' ? from.lastKey : undefined, limit);
      return { rows: page.rows, checkpoint: page.lastKey === undefined ? from : { kind: 'postgres', lastKey: page.lastKey }, done: page.done };
    },
    close: () => reader.close(),
  };
}

function refuseOtherModel(plan: ReingestPlan, result: EmbedTextsResult): void {
  if (result.modelMatches) return;
  throw ApplicationFailure.nonRetryable(
    `embedder "${plan.options.embedder}" answered with model "${result.model}", not the configured "${result.configuredModel}": vectors of another model are not written into the new collection`,
    'EmbedderModelMismatch',
  );
}

export function createReingestIngestActivities() {
  return {
    /** The source database's clock when the source declares `updatedAt` (the catch-up pass starts from it); else undefined. */
    async reingestSourceClock({ plan }: { plan: ReingestPlan }): Promise<string | null> {
      return (await sourceClock(plan)) ?? null;
    },

    /**
     * Up to `maxPages` pages from the checkpoint: embedded, upserted, checkpointed. Resumes from
     * the last heartbeat of an earlier attempt when it is ahead of `from`.
     */
    async ingestReingestPages(input: IngestPagesInput): Promise<IngestPagesResult> {
      const { plan, collection, vectorName } = input;
      const beat = new ProgressHeartbeat(`${input.catchUpSince ? 'catch up' : 'ingest'} into ${collection}`);
      const earlier = beat.previousDetails<{ progress?: IngestProgress }>()?.progress;
      let progress: IngestProgress = earlier && earlier.pages > input.from.pages ? earlier : input.from;
      const qdrant = await openQdrant(plan.qdrant);
      const reader: PageReader = input.catchUpSince ? await openCatchUp(plan, input.catchUpSince) : await openReingestSource(plan.options.source, plan.source, plan.connections);
      const doing = input.catchUpSince ? `catching up on rows changed since ${input.catchUpSince}` : 'ingesting';
      const show = () => {
        const rate = progressOf(progress.rows, Date.now() - input.startedAtMs, input.totalRows);
        const last = progress.checkpoint?.kind === 'postgres' ? ` after key ${progress.checkpoint.lastKey}` : '';
        beat.phase(
          `${doing}: ${progress.rows}${input.totalRows === undefined ? '' : ` of ${input.totalRows}`} rows${rate.percent === undefined ? '' : ` (${rate.percent} %)`}, ${rate.rowsPerSecond} rows/s, ETA ${formatEta(rate.etaSeconds)}${last}`,
        );
        beat.beat({ progress, totalRows: input.totalRows, rowsPerSecond: rate.rowsPerSecond, etaSeconds: rate.etaSeconds }, true);
      };
      const slots = new Slots(plan.options.concurrency);
      interface PageWritten { requests: number; retries: number; embedMs: number }
      /** Embeds a batch in one of the `concurrency` slots, then writes it outside the slot. */
      const writeBatch = async (rows: SourceRow[], signal: AbortSignal): Promise<PageWritten> => {
        let embedStartedAt = 0;
        const embedded = await slots.run(async () => {
          signal.throwIfAborted();
          embedStartedAt = Date.now();
          return embedTexts({
            embedder: plan.embedder,
            texts: rows.map((row) => row.text),
            keys: rows.map((row) => row.key),
            keyName: plan.source.key,
            signal,
            onRetry: (event) => beat.phase(`embedder answered ${event.status ?? 'nothing'} (${event.reason.slice(0, 80)}): retry ${event.retry} in ${Math.round(event.delayMs / 100) / 10} s`),
          });
        });
        const embedMs = Date.now() - embedStartedAt;
        refuseOtherModel(plan, embedded);
        await upsertBatch(qdrant, plan.qdrant, { collection, ...(vectorName ? { vectorName } : {}), points: rows.map((row, i) => pointOf(row, embedded.vectors[i]!, plan)) });
        return { requests: embedded.requests, retries: embedded.retries, embedMs };
      };
      const work = async (): Promise<IngestPagesResult> => {
        let done = false;
        await runPagePipeline<SourcePageResult, PageWritten>({
          // The source reads the next page while this one is embedded.
          pages: prefetchedPages(reader, progress.checkpoint, plan.options.pageSize),
          signal: beat.signal,
          start: async (page, signal) => {
            const batches = await Promise.all(chunks(page.rows, plan.options.batchSize).map((rows) => writeBatch(rows, signal)));
            return batches.reduce((sum, b) => ({ requests: sum.requests + b.requests, retries: sum.retries + b.retries, embedMs: sum.embedMs + b.embedMs }), { requests: 0, retries: 0, embedMs: 0 });
          },
          isLast: (page, pagesStarted) => page.done || pagesStarted >= input.maxPages,
          commit: (page, written) => {
            progress = {
              checkpoint: page.checkpoint,
              rows: progress.rows + page.rows.length,
              pages: progress.pages + 1,
              embedRequests: progress.embedRequests + written.requests,
              embedRetries: progress.embedRetries + written.retries,
              embedMs: progress.embedMs + written.embedMs,
            };
            done = page.done;
            show();
          },
        });
        return { ...progress, done };
      };
      try {
        return await beat.during(work(), { progress });
      } finally {
        await reader.close();
      }
    },
  };
}

/**
 * The source database's clock, read before the first page: rows updated after it (less the
 * margin, for writers whose transaction began earlier) are re-read by the catch-up pass.
 */
export async function sourceClock(plan: ReingestPlan): Promise<string | undefined> {
  if (plan.source.kind !== 'postgres' || !plan.source.updatedAt || !plan.connections.postgres) return undefined;
  const client = await openSession(await connectionFor(plan.connections.postgres), 'ragops-reingest-clock');
  try {
    const { rows } = await client.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    return rows[0]!.now.toISOString();
  } finally {
    await client.end().catch(() => undefined);
  }
}
